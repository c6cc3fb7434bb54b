"""Core results shaped as the JSON the commands answer with (camelCase, like LSP)."""

from __future__ import annotations

from typing import Any

from planfirst.core.contracts import StepOutcome


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
