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

from planfirst.core.workflow import fsio, records
from planfirst.core.workflow.contracts import ApplyOutcome, SessionError
from planfirst.plan.model import RunOutcome, StepStatus

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
    st = plan.state(order)
    run = next((r for r in st.runs if r.attempt == attempt), None)
    if run is None or run.outcome != RunOutcome.CANCELLED or st.last_run is not run:
        s.host.log(f"step {order}: the preview was applied after the step changed; not recorded")
        return
    records.mark_applied(plan, run)
    run.error = None
    st.status = StepStatus.APPLIED
    s.save(plan)
    try:
        synced = await fsio.sync_disk(s.guard, s.host, run.after, run.before)
    except SessionError as e:
        s.host.notify(f"Step {order}: {e.message}", "error")
        return
    if synced != run.after:
        run.left_out, run.applied_in_part = fsio.partly_applied(run.before, run.after, synced)
        run.after = synced
        s.save(plan)
    s.host.notify(
        f"Step {order}: you applied its edit after cancelling; it is recorded as applied (not "
        "validated yet). Execute validates it, Undo reverts it.",
        "warning",
    )
