"""The critique pass: a second model checks a fresh plan against the code before it is shown
ready, and one tightening round sends its error findings back to the planner.

The critic gets what the planner got (the same context block, so the same secret and ignore
exclusions) and the same read-only exploration tools (core/planning/explore.py); it has no tool that
writes. Its findings are structured (`submit_critique`) and become `Finding`s beside the lint
findings, with the evidence it looked at and a concrete fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from planfirst.core.planning.context import Context
from planfirst.core.planning.explore import Explorer, exploration_tools
from planfirst.core.planning.plan_lint import lint_plan
from planfirst.core.planning.planner import SUBMIT_PLAN, PlanningResult, planning_stable
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.llm import critique_prompts, prompts
from planfirst.llm.model import Model, ModelError, ModelEvents, ModelRequest, SubmitSpec
from planfirst.plan.model import CritiqueRecord, Finding, PlanBody, Usage
from planfirst.settings import Settings

Kind = Literal[
    "wrong-assumption",
    "missing-step",
    "bad-order",
    "untestable-criterion",
    "unsafe-command",
    "scope-creep",
    "other",
]

# a plan field named by the critic -> the plan document's section (for a finding with no step)
SECTIONS = {
    "summary": "Summary",
    "files_to_modify": "Files to modify",
    "files_to_create": "Files to create",
    "dependency_changes": "Dependency changes",
    "steps": "Steps",
    "test_criteria": "Test criteria",
    "risks": "Risks",
    "assumptions": "Assumptions",
}
MAX_FINDINGS = 20
MAX_EVIDENCE = 6
TEXT_CAP = 1_000


class CriticFinding(BaseModel):
    """One problem the critic can show."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    step: int | None = Field(
        default=None, description="The step it concerns (its order), or null for the whole plan"
    )
    field: str = Field(
        description="The plan field: description, files_to_modify, files_to_create, validation, "
        "test_criteria, dependency_changes, summary, risks or assumptions"
    )
    evidence: list[str] = Field(
        default_factory=list,
        description="Workspace locations you looked at, each 'path:line — what is there'",
    )
    severity: Literal["error", "warning", "info"]
    problem: str = Field(description="What is wrong, in one or two sentences")
    fix: str = Field(description="The concrete change to the plan that fixes it, in words")


class Critique(BaseModel):
    """What the critic submits: its findings (an empty list for a plan with no real problem)."""

    model_config = ConfigDict(extra="forbid")

    findings: list[CriticFinding] = Field(default_factory=list)


SUBMIT_CRITIQUE = SubmitSpec(
    name="submit_critique",
    description=(
        "Submit your review of the plan. Call exactly once, after checking the plan against "
        "the workspace. An empty findings list means the plan has no real problem."
    ),
    schema=Critique,
)


@dataclass
class CriticRun:
    """One critique call: its findings as plan findings, its cost, the files it read."""

    findings: list[Finding]
    model: str
    usage: Usage
    seen: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _cap(text: str, limit: int = TEXT_CAP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_finding(f: CriticFinding, body: PlanBody) -> Finding:
    """A critic's finding as a plan finding; a step the plan does not have becomes plan-wide."""
    orders = {s.order for s in body.steps}
    step = f.step if f.step in orders else None
    message = _cap(f.problem)
    if f.step is not None and step is None:
        message += f" (the critic named step {f.step}, which the plan does not have)"
    return Finding(
        rule=f"critique/{f.kind}",
        severity=f.severity,
        message=message,
        step=step,
        section=None if step else SECTIONS.get(f.field.strip(), "Summary"),
        source="critique",
        field=_cap(f.field, 60) or None,
        evidence=[_cap(e, 300) for e in f.evidence[:MAX_EVIDENCE] if e.strip()],
        fix=_cap(f.fix),
    )


async def run_critic(
    model: Model,
    guard: WorkspaceGuard,
    settings: Settings,
    task: str,
    context: Context,
    body: PlanBody,
    *,
    events: ModelEvents | None = None,
    open_documents: dict[str, str] | None = None,
) -> CriticRun:
    """Ask the critic about `body`; raises ModelError when it fails."""
    explorer = Explorer(guard, open_documents=open_documents or {})
    reasks = settings.planning.max_reasks
    request = ModelRequest(
        purpose="critique",
        system=critique_prompts.CRITIQUE_SYSTEM,
        stable_blocks=[context.render()],
        instruction=critique_prompts.critique_instruction(task, body.model_dump_json(indent=1)),
        tools=exploration_tools(),
        submit=SUBMIT_CRITIQUE,
        max_turns=settings.critique.max_turns + reasks + 2,
        max_reasks=reasks,
        thinking=True,
    )
    run = await model.run(request, explorer.handle, events)
    if not isinstance(run.submitted, Critique):
        raise ModelError("the critic did not submit a critique", kind="no_submit")
    found = [to_finding(f, body) for f in run.submitted.findings[:MAX_FINDINGS]]
    return CriticRun(
        findings=found,
        model=run.model,
        usage=Usage().add(run.usage),
        seen=dict(explorer.seen),
        notes=list(run.notes),
    )


def feedback_text(findings: list[Finding]) -> str:
    """Findings as the planner reads them (also the feedback of "Apply the critic's fix")."""
    out = []
    for f in findings:
        where = f"step {f.step}" if f.step else (f.field or "plan")
        if f.step and f.field:
            where += f", {f.field}"
        line = f"- [{f.severity}] {where}: {f.message} ({f.rule})"
        if f.evidence:
            line += "\n  evidence: " + "; ".join(f.evidence)
        if f.fix:
            line += f"\n  fix: {f.fix}"
        out.append(line)
    return "\n".join(out)


def _same(a: Finding, b: Finding) -> bool:
    return a.rule == b.rule and a.step == b.step


async def critique_and_tighten(
    critic: Model,
    planner: Model,
    guard: WorkspaceGuard,
    settings: Settings,
    task: str,
    context: Context,
    result: PlanningResult,
    *,
    previous_md: str | None = None,
    feedback: str | None = None,
    revision_note: str | None = None,
    events: ModelEvents | None = None,
    critic_events: ModelEvents | None = None,
    open_documents: dict[str, str] | None = None,
) -> CritiqueRecord:
    """Critique `result` (updated in place: body, findings, seen, notes); with error findings,
    one tightening round: the planner gets them once, the new plan is linted and critiqued
    again, and what remains is shown. The record carries the round and its cost."""
    record = CritiqueRecord()
    docs = open_documents or {}

    async def critique(body: PlanBody) -> CriticRun | None:
        try:
            run = await run_critic(
                critic,
                guard,
                settings,
                task,
                context,
                body,
                events=critic_events or events,
                open_documents=docs,
            )
        except ModelError as e:
            # the plan is still valid without a critique (a budget cap may have stopped it):
            # say so, count what it spent, never fail the planning
            record.notes.append(f"the critique did not run: {e.message}")
            _count_spent(record, e)
            return None
        record.model = run.model
        record.usage.add(run.usage)
        result.seen.update(run.seen)
        result.notes.extend(run.notes)
        return run

    first = await critique(result.body)
    if first is None:
        result.findings = [*result.findings, _not_run(record)]
        return record
    findings = first.findings
    errors = [f for f in findings if f.severity == "error"]
    if errors and settings.critique.tighten:
        record.rounds = 1
        body = await _tighten(
            planner,
            guard,
            settings,
            task,
            context,
            result,
            errors,
            record,
            previous_md=previous_md,
            feedback=feedback,
            revision_note=revision_note,
            events=events,
            open_documents=docs,
        )
        if body is not None:
            result.body = body
            result.findings = lint_plan(body, guard, settings, allow=settings.validation.allow)
            again = await critique(body)
            if again is None:
                result.findings = [*result.findings, _not_run(record)]
                return record
            findings = again.findings
            record.fixed = [
                f"{'step ' + str(e.step) + ': ' if e.step else ''}{e.message} ({e.rule})"
                for e in errors
                if not any(_same(e, f) for f in findings)
            ]
    result.findings = [*result.findings, *findings]
    return record


def _count_spent(record: CritiqueRecord, e: ModelError) -> None:
    """What a failed run had already spent (requests answered before the failure), if known."""
    spent = getattr(e, "usage", None)
    if isinstance(spent, Usage):
        record.usage.add(spent)


def _not_run(record: CritiqueRecord) -> Finding:
    return Finding(
        rule="critique/not-run",
        severity="info",
        message=record.notes[-1] if record.notes else "the critique did not run",
        source="critique",
        section="Summary",
    )


async def _tighten(
    planner: Model,
    guard: WorkspaceGuard,
    settings: Settings,
    task: str,
    context: Context,
    result: PlanningResult,
    errors: list[Finding],
    record: CritiqueRecord,
    *,
    previous_md: str | None,
    feedback: str | None,
    revision_note: str | None,
    events: ModelEvents | None,
    open_documents: dict[str, str],
) -> PlanBody | None:
    """The planner's one answer to the critic's errors: the corrected plan, or None."""
    explorer = Explorer(guard, open_documents=open_documents)
    reasks = settings.planning.max_reasks
    request = ModelRequest(
        purpose="plan",
        system=prompts.PLANNING_SYSTEM,
        stable_blocks=planning_stable(context, previous_md),
        instruction=prompts.planning_instruction(task, feedback, revision_note)
        + "\n\n<submitted_plan>\n"
        + result.body.model_dump_json(indent=1)
        + "\n</submitted_plan>\n\n"
        + critique_prompts.CRITIQUE_FEEDBACK.format(findings=feedback_text(errors)),
        tools=exploration_tools(),
        submit=SUBMIT_PLAN,
        max_turns=min(settings.planning.max_explore_turns, 3) + reasks + 2,
        max_reasks=reasks,
        thinking=True,
    )
    try:
        run = await planner.run(request, explorer.handle, events)
    except ModelError as e:
        record.notes.append(f"the tightening round failed: {e.message}")
        _count_spent(record, e)
        return None
    record.usage.add(run.usage)
    result.seen.update(explorer.seen)
    result.notes.extend(run.notes)
    return run.submitted if isinstance(run.submitted, PlanBody) else None
