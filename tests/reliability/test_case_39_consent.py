"""docs/reliability.md case 39: a consent covers what it was asked for and no more. In ACP,
"apply this and the remaining steps" ends with the run it was given in: after a cancel,
/continue asks again before the next edit is written (the question is ACP's only preview)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from planfirst.plan.store import PlanStore
from tests.acp.conftest import agent
from tests.reliability.conftest import DEMO, TASK, Invariants
from tests.support.waiting import wait_until


async def test_apply_all_ends_with_its_run(ws: Path, inv: Invariants) -> None:
    """The user picks "apply this and the remaining steps" at step 1 (its second attempt is
    written without a question: the same run), cancels while the model works on step 2, then
    sends /continue: step 2's edit is asked about again, and rejecting it writes nothing."""
    slow = dict(DEMO[7])
    slow["delay"] = 30
    srv = inv.scripted_server([*DEMO[0:7], slow, *DEMO[7:10]])
    cli = ws / "textkit" / "cli.py"
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.answers = {"think": ["approve"], "edit": ["apply-all", "reject"]}
        await a.new()
        turn = a.send(TASK)
        await wait_until(lambda: len(srv.requests) >= 8, 60, "step 2's model call")
        await a.conn.cancel(session_id=a.session_id)
        res = await asyncio.wait_for(turn, 10)
        assert res.stop_reason == "cancelled"
        asked = [(tc.kind, pick) for tc, _, pick in ed.permissions]
        assert asked == [("think", "approve"), ("edit", "apply-all")]  # attempt 2: same run

        before = cli.read_text()
        res = await a.prompt("/continue")
        assert res.stop_reason == "end_turn"
    asked = [(tc.kind, pick) for tc, _, pick in ed.permissions]
    assert asked == [("think", "approve"), ("edit", "apply-all"), ("edit", "reject")], ed.text()
    plan_id = PlanStore(ws).active()
    assert plan_id is not None
    st = PlanStore(ws).load(plan_id).state(2)
    assert st.runs[-1].outcome == "rejected"
    assert cli.read_text() == before and ed.buffers.get(cli) in (None, before)
