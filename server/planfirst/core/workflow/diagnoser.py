"""When the plan's test criteria fail after the last step: ask the planning model which step's
assumption broke, against the plan and the diffs that were applied."""

from __future__ import annotations

from typing import Any

from planfirst.llm import prompts
from planfirst.llm.model import Model, ModelRequest, SubmitSpec, ToolOutcome
from planfirst.plan.model import Diagnosis, Plan, ValidationResult
from planfirst.plan.render import render

SUBMIT_DIAGNOSIS = SubmitSpec(
    name="submit_diagnosis",
    description="Submit your diagnosis of the failed test criteria against the plan.",
    schema=Diagnosis,
)


def format_failures(results: list[ValidationResult], limit: int = 12_000) -> str:
    """The failed commands and the tail of their output, for the model."""
    parts = []
    for r in results:
        if r.passed:
            continue
        head = f"$ {r.command}\n(exit code {r.exit_code}{', timed out' if r.timed_out else ''})\n"
        parts.append(head + r.output[-(limit // max(1, len(results))) :])
    return "\n\n".join(parts)


def diagnosis_request(plan: Plan, results: list[ValidationResult]) -> ModelRequest:
    """The request: the plan (cacheable), step statuses, applied diffs, the failures."""
    steps = "\n".join(
        f"{s.order}. [{plan.state(s.order).status.value}] {s.description.strip()}"
        for s in plan.body.steps
    )
    diffs = "\n".join(
        run.proposed_diff if (run := plan.state(s.order).last_run) is not None else ""
        for s in plan.body.steps
    )[-20_000:]
    return ModelRequest(
        purpose="diagnose",
        system=prompts.DIAGNOSE_SYSTEM,
        stable_blocks=[render(plan).text],
        instruction=(
            f"<steps>\n{steps}\n</steps>\n\n<applied_diffs>\n{diffs}\n</applied_diffs>\n\n"
            f"<failing_test_criteria>\n{format_failures(results)}\n</failing_test_criteria>\n\n"
            "Call `submit_diagnosis`."
        ),
        submit=SUBMIT_DIAGNOSIS,
        max_turns=3,
        max_reasks=1,
        thinking=True,
    )


async def diagnose(model: Model, plan: Plan, results: list[ValidationResult]) -> Diagnosis | None:
    """The model's diagnosis (None if it gave none); its usage is added to the plan."""

    async def no_tools(name: str, tool_input: dict[str, Any]) -> ToolOutcome:
        return ToolOutcome(f"no tool {name!r} in this phase; call submit_diagnosis", is_error=True)

    run = await model.run(diagnosis_request(plan, results), no_tools, None)
    plan.usage.add(run.usage)
    return run.submitted if isinstance(run.submitted, Diagnosis) else None
