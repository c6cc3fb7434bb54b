"""Two language servers on one workspace (two editor windows, or an editor and `planfirst run`):
what one of them says about a plan the other one runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import DEMO, Invariants, serve
from tests.reliability.test_step_edge_cases import approved
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until


async def test_cancel_in_the_other_window_says_where_the_step_runs(
    ws: Path, inv: Invariants
) -> None:
    """Window A runs step 1 (its preview open). Cancel in window B answered
    `{"cancelled": []}`: nothing happened and nothing said why. It is refused, naming where the
    plan runs; A's step then finishes normally."""
    srv = inv.scripted_server(DEMO[0:7])
    async with serve(inv, ws, srv, profile="vscode") as (a, editor_a, _la):
        pid = await approved(a)
        editor_a.hold = asyncio.Event()
        step1 = asyncio.ensure_future(command(a, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(editor_a.edits) >= 1, 60, "step 1's preview in window A")
        async with serve(inv, ws, srv, profile="vscode") as (b, _editor_b, _lb):
            with pytest.raises(JsonRpcException, match="another planfirst"):
                await command(b, "planfirst.cancel", {"planId": pid})
        editor_a.hold.set()
        res = await asyncio.wait_for(step1, 120)
        assert (res["step"], res["status"]) == (1, "done")
    assert PlanStore(ws).claimed(pid) is None
