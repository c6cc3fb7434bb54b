"""docs/reliability.md case 44: every ACP request gets its answer. A `session/load` of a session
whose prompt turn is still running (waiting for the plan's approval) ends that turn: the running
`session/prompt` is answered with stop reason `cancelled`, and the loaded session works on."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.acp.conftest import agent
from tests.reliability.conftest import DEMO, TASK, Invariants
from tests.support.waiting import wait_until


async def test_load_of_a_live_session_answers_its_prompt(ws: Path, inv: Invariants) -> None:
    srv = inv.scripted_server(DEMO[0:2])
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.hold = asyncio.Event()
        ed.hold_kind = "think"
        ed.answers = {"think": [None, "reject"]}
        sid = await a.new()
        turn = a.send(TASK)
        await wait_until(lambda: ed.asked >= 1, 60, "the approval question")
        await a.load(sid)
        res = await asyncio.wait_for(turn, 10)  # answered, not left hanging
        assert res.stop_reason == "cancelled"
        ed.hold.set()  # the client answers the open approval question (cancelled, as ACP says)
        res = await a.prompt("/status")
        assert res.stop_reason == "end_turn"
        assert "draft" in ed.text()
