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


async def _editor_reload(ws: Path, base_url: str, plan_id: str, extra: str) -> int:
    """Another planfirst (the editor): a hand edit of step 1 in plan.md, reloaded."""
    settings = Settings.model_validate({"critique": {"model": "off"}})
    models = ScriptedModels(settings, base_url)
    try:
        editor = Session(ws, settings, models, FakeHost(ws))
        md = editor.store.plan_md(plan_id)
        first = editor.load(plan_id).body.step(1).description
        md.write_text(
            md.read_text(encoding="utf-8").replace(first, first + extra), encoding="utf-8"
        )
        return editor.reload(plan_id).revision
    finally:
        await models.aclose()


async def test_a_typed_approve_after_the_editor_changed_the_plan_shows_it_again(
    ws: Path, inv: Invariants
) -> None:
    """The ACP user is shown revision 1 and leaves the question unanswered ("/approve runs
    it"). The editor reloads a hand edit (revision 2). A typed /approve approved and ran
    revision 2 unseen; now it shows revision 2 and asks again. Left unanswered again, the next
    /approve runs the revision shown without asking. A second ACP session that never showed
    the plan asks before its /approve does anything (#29)."""
    srv = inv.scripted_server(DEMO[0:2])
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.answers = {"think": [None, None, "reject"]}
        await a.new()
        res = await a.prompt(TASK)
        assert res.stop_reason == "end_turn" and ed.asked == 1
        assert "/approve runs it" in ed.text()
        plan_id = PlanStore(ws).active()
        assert plan_id is not None
        assert await _editor_reload(ws, srv.base_url, plan_id, " Keep it short.") == 2

        res = await a.prompt("/approve")
        assert res.stop_reason == "end_turn"
        assert ed.asked == 2, ed.text()  # asked again, about revision 2
        assert "revision 2, which this session has not shown you" in ed.text()
        plan = PlanStore(ws).load(plan_id)
        assert plan.revision == 2 and plan.status.value == "draft"
        assert len(srv.requests) == 2  # planning only: no step was asked for

        res = await a.prompt("/approve")  # revision 2 was shown: approved and run
        assert ed.asked == 2, ed.text()
        assert len(srv.requests) == 3  # step 1 asked for (the script has no answer: it fails)
        plan = PlanStore(ws).load(plan_id)
        assert plan.revision == 2 and plan.status.value != "draft"
        assert "Keep it short." in plan.body.step(1).description

        await a.new()  # another session: it never showed this plan
        res = await a.prompt("/approve")
        assert res.stop_reason == "end_turn"
        assert ed.asked == 3, ed.text()
        assert "has not shown you the plan yet" in ed.text()
    assert len(srv.requests) == 3


async def test_acp_and_an_editor_on_one_plan_take_turns(ws: Path, inv: Invariants) -> None:
    """The editor (language server) runs step 1, its preview open. The ACP user asks for a
    revision of the same plan: refused as busy in another planfirst, nothing changed. Once the
    editor's step is done the plan is free: /continue in ACP runs the rest to the end, and the
    editor's Plans view, plan.json and the files agree (the lock is gone)."""
    from planfirst.plan.model import StepStatus
    from tests.reliability.conftest import serve
    from tests.reliability.test_step_edge_cases import approved
    from tests.support.lsp_harness import command

    srv = inv.scripted_server(DEMO[0:12])
    async with serve(inv, ws, srv, profile="vscode") as (client, editor, _l):
        pid = await approved(client)
        editor.hold = asyncio.Event()
        step1 = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(editor.edits) >= 1, 60, "step 1's preview in the editor")
        async with agent(inv, ws, srv, "zed") as a:
            ed = a.editor
            await a.new()
            res = await a.prompt("/revise use fewer steps")
            assert res.stop_reason == "end_turn"
            assert "busy" in ed.text() and "another planfirst" in ed.text(), ed.text()
            assert PlanStore(ws).load(pid).revision == 1

            editor.hold.set()  # the user applies step 1's edit (and its retry) in the editor
            res1 = await asyncio.wait_for(step1, 120)
            assert (res1["step"], res1["status"]) == (1, "done")
            assert PlanStore(ws).claimed(pid) is None

            ed.answers = {"edit": ["apply", "apply"]}
            res = await a.prompt("/continue")
            assert res.stop_reason == "end_turn", ed.text()
        rows = {r["id"]: r for r in await command(client, "planfirst.listPlans")}
        assert rows[pid]["status"] == "done" and rows[pid]["steps"]["done"] == 3
    plan = PlanStore(ws).load(pid)
    assert all(st.status == StepStatus.DONE for st in plan.steps)
    assert PlanStore(ws).claimed(pid) is None
    assert [r.turn for r in srv.requests] == list(range(1, 13))  # every turn once: none twice
