"""The language server refreshes a plan's views at most every BUSY_REFRESH_S while an operation
runs on it, and at once when the operation ends (#32): every refresh renders that version of the
plan and has the editor fetch the document, its lenses and diagnostics again, and a step saves
its plan four times in a fraction of a second."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from planfirst.core.workflow.session import Session
from planfirst.lsp import server as server_mod
from planfirst.lsp.server import PlanfirstServer
from planfirst.settings import Settings
from tests.support.fake_host import FakeHost


async def test_refreshes_while_an_operation_runs_are_throttled_and_the_last_one_follows_its_end(
    tmp_path: Path,
) -> None:
    server = PlanfirstServer()
    server.session = Session(tmp_path, Settings(), None, FakeHost(tmp_path))  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    refreshed: list[tuple[float, bool]] = []  # (when, busy then)
    server.publish_plan = lambda pid: refreshed.append(
        (loop.time(), pid in server.session.busy())  # type: ignore[union-attr]
    )
    changes = 12
    async with server.session.exclusive("p-1", "executing a step"):
        for _ in range(changes):  # a change every 60 ms for 0.72 s: 12 refreshes before
            server.plan_changed("p-1")
            await asyncio.sleep(0.06)
        ended = loop.time()
    await asyncio.sleep(server_mod.REFRESH_S * 4)
    busy = [t for t, b in refreshed if b]
    assert len(busy) <= 0.72 / server_mod.BUSY_REFRESH_S + 1, refreshed
    assert all(b - a >= server_mod.BUSY_REFRESH_S * 0.9 for a, b in itertools.pairwise(busy))
    # the state the operation ended with is shown once it ends, not a throttle period later
    last, was_busy = refreshed[-1]
    assert not was_busy and last - ended < server_mod.BUSY_REFRESH_S
    before = len(refreshed)
    server.plan_changed("p-1")  # not busy: refreshed after REFRESH_S as before
    await asyncio.sleep(server_mod.REFRESH_S * 3)
    assert len(refreshed) == before + 1
