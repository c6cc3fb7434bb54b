"""The editor's review of a step's edit, and what the records say when it did not land.

Part of the step state machine (core/workflow/stepper.py): before the edit is shown, the files must
still hold the text the model worked from (else a CONFLICT: nothing applied, the user's change
kept); the editor's answer outlives a cancel (core/workflow/late_apply.py); an edit that was not applied
leaves the step pending — or failed, while an earlier attempt's edit is on disk (#23 cases 2,
5, 13).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from planfirst.core.editing.executor import ProposedChange
from planfirst.core.workflow import late_apply
from planfirst.core.workflow.attempt import StepAttempt
from planfirst.core.workflow.contracts import ApplyOutcome, StepOutcome, StepResult
from planfirst.plan.model import Plan, Step, StepRun, StepStatus

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session


def refuse_moved(
    s: Session, plan: Plan, step: Step, run: StepRun, change: ProposedChange, attempts: int
) -> StepOutcome | None:
    """A CONFLICT outcome when a file changed after the model read it (applying would build on
    the old text and overwrite the change), else None."""
    moved = [f.path for f in change.files if s.read_current(f.path) != f.old]
    if not moved:
        return None
    error = f"{', '.join(moved)} changed while the model worked on step {step.order}"
    StepAttempt(plan, step.order).conflict(run, error)
    s.save(plan)
    s.host.notify(
        f"Step {step.order}: {', '.join(moved)} changed while the model worked; nothing was "
        "applied and your change is kept. Execute the step again to work on the current text.",
        "warning",
    )
    return StepOutcome(plan.id, step.order, StepResult.CONFLICT, attempts, message=error)


async def ask_editor(
    s: Session, plan: Plan, step: Step, run: StepRun, change: ProposedChange
) -> ApplyOutcome:
    """Show the edit in the editor and wait for its answer. Shielded: a cancel ends the step,
    not the editor's preview, whose answer is recorded when it comes (late_apply)."""
    first = step.description.strip().splitlines()[0] if step.description.strip() else ""
    short = first if len(first) <= 60 else first[:60].rsplit(" ", 1)[0] + "…"
    answer = asyncio.ensure_future(
        s.host.apply_change(
            change,
            f"planfirst step {step.order}{_retry_note(plan, step, run)}: {short}",
            step.description.strip(),
        )
    )
    try:
        return await asyncio.shield(answer)
    except asyncio.CancelledError:
        late_apply.wait_for_answer(s, plan.id, step.order, run.attempt, answer)
        raise


def _retry_note(plan: Plan, step: Step, run: StepRun) -> str:
    """ ", attempt 2 (fixes `pytest -q`)" for an edit that follows a failed validation of the same
    step: the review says which attempt it is and which failure it is meant to fix."""
    earlier = [r for r in plan.state(step.order).runs if r is not run]
    failed = (
        next((v for v in reversed(earlier[-1].validation) if not v.passed), None)
        if earlier
        else None
    )
    if failed is None:
        return ""
    which = f"attempt {run.execution_attempt}" if run.execution_attempt > 1 else "retry"
    command = failed.command if len(failed.command) <= 60 else failed.command[:59] + "…"
    return f", {which} (fixes `{command}`)"


def declined(
    s: Session, plan: Plan, step: Step, run: StepRun, reason: str, attempts: int
) -> StepOutcome:
    """The edit was not applied: record it and tell the user what is on disk."""
    attempt = StepAttempt(plan, step.order)
    attempt.reject(run, reason)
    s.save(plan)
    if attempt.status == StepStatus.FAILED:  # an earlier attempt's edit is still on disk
        s.host.notify(
            f"Step {step.order}: attempt {attempts} was not applied ({reason}); the edit of an "
            "earlier attempt is still on disk and failed its validation. Execute to review the "
            "same edit again, retry the step, undo it, or revise the plan.",
            "info",
        )
    else:
        s.host.notify(
            f"Step {step.order} was not applied ({reason}); nothing changed. Execute it again "
            "to review the same edit (no new model call), or revise the plan.",
            "info",
        )
    return StepOutcome(plan.id, step.order, StepResult.REJECTED, attempts, message=reason)
