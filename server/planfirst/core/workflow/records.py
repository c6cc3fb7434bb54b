"""What a step's records say is on disk, and how they survive declines, restarts and revisions.

A run whose outcome is APPLIED is an edit that is on disk now (a "live" edit); undo turns it
into APPLIED_UNDONE. These rules keep plan.json true whatever happens after an edit landed:
- a step with a live edit is never `pending` (declining or cancelling a later attempt leaves it
  `failed`: its edit is on disk and did not pass), so it can always be undone;
- edits are undone last-first, in the order they were applied (each applied run carries its
  place in the plan's sequence of applied edits, `StepRun.applied_seq`), not by step number: a
  revision may put a new step before a done one, and the new step's edit then lands on top
  (docs/how-it-works.md "The step state machine");
- a revision or a reload keeps every step's runs, so no live edit is forgotten
  (core/workflow/revisions.py).
"""

from __future__ import annotations

from planfirst.core.workflow.contracts import SessionError
from planfirst.core.workflow.diagnoser import format_failures
from planfirst.plan.model import Plan, RunOutcome, StepRun, StepState, StepStatus


def live_runs(st: StepState) -> list[StepRun]:
    """The step's runs whose edit is on disk now, oldest first."""
    return [r for r in st.runs if r.outcome == RunOutcome.APPLIED]


def has_live_edit(st: StepState) -> bool:
    """Whether an edit of this step is on disk now (and so can be undone)."""
    return any(r.outcome == RunOutcome.APPLIED for r in st.runs)


def settled(st: StepState) -> StepStatus:
    """The status of a step whose current attempt ended without an edit landing (declined,
    cancelled, a model error, a conflict): failed while an earlier attempt's edit is on disk,
    else pending."""
    return StepStatus.FAILED if has_live_edit(st) else StepStatus.PENDING


def last_failure(st: StepState) -> str | None:
    """Why a failed step failed, for the model's next attempt: the failing validation output of
    its last live edit (or the recorded error)."""
    live = live_runs(st)
    if not live:
        return None
    run = live[-1]
    if run.validation and not all(v.passed for v in run.validation):
        return format_failures(run.validation)
    return run.error


def _when(order: int, run: StepRun) -> tuple[int, int, int]:
    """Where an applied run stands in the order edits landed. Runs recorded before the sequence
    was kept (applied_seq 0) landed before every numbered one, in step order (the old rule)."""
    return (run.applied_seq, order, run.attempt)


def _live_edits(plan: Plan) -> list[tuple[tuple[int, int, int], int]]:
    """(when, step) of every edit on disk now, in the order they landed."""
    return sorted((_when(st.order, r), st.order) for st in plan.steps for r in live_runs(st))


def undo_target(plan: Plan) -> int:
    """The step an undo without a step number means: the one whose edit landed last."""
    live = _live_edits(plan)
    if not live:
        raise SessionError(f"plan {plan.id!r} has no step to undo")
    return live[-1][1]


def refuse_out_of_order_undo(plan: Plan, order: int) -> None:
    """Edits are undone last-first, in the order they landed: an edit applied after this
    step's was made on top of its text."""
    live = _live_edits(plan)
    mine = [w for w, o in live if o == order]
    later = [o for w, o in live if o != order and mine and w > mine[-1]]
    if later:
        n = later[-1]
        raise SessionError(
            f"cannot undo step {order}: step {n} was applied after it; undo step {n} first "
            "(edits are undone last-first, in the order they were applied)",
            "undo_order",
        )


def undo_runs(plan: Plan, order: int) -> list[StepRun]:
    """The applied runs an undo of step `order` reverts: its edits that landed after every other
    step's edit on disk. Usually all of them; when another step's edit landed between two of
    its edits (a step redone after a revision, on top of a step added before it), only the
    ones above it: undo that step next, then this one again."""
    refuse_out_of_order_undo(plan, order)
    others = [w for w, o in _live_edits(plan) if o != order]
    floor = others[-1] if others else None
    st = plan.state(order)
    return [r for r in live_runs(st) if floor is None or _when(order, r) > floor]


def resumed_attempts(st: StepState) -> int:
    """How many tries the interrupted Execute / Retry had made (its last run's number)."""
    run = st.last_run
    return run.execution_attempt if run is not None and run.execution_attempt > 0 else 1
