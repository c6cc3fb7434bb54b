"""An edit the user applies after cancelling its step (#23 case 13).

pygls never sends `$/cancelRequest` for a request the server made, so cancelling a step while
its preview is open leaves the preview in the editor, and Apply still lands in the buffer.
The step's task has ended (the run is recorded `cancelled`), so the editor's answer is awaited
here instead: the plan stays busy ("waiting for your answer to step N's preview") until it
comes, and an applied answer is recorded as what it is — the run `applied`, the step
`applied` (on disk, not validated: Execute validates it, Undo reverts it), the disk synced.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from planfirst.core.workflow import fsio
from planfirst.core.workflow.attempt import StepAttempt
from planfirst.core.workflow.contracts import ApplyOutcome, SessionError
from planfirst.plan.model import RunOutcome

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session


def wait_for_answer(
    s: Session, plan_id: str, order: int, attempt: int, answer: asyncio.Future[ApplyOutcome]
) -> None:
    """Hand the open preview's answer over to a task of its own (the step's task is ending)."""
    s.hand_over(
        plan_id,
        f"executing: waiting for your answer to step {order}'s preview, cancelled meanwhile",
        _record(s, plan_id, order, attempt, answer),
    )


async def _record(
    s: Session, plan_id: str, order: int, attempt: int, answer: asyncio.Future[ApplyOutcome]
) -> None:
    try:
        outcome = await answer
    except Exception as e:  # the editor went away: nothing was applied that we can know of
        s.host.log(f"step {order}: no answer to the cancelled preview ({e})")
        return
    if not outcome.applied:
        return  # the run stays `cancelled`: true
    plan = s.load(plan_id)
    step_attempt = StepAttempt(plan, order)
    st = step_attempt.state
    run = next((r for r in st.runs if r.attempt == attempt), None)
    if run is None or run.outcome != RunOutcome.CANCELLED or st.last_run is not run:
        s.host.log(f"step {order}: the preview was applied after the step changed; not recorded")
        return
    step_attempt.apply_late(run)
    s.save(plan)
    try:
        synced = await fsio.sync_disk(s.guard, s.host, run.after, run.before)
    except SessionError as e:
        s.host.notify(f"Step {order}: {e.message}", "error")
        return
    if synced != run.after:
        step_attempt.partly_applied(run, synced)
        s.save(plan)
    s.host.notify(
        f"Step {order}: you applied its edit after cancelling; it is recorded as applied (not "
        "validated yet). Execute validates it, Undo reverts it.",
        "warning",
    )
