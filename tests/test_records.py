"""What a step's records say is on disk (core/workflow/records.py, core/workflow/staleness.py), without a model."""

from __future__ import annotations

import pytest

from planfirst.core.planning.context import hash_text
from planfirst.core.workflow import records, revisions, staleness
from planfirst.core.workflow.attempt import StepAttempt
from planfirst.core.workflow.contracts import SessionError
from planfirst.plan.model import Plan, PlanBody, RunOutcome, StepRun, StepStatus
from tests.support.plan_fixtures import body_dict, make_plan

WC = "textkit/wordcount.py"


def run(
    outcome: RunOutcome, before: str | None = None, after: str | None = None, **kw: object
) -> StepRun:
    files = {WC: before} if before is not None or after is not None else {}
    return StepRun(
        attempt=1, outcome=outcome, before=files, after={WC: after} if files else {}, **kw
    )  # type: ignore[arg-type]


def test_a_step_with_an_edit_on_disk_is_never_pending() -> None:
    plan = make_plan()
    st = plan.state(1)
    st.runs = [run(RunOutcome.APPLIED, "a", "b"), run(RunOutcome.REJECTED)]
    assert records.settled(st) == StepStatus.FAILED
    st.runs[0].outcome = RunOutcome.APPLIED_UNDONE
    assert records.settled(st) == StepStatus.PENDING


def test_undo_goes_last_first() -> None:
    plan = make_plan()
    plan.state(1).runs = [run(RunOutcome.APPLIED, "a", "b")]
    plan.state(3).runs = [run(RunOutcome.APPLIED, "x", "y")]
    assert records.undo_target(plan) == 3
    with pytest.raises(SessionError, match="undo step 3 first"):
        records.refuse_out_of_order_undo(plan, 1)
    records.refuse_out_of_order_undo(plan, 3)
    plan.state(3).runs[0].outcome = RunOutcome.APPLIED_UNDONE
    records.refuse_out_of_order_undo(plan, 1)
    assert records.undo_target(plan) == 1


def test_expected_text_follows_what_is_on_disk_not_plan_order() -> None:
    plan = make_plan()
    plan.provenance.context_files = {WC: hash_text("orig")}
    # step 1: orig -> one; step 2: one -> two; then undo 2, undo 1 (each undo adds an `undone` run)
    plan.state(1).runs = [
        run(RunOutcome.APPLIED_UNDONE, "orig", "one"),
        run(RunOutcome.UNDONE, "one", "orig"),
    ]
    plan.state(2).runs = [
        run(RunOutcome.APPLIED_UNDONE, "one", "two"),
        run(RunOutcome.UNDONE, "two", "one"),
    ]
    assert staleness.expected_hashes(plan)[WC] == hash_text("orig")
    plan.state(1).runs.append(run(RunOutcome.APPLIED, "orig", "one again"))
    assert staleness.expected_hashes(plan)[WC] == hash_text("one again")


def test_a_revision_keeps_every_run_and_refuses_to_drop_an_edit_on_disk() -> None:
    old = make_plan()
    old.state(1).runs = [run(RunOutcome.APPLIED, "a", "b")]
    old.state(1).status = StepStatus.FAILED
    old.state(2).runs = [run(RunOutcome.APPLIED, "c", "d")]
    old.state(2).status = StepStatus.DONE
    data = body_dict()
    data["steps"][1]["description"] = "Create `tests/test_top.py` with two tests."
    new = Plan(id=old.id, title=old.title, task=old.task, body=PlanBody.model_validate(data))
    revisions.carry_over(old, new, hand_edit=False)
    assert (
        new.state(1).status == StepStatus.FAILED and len(new.state(1).runs) == 1
    )  # unchanged step
    assert (
        new.state(2).status == StepStatus.PENDING and len(new.state(2).runs) == 1
    )  # changed: runs kept
    by_hand = Plan(id=old.id, title=old.title, task=old.task, body=PlanBody.model_validate(data))
    revisions.carry_over(old, by_hand, hand_edit=True)  # a hand edit of plan.md
    assert by_hand.state(2).status == StepStatus.DONE
    data["steps"] = data["steps"][:1]
    data["files_to_create"] = []
    shorter = Plan(id=old.id, title=old.title, task=old.task, body=PlanBody.model_validate(data))
    with pytest.raises(
        SessionError, match=r"no step 2 \(s2\), whose edit is still on disk; undo step 2 first"
    ):
        revisions.carry_over(old, shorter, hand_edit=False)


def test_a_resumed_step_counts_the_attempts_already_made() -> None:
    st = make_plan().state(1)
    assert records.resumed_attempts(st) == 1
    st.runs = [
        run(RunOutcome.APPLIED, "a", "b", execution_attempt=1),
        run(RunOutcome.APPLIED, "b", "c", execution_attempt=2),
    ]
    assert records.resumed_attempts(st) == 2


def test_undo_goes_by_when_edits_landed_not_by_step_number() -> None:
    """#29: a step added before a done one and executed is undone first; edits recorded before
    the order was kept (applied_seq 0) count as older than every numbered one, in step order."""
    plan = make_plan()
    plan.state(3).runs = [run(RunOutcome.APPLIED, "x", "y")]  # an older plan's record
    late = run(RunOutcome.PENDING, "a", "b")
    step = StepAttempt(plan, 1)
    step.begin(late)
    step.propose(late, "", late.before, late.after)
    step.apply(late)
    assert late.applied_seq == 1 and records.undo_target(plan) == 1
    with pytest.raises(SessionError, match="step 1 was applied after it; undo step 1 first"):
        records.refuse_out_of_order_undo(plan, 3)
    assert records.undo_runs(plan, 1) == [late]
    late.outcome = RunOutcome.APPLIED_UNDONE
    assert records.undo_target(plan) == 3
