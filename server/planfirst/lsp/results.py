"""Core results shaped as the JSON the commands answer with (camelCase, like LSP)."""

from __future__ import annotations

from typing import Any

from planfirst.core.workflow.contracts import StepOutcome
from planfirst.plan.model import Plan
from planfirst.plan.revision_diff import needing_approval, redo_pending
from planfirst.plan.revision_view import NotesIndex, undo_note


def step_result(outcome: StepOutcome) -> dict[str, Any]:
    """The executeNextStep / retryStep / undoStep result sent to the client."""
    return {
        "planId": outcome.plan_id,
        "step": outcome.step,
        "status": outcome.status.value,
        "attempts": outcome.attempts,
        "problems": outcome.problems,
        "message": outcome.message,
        "staleFiles": outcome.stale_files,
    }


def changed(plan: Plan) -> dict[str, Any]:
    """What a revision (revisePlan, reloadPlan) changed, and what it needs from the user."""
    ch = plan.changes
    idx = NotesIndex(plan)  # once: a lookup per step would be quadratic (case 42)
    return {
        "changes": [
            {"id": c.id, "before": c.before, "after": c.after, "kinds": c.kinds}
            for c in (ch.steps if ch else [])
        ],
        "needsApproval": [s.order for s in needing_approval(plan)],
        "needsRedo": [st.order for st in plan.steps if redo_pending(plan, st.order)],
        "notAskedFor": list(ch.unrequested) if ch else [],
        # a step put before steps whose edit is on disk: what that means for undo (#29)
        "undoOrder": [n for s in plan.body.steps if (n := undo_note(plan, s, idx)) is not None],
    }
