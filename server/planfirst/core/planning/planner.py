"""Task + context → PlanBody through a Model; revise(plan, feedback) → the next revision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planfirst.core.planning.context import Context
from planfirst.core.planning.explore import Explorer, exploration_tools
from planfirst.core.planning.plan_lint import USER_ONLY_RULES, lint_plan
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.llm import prompts
from planfirst.llm.model import Model, ModelError, ModelEvents, ModelRequest, SubmitSpec
from planfirst.plan.model import Finding, PlanBody, Usage
from planfirst.settings import Settings

SUBMIT_PLAN = SubmitSpec(
    name="submit_plan",
    description=(
        "Submit the complete structured plan. Call exactly once, after exploring. "
        "Every field follows the schema; paths are workspace-relative POSIX paths."
    ),
    schema=PlanBody,
)


@dataclass
class PlanningResult:
    """What one planning (or revision) round produced."""

    body: PlanBody
    model: str
    usage: Usage
    findings: list[Finding]
    seen: dict[str, str] = field(default_factory=dict)  # path -> sha256 of files explored
    notes: list[str] = field(default_factory=list)
    lint_rounds: int = 0


def _lint_text(findings: list[Finding]) -> str:
    return "\n".join(
        f"- [{f.severity}] {'step ' + str(f.step) + ': ' if f.step else ''}{f.message} ({f.rule})"
        for f in findings
    )


def planning_stable(context: Context, previous_md: str | None = None) -> list[str]:
    """The stable blocks of every planning request for one plan (the cached prefix)."""
    stable = [context.render()]
    if previous_md:
        stable.append(f"<previous_plan_revision>\n{previous_md}\n</previous_plan_revision>")
    return stable


async def make_plan(
    model: Model,
    guard: WorkspaceGuard,
    settings: Settings,
    task: str,
    context: Context,
    *,
    previous_md: str | None = None,
    feedback: str | None = None,
    revision_note: str | None = None,
    events: ModelEvents | None = None,
    open_documents: dict[str, str] | None = None,
) -> PlanningResult:
    """Ask the planning model for a plan, lint it, and give the findings back to it once."""
    explorer = Explorer(guard, open_documents=open_documents or {})
    stable = planning_stable(context, previous_md)
    request = ModelRequest(
        purpose="plan",
        system=prompts.PLANNING_SYSTEM,
        stable_blocks=stable,
        instruction=prompts.planning_instruction(task, feedback, revision_note),
        tools=exploration_tools(),
        submit=SUBMIT_PLAN,
        max_turns=settings.planning.max_explore_turns + settings.planning.max_reasks + 2,
        max_reasks=settings.planning.max_reasks,
        thinking=True,
    )
    run = await model.run(request, explorer.handle, events)
    if not isinstance(run.submitted, PlanBody):
        raise ModelError("the planning model did not submit a plan", kind="no_submit")
    body = run.submitted
    usage = Usage().add(run.usage)
    notes = list(run.notes)
    findings = lint_plan(body, guard, settings, allow=settings.validation.allow)
    rounds = 0
    actionable = [
        f for f in findings if f.severity in ("error", "warning") and f.rule not in USER_ONLY_RULES
    ]
    if actionable and settings.planning.lint_feedback:
        rounds = 1
        request2 = ModelRequest(
            purpose="plan",
            system=prompts.PLANNING_SYSTEM,
            stable_blocks=stable,
            instruction=prompts.planning_instruction(task, feedback, revision_note)
            + "\n\n<submitted_plan>\n"
            + body.model_dump_json(indent=1)
            + "\n</submitted_plan>\n\n"
            + prompts.PLAN_LINT_FEEDBACK.format(findings=_lint_text(actionable)),
            tools=exploration_tools(),
            submit=SUBMIT_PLAN,
            max_turns=settings.planning.max_reasks + 3,
            max_reasks=settings.planning.max_reasks,
            thinking=True,
        )
        try:
            run2 = await model.run(request2, explorer.handle, events)
        except ModelError as e:
            # the first plan is still valid: keep it, record why it was not tightened
            notes.append(f"plan review feedback round failed: {e.message}")
        else:
            usage.add(run2.usage)
            notes.extend(run2.notes)
            if isinstance(run2.submitted, PlanBody):
                body = run2.submitted
                findings = lint_plan(body, guard, settings, allow=settings.validation.allow)
    return PlanningResult(
        body=body,
        model=run.model,
        usage=usage,
        findings=findings,
        seen=dict(explorer.seen),
        notes=notes,
        lint_rounds=rounds,
    )


def title_from_task(task: str) -> str:
    """A short title for a plan: the task's first line, trimmed."""
    first = task.strip().splitlines()[0] if task.strip() else "Untitled plan"
    return first if len(first) <= 72 else first[:69].rstrip() + "…"


def snapshot_preview(snapshot: dict[str, Any]) -> str:
    """One line describing how far a streaming plan has come (for progress messages)."""
    steps = snapshot.get("steps") or []
    if steps:
        return f"writing the plan: {len(steps)} step(s) so far"
    if snapshot.get("summary"):
        return "writing the plan: summary"
    return "writing the plan"
