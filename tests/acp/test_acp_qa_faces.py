"""ACP and another face on one plan (QA of the combined faces): what the ACP user approves is
the revision they were shown."""

from __future__ import annotations

import asyncio
from pathlib import Path

from planfirst.core.workflow.session import Session
from planfirst.plan.store import PlanStore
from planfirst.settings import Settings
from tests.acp.conftest import agent
from tests.reliability.conftest import DEMO, TASK, Invariants
from tests.support.fake_host import FakeHost, ScriptedModels
from tests.support.waiting import wait_until


async def test_an_approval_answered_after_the_editor_changed_the_plan_shows_it_again(
    ws: Path, inv: Invariants
) -> None:
    """The ACP client shows revision 1 and asks "approve?". Meanwhile the user edits plan.md in
    their editor and reloads it (revision 2). "Approve and run" then approved and ran revision
    2, which the ACP user never saw. Now the agent says the plan changed and asks again, with
    revision 2; rejecting it leaves a draft of revision 2 and runs nothing."""
    srv = inv.scripted_server(DEMO[0:2])
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.answers = {"think": ["approve", "reject"]}
        ed.hold, ed.hold_kind = asyncio.Event(), "think"
        await a.new()
        turn = a.send(TASK)
        await wait_until(lambda: ed.asked >= 1, 60, "the approval question")
        plan_id = PlanStore(ws).active()
        assert plan_id is not None

        # the editor: a hand edit of plan.md, reloaded (another planfirst process's session)
        settings = Settings.model_validate({"critique": {"model": "off"}})
        models = ScriptedModels(settings, srv.base_url)
        try:
            editor = Session(ws, settings, models, FakeHost(ws))
            md = editor.store.plan_md(plan_id)
            first = editor.load(plan_id).body.step(1).description
            md.write_text(
                md.read_text(encoding="utf-8").replace(first, first + " Keep it short."),
                encoding="utf-8",
            )
            assert editor.reload(plan_id).revision == 2
        finally:
            await models.aclose()

        ed.hold.set()
        res = await asyncio.wait_for(turn, 60)
        assert res.stop_reason == "end_turn"
    assert ed.asked == 2, ed.text()  # asked again, about revision 2
    assert "changed while you were asked" in ed.text()
    plan = PlanStore(ws).load(plan_id)
    assert plan.revision == 2 and plan.status.value == "draft"
    assert "Keep it short." in plan.body.step(1).description
    assert all(not s.runs for s in plan.steps)
    assert len(srv.requests) == 2  # planning only: no step was asked for
