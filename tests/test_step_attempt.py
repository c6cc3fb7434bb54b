"""StepAttempt (core/workflow/attempt.py) is the only place a step's status and a run's outcome
change: the transitions are its methods, an edge the state machine does not have raises, and no
other module in server/ assigns either (read from the source with ast, as tests/test_layers.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from planfirst.core.workflow.attempt import IllegalTransition, StepAttempt
from planfirst.errors import PlanfirstError
from planfirst.plan.model import RunOutcome, StepRun, StepStatus
from tests.support.plan_fixtures import make_plan

SERVER = Path(__file__).resolve().parents[1] / "server" / "planfirst"
ATTEMPT = SERVER / "core" / "workflow" / "attempt.py"
WC = "textkit/wordcount.py"


def _proposed(step: StepAttempt) -> StepRun:
    run = StepRun(attempt=len(step.state.runs) + 1)
    step.begin(run)
    step.propose(run, "diff", {WC: "a"}, {WC: "b"})
    return run


# ------------------------------------------------------------------ the transitions


def test_an_attempt_runs_applies_and_passes() -> None:
    plan = make_plan()
    step = StepAttempt(plan, 1)
    run = _proposed(step)
    assert (step.status, run.outcome) == (StepStatus.RUNNING, RunOutcome.PROPOSED)
    step.apply(run)
    assert (step.status, run.outcome, run.applied_seq) == (
        StepStatus.APPLIED,
        RunOutcome.APPLIED,
        1,
    )
    step.done()
    assert step.status == StepStatus.DONE and run.finished_at is not None


def test_a_rejected_attempt_settles_pending_or_failed_with_an_edit_on_disk() -> None:
    step = StepAttempt(make_plan(), 1)
    first = _proposed(step)
    step.reject(first, "declined")
    assert (step.status, first.outcome, first.error) == (
        StepStatus.PENDING,
        RunOutcome.REJECTED,
        "declined",
    )
    applied = _proposed(step)
    step.apply(applied)
    step.fail("validation still failing")
    later = _proposed(step)
    step.conflict(later, "moved")
    assert step.status == StepStatus.FAILED  # the applied edit is on disk
    assert later.outcome == RunOutcome.CONFLICT


def test_a_discarded_edit_offered_again_is_the_same_attempt() -> None:
    """Discard, then Execute: the same run goes on (no attempt 2), and only the last one (#33)."""
    step = StepAttempt(make_plan(), 1)
    run = _proposed(step)
    step.reject(run, "discarded in the review")
    step.reoffer(run, 1, [])
    assert (step.status, run.outcome, run.error, len(step.state.runs)) == (
        StepStatus.RUNNING,
        RunOutcome.PENDING,
        None,
        1,
    )
    step.propose(run, "diff", {WC: "a"}, {WC: "b"})
    step.apply(run)
    with pytest.raises(IllegalTransition, match="cannot offer again a run that is applied"):
        step.reoffer(run, 1, [])
    other = StepAttempt(make_plan(), 2)
    first = _proposed(other)
    other.reject(first, "no")
    second = _proposed(other)  # Retry Step asked the model for a new edit
    other.reject(second, "no")
    with pytest.raises(IllegalTransition, match="only the last attempt"):
        other.reoffer(first, 1, [])


def test_undo_and_a_late_apply_after_cancel() -> None:
    plan = make_plan()
    step = StepAttempt(plan, 1)
    run = _proposed(step)
    step.cancel()
    assert (step.status, run.outcome) == (StepStatus.PENDING, RunOutcome.CANCELLED)
    step.apply_late(run)
    assert (step.status, run.outcome) == (StepStatus.APPLIED, RunOutcome.APPLIED)
    inverse = StepRun(attempt=2, before={WC: "b"}, after={WC: "a"})
    step.undo([run], inverse, partial=False)
    assert step.status == StepStatus.UNDONE
    assert [r.outcome for r in step.state.runs] == [RunOutcome.APPLIED_UNDONE, RunOutcome.UNDONE]


# ------------------------------------------------------------------ edges the table does not have


@pytest.mark.parametrize("status", [StepStatus.PENDING, StepStatus.FAILED, StepStatus.UNDONE])
def test_a_step_not_running_or_applied_cannot_be_done_nor_failed(status: StepStatus) -> None:
    step = StepAttempt(make_plan(), 1)
    step.state.status = status
    with pytest.raises(IllegalTransition, match="cannot finish"):
        step.done()
    with pytest.raises(IllegalTransition, match="cannot fail"):
        step.fail("x")
    assert step.status == status


def test_a_done_step_cannot_start_an_attempt() -> None:
    step = StepAttempt(make_plan(), 1)
    step.state.status = StepStatus.DONE
    with pytest.raises(IllegalTransition, match="is done"):
        step.begin(StepRun(attempt=1))
    assert step.state.runs == []


def test_only_a_proposed_edit_can_be_applied_rejected_or_conflict() -> None:
    plan = make_plan()
    step = StepAttempt(plan, 1)
    run = StepRun(attempt=1)
    step.begin(run)
    for move in (step.apply, lambda r: step.reject(r, "no"), lambda r: step.conflict(r, "x")):
        with pytest.raises(IllegalTransition, match="a run that is pending"):
            move(run)
    assert (run.outcome, plan.edit_seq) == (RunOutcome.PENDING, 0)
    _ = _proposed(step)
    applied = step.state.runs[-1]
    step.apply(applied)
    with pytest.raises(IllegalTransition, match="cannot apply the edit of a step that is applied"):
        step.apply(applied)


def test_an_edit_cannot_be_applied_late_unless_cancelled_and_last() -> None:
    step = StepAttempt(make_plan(), 1)
    run = _proposed(step)
    step.reject(run, "no")
    with pytest.raises(IllegalTransition, match="a run that is rejected"):
        step.apply_late(run)
    cancelled = _proposed(step)
    step.cancel()
    step.begin(StepRun(attempt=3))  # a later attempt started
    with pytest.raises(IllegalTransition):
        step.apply_late(cancelled)


def test_undo_needs_an_applied_edit() -> None:
    step = StepAttempt(make_plan(), 1)
    with pytest.raises(IllegalTransition, match="no applied edit"):
        step.undo([], StepRun(attempt=1), partial=False)
    run = _proposed(step)
    step.apply(run)
    step.undo([run], StepRun(attempt=2), partial=False)
    with pytest.raises(IllegalTransition, match="no applied edit"):
        step.undo([run], StepRun(attempt=3), partial=False)


def test_only_a_running_step_is_recovered() -> None:
    step = StepAttempt(make_plan(), 1)
    with pytest.raises(IllegalTransition, match="cannot recover a step that is pending") as e:
        step.recover(lambda _p: None)
    # a PlanfirstError with its own code: each face maps it once, like every refusal (errors.py)
    assert isinstance(e.value, PlanfirstError) and e.value.code == "illegal_transition"


# ------------------------------------------------------------------ nobody else writes them


def _writes(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) of every write of a step's status or a run's outcome in one module: an
    assignment to `.outcome`, an assignment to `.status` of anything but a PlanStatus member (a
    plan's status is not the step machine's), a `StepRun(outcome=...)` / `StepState(status=...)`,
    and a `.runs` list replaced or appended to (a run's arrival is a transition too)."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets, value = [node.target], node.value
        for t in targets:
            if not isinstance(t, ast.Attribute):
                continue
            plan_status = (
                isinstance(value, ast.Attribute)
                and isinstance(value.value, ast.Name)
                and value.value.id == "PlanStatus"
            )
            if t.attr == "outcome" or (t.attr == "status" and not plan_status) or t.attr == "runs":
                out.append((node.lineno, f".{t.attr} = {ast.unparse(value) if value else ''}"))
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.endswith("StepRun") and any(k.arg == "outcome" for k in node.keywords):
                out.append((node.lineno, "StepRun(outcome=...)"))
            if name.endswith("StepState") and any(k.arg == "status" for k in node.keywords):
                out.append((node.lineno, "StepState(status=...)"))
            if name.endswith(".runs.append"):
                out.append((node.lineno, name))
            written = [a for a in node.args[1:2] if name == "setattr"] + [
                k
                for kw in node.keywords
                if kw.arg == "update" and isinstance(kw.value, ast.Dict)
                for k in kw.value.keys
            ]
            if any(
                isinstance(w, ast.Constant) and w.value in ("status", "outcome") for w in written
            ):
                out.append((node.lineno, f"{name}(... 'status'/'outcome' ...)"))
    return out


# the model layer never holds a plan step; the `.status` it assigns is an HTTP status
NOT_A_STEP = SERVER / "llm"


def test_only_step_attempt_changes_a_step_status_or_run_outcome() -> None:
    found = {
        f"{p.relative_to(SERVER)}:{line}: {what}"
        for p in sorted(SERVER.rglob("*.py"))
        if p != ATTEMPT and not p.is_relative_to(NOT_A_STEP)
        for line, what in _writes(ast.parse(p.read_text(encoding="utf-8")))
    }
    assert not found, "route these through core/workflow/attempt.py StepAttempt:\n" + "\n".join(
        sorted(found)
    )


def test_the_scan_sees_the_writes_it_forbids() -> None:
    src = (
        "st.status = StepStatus.DONE\nrun.outcome = RunOutcome.APPLIED\n"
        "st.status = records.settled(st)\nplan.status = PlanStatus.DONE\n"
        "st.runs.append(r)\nStepRun(attempt=1, outcome=RunOutcome.UNDONE)\n"
        "setattr(st, 'status', x)\nst.model_copy(update={'outcome': x})\n"
        "setattr(st, 'order', 1)\n"
    )
    assert [line for line, _ in _writes(ast.parse(src))] == [1, 2, 3, 5, 6, 7, 8]
    assert len(_writes(ast.parse(ATTEMPT.read_text(encoding="utf-8")))) >= 10
