"""What an editor's list of plans shows (the VS Code Plans view): each plan's steps.

`planfirst.listPlans` rows gain `stepList`: every step's number, status and the first line of its
description (invisible characters made visible, docs/reliability.md case 34), whether a revision
left it needing redo (`needsRedo`), whether an edit of it is on disk (`hasEdit`) and whether
`undoStep` accepts it now (`undoable`: the step whose edit landed last), and, when a review
applied only part of its edit, the files left out (`leftOut`) and applied in part
(`appliedInPart`), so a client can list a plan's steps and offer the actions valid for each
without parsing the plan document (#29, #33).
"""

from __future__ import annotations

from typing import Any

from planfirst.core.workflow import records
from planfirst.core.workflow.session import Session, SessionError
from planfirst.lsp.plan_docs import busy_with
from planfirst.plan.model import Plan, StepState
from planfirst.plan.revision_diff import redo_pending
from planfirst.plan.visible import encode

TITLE_CHARS = 120


def step_rows(plan: Plan) -> list[dict[str, Any]]:
    """Each step of `plan`: {order, status, title, needsRedo, hasEdit, undoable, and leftOut /
    appliedInPart when partly applied} in plan order."""
    try:
        last = records.undo_target(plan)
    except SessionError:
        last = None
    rows: list[dict[str, Any]] = []
    for step in plan.body.steps:
        try:
            st = plan.state(step.order)
        except KeyError:
            st = StepState(order=step.order)
        left_out, in_part = st.partly_applied()
        first = (step.description.strip().splitlines() or [""])[0]
        title = first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1].rstrip() + "…"
        rows.append(
            {
                "order": step.order,
                "status": st.status.value,
                "title": encode(title),
                "needsRedo": redo_pending(plan, step.order),
                "hasEdit": records.has_live_edit(st),
                "undoable": step.order == last,
            }
        )
        if left_out or in_part:  # a review applied only part of its edit (#33)
            rows[-1]["leftOut"] = [encode(p) for p in left_out]
            rows[-1]["appliedInPart"] = [encode(p) for p in in_part]
    return rows


def add_step_lists(session: Session, rows: list[dict[str, Any]]) -> None:
    """Give every listPlans row its `stepList` (empty for a plan that cannot be read now) and
    what runs on it (`busy`, `elsewhere`): the Plans view offers no action on a busy plan."""
    for r in rows:
        here, elsewhere = busy_with(session, r["id"])
        r["busy"] = here or elsewhere
        r["elsewhere"] = elsewhere is not None
        try:
            r["stepList"] = step_rows(session.view(r["id"])[0])
        except (SessionError, OSError, ValueError):
            r["stepList"] = []
