"""e2e: listPlans rows carry each plan's steps (number, status, first line) for a Plans view."""

from __future__ import annotations

from pathlib import Path

from planfirst.plan.model import RunOutcome, StepRun, StepStatus
from planfirst.plan.store import PlanStore
from tests.support.lsp_harness import command, lsp_session
from tests.support.plan_fixtures import make_plan


async def test_list_plans_rows_carry_their_steps(workspace: Path) -> None:
    plan = make_plan()
    plan.state(1).status = StepStatus.DONE
    plan.state(2).status = StepStatus.FAILED
    step3 = plan.body.step(3)
    step3.description = "Document it \u202e in README.md.\nSecond line, not shown."
    PlanStore(workspace).save(plan)
    async with lsp_session(workspace, "vscode") as (client, _editor):
        rows = await command(client, "planfirst.listPlans")
    steps = rows[0]["stepList"]
    assert [(s["order"], s["status"]) for s in steps] == [
        (1, "done"),
        (2, "failed"),
        (3, "pending"),
    ]
    first = plan.body.step(1).description.strip().splitlines()[0]
    assert len(first) < 120 and steps[0]["title"] == first
    # the first line only, an invisible character shown for what it is
    assert steps[2]["title"] == "Document it \\u{202E} in README.md."


async def test_a_long_step_line_is_cut_with_an_ellipsis(workspace: Path) -> None:
    plan = make_plan()
    plan.body.step(1).description = "x" * 300
    PlanStore(workspace).save(plan)
    async with lsp_session(workspace, "vscode") as (client, _editor):
        rows = await command(client, "planfirst.listPlans")
    title = rows[0]["stepList"][0]["title"]
    assert len(title) == 120 and title.endswith("…")


async def test_rows_say_which_steps_need_redo_have_an_edit_and_can_be_undone(
    workspace: Path,
) -> None:
    """#29 item 11: steps 1-2 done, then a revision changed step 2 (needs redo, pending, its edit
    still on disk). The rows say so, and only step 2 is the one undoStep accepts now."""
    plan = make_plan()
    for order in (1, 2):
        run = StepRun(
            attempt=1,
            outcome=RunOutcome.APPLIED,
            applied_seq=order,
            before={"a.py": "x"},
            after={"a.py": f"x{order}"},
        )
        plan.state(order).runs = [run]
        plan.state(order).status = StepStatus.DONE
    plan.state(2).status = StepStatus.PENDING
    plan.state(2).needs_redo = True
    PlanStore(workspace).save(plan)
    async with lsp_session(workspace, "vscode") as (client, _editor):
        rows = await command(client, "planfirst.listPlans")
    steps = rows[0]["stepList"]
    assert [
        (s["order"], s["status"], s["needsRedo"], s["hasEdit"], s["undoable"]) for s in steps
    ] == [
        (1, "done", False, True, False),
        (2, "pending", True, True, True),
        (3, "pending", False, False, False),
    ]
