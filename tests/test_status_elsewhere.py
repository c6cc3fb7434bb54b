"""The `planfirst/status` payload says whether a busy plan runs in THIS server or in another
planfirst process on the workspace (#33): the editor offers Cancel only for the former (a
cancel here of a step another process runs is refused)."""

from __future__ import annotations

from pathlib import Path

from planfirst.core.workflow.session import Session
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.lsp.plan_docs import status_payload
from planfirst.plan.store import PlanStore
from planfirst.settings import Settings
from tests.support.fake_host import FakeHost, ScriptedModels
from tests.support.plan_fixtures import make_plan


async def test_status_marks_a_plan_busy_in_another_planfirst(workspace: Path) -> None:
    plan = make_plan()
    PlanStore(workspace).save(plan)
    srv = ScriptedServer([]).start()  # no model call is made: the payload is read from disk
    settings = Settings.model_validate({"critique": {"model": "off"}})
    models = ScriptedModels(settings, srv.base_url)
    editor = Session(workspace, settings, models, FakeHost(workspace))
    terminal = Session(workspace, settings, models, FakeHost(workspace))  # another process
    try:
        idle = status_payload(editor, plan.id)
        assert idle is not None
        assert (idle["busy"], idle["elsewhere"]) == (None, False)

        # the terminal runs a step: the editor's status names it and marks it elsewhere; the
        # terminal's own status has it busy here (its Cancel works)
        async with terminal.exclusive(plan.id, "executing step 1"):
            there = status_payload(editor, plan.id)
            assert there is not None
            assert there["elsewhere"] is True
            assert there["busy"] == "in another planfirst: executing step 1"
            mine = status_payload(terminal, plan.id)
            assert mine is not None
            assert (mine["busy"], mine["elsewhere"]) == ("executing step 1", False)
        done = status_payload(editor, plan.id)
        assert done is not None and (done["busy"], done["elsewhere"]) == (None, False)
    finally:
        await models.aclose()
        srv.stop()


async def test_list_plans_rows_say_what_runs_on_a_plan_here_or_elsewhere(workspace: Path) -> None:
    """The Plans view (VS Code) offers Execute, Retry, Undo and Approve inline from listPlans
    rows: each row says what runs on its plan, here or in another planfirst process, so the view
    offers none of them on a busy plan (a second window would only have them refused)."""
    from planfirst.lsp.plans_view import add_step_lists

    plan = make_plan()
    PlanStore(workspace).save(plan)
    srv = ScriptedServer([]).start()
    settings = Settings.model_validate({"critique": {"model": "off"}})
    models = ScriptedModels(settings, srv.base_url)
    editor = Session(workspace, settings, models, FakeHost(workspace))
    terminal = Session(workspace, settings, models, FakeHost(workspace))  # another process

    def row(session: Session) -> dict[str, object]:
        rows = [{"id": plan.id}]
        add_step_lists(session, rows)
        return rows[0]

    try:
        assert (row(editor)["busy"], row(editor)["elsewhere"]) == (None, False)
        async with terminal.exclusive(plan.id, "executing step 1"):
            there = row(editor)
            assert there["busy"] == "in another planfirst: executing step 1"
            assert there["elsewhere"] is True
            assert (row(terminal)["busy"], row(terminal)["elsewhere"]) == (
                "executing step 1",
                False,
            )
        assert (row(editor)["busy"], row(editor)["elsewhere"]) == (None, False)
    finally:
        await models.aclose()
        srv.stop()
