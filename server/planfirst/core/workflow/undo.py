"""Undo a step: a previewed inverse edit that restores the exact text from before the step.

Part of the step state machine (core/workflow/stepper.py): a step goes to UNDONE and its applied runs
to APPLIED_UNDONE; the inverse edit is recorded as a run of its own (RunOutcome.UNDONE). Edits
are undone last-first, in the order they were applied: a step with an edit applied after its own
still on disk is refused, naming the step to undo first (records.refuse_out_of_order_undo). When
another step's edit landed between two of a step's edits, an undo reverts only its edits above
that one (records.undo_runs) and says so.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from planfirst.core.editing.executor import FileChange, ProposedChange
from planfirst.core.workflow import fsio, records
from planfirst.core.workflow.attempt import StepAttempt
from planfirst.core.workflow.contracts import (
    ApplyOutcome,
    Progress,
    SessionError,
    StepOutcome,
    StepResult,
)
from planfirst.core.workflow.replay import confirm_replay
from planfirst.plan.model import Plan, PlanStatus, RunOutcome, StepRun

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session


async def undo(
    s: Session, plan_id: str | None, order: int | None, progress: Progress
) -> StepOutcome:
    """A previewed inverse edit restoring the exact pre-step text."""
    plan = s.peek(plan_id)  # read only: the copy to change is loaded once the plan is held
    # a step running here or in another planfirst may be about to land an edit: "busy", not
    # "no step to undo" (QA: a second window was told there was nothing to undo)
    s.refuse_if_busy(plan.id, hint=True)
    if order is None:
        order = records.undo_target(plan)
    try:
        plan.body.step(order)
    except KeyError:
        raise SessionError(f"plan {plan.id!r} has no step {order}") from None
    async with s.exclusive(plan.id, f"undoing step {order}"):
        plan = s.load(plan.id)
        attempt = StepAttempt(plan, order)
        st = attempt.state
        if not records.has_live_edit(st):
            raise SessionError(f"step {order} has no applied edit to undo")
        applied = records.undo_runs(plan, order)
        partial = len(applied) < len(records.live_runs(st))
        before: dict[str, str | None] = {}
        after: dict[str, str | None] = {}
        for r in applied:
            for p, t in r.before.items():
                before.setdefault(p, t)
            after.update(r.after)
        # the undo record is checked like model output before it is written back (case 24)
        await confirm_replay(s.guard, s.host, after, after, f"the undo record of step {order}")
        conflicts = [p for p in after if s.read_current(p) != after[p]]
        if conflicts:
            raise SessionError(
                f"cannot undo step {order}: {', '.join(conflicts)} changed since the step was applied; "
                "undo those changes first or edit by hand",
                "conflict",
            )
        change = ProposedChange([FileChange(p, after[p], before[p]) for p in sorted(after)])
        progress.report(f"undo step {order}: waiting for you to review the edit")
        answer = asyncio.ensure_future(
            s.host.apply_change(
                change, f"planfirst: undo step {order}", f"Restore the text before step {order}"
            )
        )
        try:  # a cancel ends the undo, not the editor's preview: its answer is recorded late
            res = await asyncio.shield(answer)
        except asyncio.CancelledError:
            s.hand_over(
                plan.id,
                f"undoing: waiting for your answer to step {order}'s undo preview, cancelled "
                "meanwhile",
                _late(s, plan.id, order, [r.attempt for r in applied], change, answer),
            )
            raise
        if not res.applied:
            return StepOutcome(
                plan.id,
                order,
                StepResult.REJECTED,
                message=res.reason or "the undo was not applied",
            )
        message = await _record(s, plan, order, applied, change, partial)
        return StepOutcome(plan.id, order, StepResult.UNDONE, message=message)


async def _record(
    s: Session,
    plan: Plan,
    order: int,
    applied: list[StepRun],
    change: ProposedChange,
    partial: bool,
) -> str:
    """The applied undo as it is: the disk synced, the inverse run recorded, the step undone."""
    attempt = StepAttempt(plan, order)
    before = {f.path: f.new for f in change.files}  # the text before the step: the undo's new
    after = {f.path: f.old for f in change.files}
    before = await fsio.sync_disk(s.guard, s.host, before, after)
    inverse = StepRun(
        attempt=len(attempt.state.runs) + 1, proposed_diff=change.diff, before=after, after=before
    )
    attempt.undo(applied, inverse, partial)
    message = f"step {order} undone"
    if partial:  # an earlier edit of the step is still on disk, below another step's
        below = records.undo_target(plan)
        message = (
            f"step {order}: its latest edit undone; its earlier edit is still on disk, below "
            f"step {below}'s (applied after it); undo step {below}, then step {order} again"
        )
    if plan.status in (PlanStatus.DONE, PlanStatus.FAILED):
        plan.status = PlanStatus.EXECUTING
        plan.final_validation = []  # the test criteria ran on code no longer on disk
        plan.diagnosis = None  # and what the planning model made of their failure
    s.save(plan)
    return message


async def _late(
    s: Session,
    plan_id: str,
    order: int,
    attempts: list[int],
    change: ProposedChange,
    answer: asyncio.Future[ApplyOutcome],
) -> None:
    """The undo's preview answered after the undo was cancelled: an applied undo is recorded
    (plan.json must not say the step's edit is on disk when the editor just reverted it)."""
    try:
        outcome = await answer
    except Exception as e:  # the editor went away: nothing was applied that we can know of
        s.host.log(f"undo of step {order}: no answer to the cancelled preview ({e})")
        return
    if not outcome.applied:
        return
    plan = s.load(plan_id)
    st = plan.state(order)
    applied = [r for r in st.runs if r.attempt in attempts]
    if [r.attempt for r in applied] != attempts or any(
        r.outcome != RunOutcome.APPLIED for r in applied
    ):
        s.host.log(f"undo of step {order}: applied after the step changed; not recorded")
        return
    partial = len(applied) < len(records.live_runs(st))
    try:
        await _record(s, plan, order, applied, change, partial)
    except SessionError as e:
        s.host.notify(f"Undo of step {order}: {e.message}", "error")
        return
    s.host.notify(
        f"Step {order}: you applied its undo after cancelling it; it is recorded as undone.",
        "warning",
    )
