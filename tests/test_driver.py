"""core/workflow/driver.py: the one loop that runs a plan's remaining steps (used by the terminal and the
ACP agent), over a small plan whose steps answer from a list."""

from __future__ import annotations

from dataclasses import dataclass, field

from planfirst.core.workflow.driver import StepReport, run_remaining


@dataclass
class Plan:
    """A plan whose steps end as `results` says, in order; done when every step is done."""

    results: list[str]
    steps: int
    done: int = 0
    criteria: bool = False  # the test criteria ran (the plan is then done)
    shown: list[tuple[int | None, str]] = field(default_factory=list)

    async def execute_next(self) -> tuple[int | None, str]:
        if self.done == self.steps:
            self.criteria = True
            return (None, "done")  # the test criteria
        status = self.results.pop(0)
        if status == "done":
            self.done += 1
        return (self.done if status == "done" else self.done + 1, status)

    async def status(self) -> str:
        return "done" if self.criteria else "executing"

    def show(self, outcome: tuple[int | None, str], rep: StepReport) -> None:
        self.shown.append((rep.step, rep.status))


def report(outcome: tuple[int | None, str]) -> StepReport:
    return StepReport(*outcome)


async def test_runs_every_step_then_the_criteria() -> None:
    plan = Plan(["done", "done"], steps=2)
    end = await run_remaining(plan.execute_next, report, plan.status, plan.show)
    assert end.finished and not end.stopped_by_step and end.plan_status == "done"
    assert plan.shown == [(1, "done"), (2, "done"), (None, "done")]


async def test_a_step_that_is_not_done_stops_the_run() -> None:
    for status in ("rejected", "failed", "conflict"):
        plan = Plan(["done", status, "done"], steps=3)
        end = await run_remaining(plan.execute_next, report, plan.status, plan.show)
        assert end.stopped_by_step and end.report == StepReport(2, status)
        assert plan.shown == [(1, "done"), (2, status)] and end.last == (2, status)


async def test_a_finished_plan_ends_the_run_after_its_last_step() -> None:
    plan = Plan(["done"], steps=1)

    async def failed() -> str:
        return "failed"

    end = await run_remaining(plan.execute_next, report, failed, plan.show)
    assert end.finished and end.plan_status == "failed" and plan.shown == [(1, "done")]
