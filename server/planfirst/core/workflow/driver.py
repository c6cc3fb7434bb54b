"""The one loop that runs a plan's remaining steps until something stops it.

Every face runs steps the same way (STYLE.md 15): execute the next step; a step that is not
done (rejected, failed, a conflict) stops the run; a plan that is done or failed, or a step-less
outcome (the test criteria ran), ends it. The face supplies how to run one step (the ACP agent
calls the core directly, the terminal sends `planfirst.executeNextStep` to the language server)
and what to show after each; the driver decides when to stop, once for all of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

FINISHED = ("done", "failed")  # plan statuses that end a run


@dataclass(frozen=True)
class StepReport:
    """What one executed step came to, in the terms the driver decides by."""

    step: int | None  # None: no step was left, the test criteria ran
    status: str  # a StepResult value: done, failed, rejected, conflict, …


@dataclass(frozen=True)
class RunEnd(Generic[T]):
    """Why a run stopped, with the last step's outcome as the face had it."""

    finished: bool  # the plan ran to its end (done or failed as a whole)
    plan_status: str  # the plan's status when the run stopped ("" when it was not read)
    last: T  # the last outcome (a StepOutcome, or the face's answer to executeNextStep)
    report: StepReport

    @property
    def stopped_by_step(self) -> bool:
        """The run stopped at a step that was not done (the face says what the user can do)."""
        return not self.finished


async def run_remaining(
    execute_next: Callable[[], Awaitable[T]],
    report: Callable[[T], StepReport],
    plan_status: Callable[[], Awaitable[str]],
    after_step: Callable[[T, StepReport], Awaitable[None] | None] | None = None,
) -> RunEnd[T]:
    """Run the remaining steps until one is not done or the plan is finished.

    `execute_next` runs the next step and returns the face's outcome; `report` reads it;
    `plan_status` reads the plan's status after a step; `after_step` shows the outcome (it
    may be async). Exceptions (a cancel, a refused request) go to the caller unchanged."""
    while True:
        outcome = await execute_next()
        rep = report(outcome)
        if after_step is not None:
            shown = after_step(outcome, rep)
            if shown is not None:
                await shown
        if rep.status != "done":
            return RunEnd(False, "", outcome, rep)
        status = await plan_status()
        if rep.step is None or status in FINISHED:
            return RunEnd(True, status, outcome, rep)
