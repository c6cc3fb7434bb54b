"""Plans before execution: generate, revise, reload a hand-edited plan.md, approve."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from planfirst.core.planning import mcp
from planfirst.core.planning.context import Context, Selection, gather_context, hash_text
from planfirst.core.planning.critique import critique_and_tighten
from planfirst.core.planning.plan_lint import confidence, lint_plan
from planfirst.core.planning.planner import (
    PlanningResult,
    make_plan,
    title_from_task,
)
from planfirst.core.workflow import budget, revisions
from planfirst.core.workflow.contracts import (
    ModelFactory,
    NullProgress,
    Progress,
    SessionError,
    WorkspaceAccess,
)
from planfirst.core.workflow.events import CritiqueEvents, PlanEvents
from planfirst.core.workflow.fsio import read_current
from planfirst.core.workflow.models import check_model_name
from planfirst.core.workspace.path_syntax import PathError
from planfirst.llm.model import ModelError
from planfirst.plan.model import (
    CritiqueRecord,
    Finding,
    Plan,
    PlanBody,
    PlanStatus,
    Provenance,
    Usage,
)
from planfirst.plan.origin import UNTRUSTED_RULE
from planfirst.plan.render import parse_markdown, render, render_partial
from planfirst.plan.store import MAX_MD_BYTES, StoreError, new_plan_id

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session


def _hash_plan_files(ws: WorkspaceAccess, body: PlanBody, known: dict[str, str]) -> dict[str, str]:
    """Hashes of the files the plan modifies that the model did not read, so a later change
    to any of them is reported as stale too (secrets and ignored files are not read)."""
    out: dict[str, str] = {}
    for f in body.files_to_modify:
        if f.path in known or ws.guard.excluded(f.path):
            continue
        try:
            text = read_current(ws.host, ws.guard, f.path)
        except (SessionError, PathError):
            continue
        if text is not None:
            out[f.path] = hash_text(text)
    return out


async def critique_plan(
    ws: WorkspaceAccess,
    models: ModelFactory,
    task: str,
    context: Context,
    result: PlanningResult,
    progress: Progress,
    *,
    previous_md: str | None = None,
    feedback: str | None = None,
    revision_note: str | None = None,
) -> CritiqueRecord | None:
    """The critique pass and its tightening round (core/planning/critique.py), unless turned off."""
    if not ws.settings.critique.enabled:
        return None
    progress.report("critiquing the plan", 80)
    return await critique_and_tighten(
        models.critique(),
        models.planning(),
        ws.guard,
        ws.settings,
        task,
        context,
        result,
        previous_md=previous_md,
        feedback=feedback,
        revision_note=revision_note,
        events=PlanEvents(progress, None),
        critic_events=CritiqueEvents(progress, None),
        open_documents=ws.host.open_documents(),
    )


def record_provenance(
    ws: WorkspaceAccess, prov: Provenance, result: PlanningResult, context: Context
) -> None:
    """Record in `prov` what a planning run saw: its model, the context, and the hash of every
    file it read or the plan modifies (what staleness is later checked against)."""
    prov.planning_model = result.model
    prov.included = context.included
    prov.cut = context.cut
    prov.context_tokens = context.tokens
    prov.context_files.update({e.path: e.sha256 for e in context.included if e.sha256})
    prov.context_files.update(result.seen)
    prov.context_files.update(_hash_plan_files(ws, result.body, prov.context_files))


async def generate(
    s: Session,
    task: str,
    *,
    selection: Selection | None = None,
    files: Sequence[str] = (),
    progress: Progress | None = None,
) -> Plan:
    """Gather context, ask the planning model, lint, persist: a new draft plan."""
    progress = progress or NullProgress()
    if not task or not task.strip():
        raise SessionError("the task is empty; say what you want changed")
    title = title_from_task(task)
    plan_id = new_plan_id(title)

    def on_partial(snapshot: dict[str, Any]) -> None:
        if plan_id in s.partial:
            s.partial[plan_id] = render_partial(title, task, snapshot)
            s.host.plan_changed(plan_id)

    async with s.exclusive(plan_id, "generating the plan"):
        # no key (or no model) fails here, before a plan document is shown for a plan that
        # would never exist (the editor's view kept its "unknown plan" error open)
        planner = s.models.planning()
        progress.report("gathering context", 5)
        for f in files:
            s.guard.rel(f)  # refuse paths outside the workspace before anything else
        if selection is not None:
            s.guard.rel(selection.path)
        context = await asyncio.to_thread(
            gather_context,
            s.guard,
            task,
            s.settings.context,
            selection=selection,
            files=list(files),
            open_documents=s.host.open_documents(),
        )
        s.partial[plan_id] = render_partial(title, task, {})
        s.host.plan_started(plan_id, title)
        progress.report(
            f"thinking ({len(context.included)} files of context, ~{context.tokens:,} tokens)", 15
        )
        try:
            with mcp.offering(_mcp(s), s.settings.context.token_budget * 2):
                result = await make_plan(
                    planner,
                    s.guard,
                    s.settings,
                    task,
                    context,
                    events=PlanEvents(progress, on_partial),
                    open_documents=s.host.open_documents(),
                )
                critique = await critique_plan(s, s.models, task, context, result, progress)
        finally:
            s.partial.pop(plan_id, None)
        prov = Provenance(execution_model=s.settings.execution_model, critique=critique)
        record_provenance(s, prov, result, context)
        plan = Plan(id=plan_id, title=title, task=task.strip(), body=result.body, provenance=prov)
        plan.usage.add(result.usage)
        if critique is not None:
            plan.usage.add(critique.usage)
        plan.findings = result.findings + mcp_findings(s)
        plan.confidence = confidence(plan.body, result.findings, 0)
        budget.refresh_estimate(s, plan)
        progress.report("saving the plan", 95)
        s.store.save(plan)
        s.store.set_active(plan.id)
        s.host.plan_changed(plan.id)
        for note in result.notes:
            s.host.log(f"[{plan.id}] {note}")
        return plan


def _mcp(s: Session) -> mcp.McpTools | None:
    """The MCP tools of whoever plans now: the ACP session's own (its host has them), else
    the ones from the user's settings (s.mcp)."""
    own = getattr(s.host, "mcp_tools", None)
    return own() if callable(own) else s.mcp


def mcp_findings(s: Session) -> list[Finding]:
    """The plan's notes about MCP: tools not offered (not read-only), servers not connected."""
    tools = _mcp(s)
    if tools is None:
        return []
    return [Finding(rule="context/mcp", severity="info", message=n) for n in tools.notes()]


async def revise(
    s: Session,
    plan_id: str,
    feedback: str,
    progress: Progress | None = None,
    steps: Sequence[int | str] = (),
) -> Plan:
    """Revision N+1 from the plan, the feedback and fresh context; old revisions kept. `steps`
    names the only steps to change (by number or id): the rest must come back identical."""
    progress = progress or NullProgress()
    if not feedback or not feedback.strip():
        raise SessionError("the feedback is empty; say what should change in the plan")
    plan = s.load(plan_id)
    targets = revisions.resolve_targets(plan, steps)
    s.refuse_if_elsewhere(plan.id)  # its running step is another process's to finish or cancel
    revisions.refuse_busy(plan, s.busy().get(plan.id))
    async with s.exclusive(plan.id, "revising the plan"):
        progress.report("gathering context", 5)
        files = sorted({p for step in plan.body.steps for p in step.files_to_modify})
        context = await asyncio.to_thread(
            gather_context,
            s.guard,
            plan.task,
            s.settings.context,
            files=files,
            open_documents=s.host.open_documents(),
        )
        progress.report("revising", 15)
        previous_md = render(plan).text

        def ask(note: str) -> Awaitable[PlanningResult]:
            return make_plan(
                s.models.planning(),
                s.guard,
                s.settings,
                plan.task,
                context,
                previous_md=previous_md,
                feedback=feedback,
                revision_note=note,
                events=PlanEvents(progress, None),
                open_documents=s.host.open_documents(),
            )

        with mcp.offering(_mcp(s), s.settings.context.token_budget * 2):
            try:
                result, not_asked = await revisions.ask_revision(ask, plan, targets)
            except ModelError as e:
                if e.usage is not None:  # the requests answered before it failed cost all the same
                    _count_refused(s, plan.id, e.usage)
                raise
            critique = await critique_plan(
                s,
                s.models,
                plan.task,
                context,
                result,
                progress,
                previous_md=previous_md,
                feedback=feedback,
                revision_note=revisions.revision_note(plan, targets),
            )
        if critique is not None and critique.rounds:
            # the tightening round's plan keeps the revision's step ids and targets too
            result.body = revisions.adopt_ids(plan.body, result.body)
            extra = revisions.unrequested(plan.body, result.body, targets)
            not_asked = [*not_asked, *(i for i in extra if i not in not_asked)]
        new = plan.model_copy(deep=True)
        new.revision = plan.revision + 1
        new.feedback = [*plan.feedback, feedback.strip()]
        new.body = result.body
        new.steps = []
        new = Plan.model_validate(new.model_dump())
        # steps matched by id keep their runs; unchanged ones keep status and approval
        try:
            revisions.carry_over(
                plan, new, hand_edit=False, feedback=feedback, targets=targets, not_asked=not_asked
            )
        except SessionError:
            # refused after the model answered (it dropped a step whose edit is on disk): what
            # the revision cost is the plan's all the same (#29)
            _count_refused(s, plan.id, result.usage, critique.usage if critique else None)
            raise
        s.store.save_revision(plan)
        new.findings = result.findings + mcp_findings(s)
        new.confidence = confidence(new.body, result.findings, 0)
        new.usage.add(result.usage)
        if critique is not None:
            new.usage.add(critique.usage)
        new.provenance.critique = critique
        record_provenance(s, new.provenance, result, context)
        new.diagnosis = None
        budget.refresh_estimate(s, new)
        s.save(new)
        return new


def _count_refused(s: Session, plan_id: str, *spent: Usage | None) -> None:
    """Add what a revision that was not kept cost to the plan's usage, and save it."""
    plan = s.load(plan_id)
    for u in (u for u in spent if u is not None):
        plan.usage.add(u)
    s.save(plan)


async def approve(
    s: Session,
    plan_id: str | None,
    *,
    force: bool = False,
    execution_model: str | None = None,
    revision: int | None = None,
) -> Plan:
    """Mark a plan approved; plans with lint errors need confirmation (or force). An
    `execution_model` runs its steps instead of the executionModel setting; the plan's cost
    estimate is made afresh for the model that will run it. `revision`: the one the user saw."""
    plan = s.load(plan_id)
    s.refuse_if_busy(plan.id)
    revisions.refuse_changed(plan, revision)
    if execution_model is not None:
        plan.execution_model = check_model_name(execution_model)
    if plan.status in (PlanStatus.APPROVED, PlanStatus.EXECUTING) or (
        plan.status == PlanStatus.FAILED and execution_model is not None
    ):
        if execution_model is not None:  # choosing another model for the steps still to run
            budget.refresh_estimate(s, plan)
            s.save(plan)
        return plan
    if plan.status == PlanStatus.DONE:
        if execution_model is not None:
            raise SessionError(
                f"plan {plan.id!r} is already done: no step is left to run on {execution_model}"
            )
        raise SessionError(f"plan {plan.id!r} is already done")
    errors = [f for f in plan.findings if f.severity == "error"]
    if errors and not force:
        # the critic's errors first: they are about the code, not the plan's form
        errors.sort(key=lambda f: f.source != "critique")
        critic = sum(1 for f in errors if f.source == "critique")
        which = f" ({critic} from the critic)" if critic else ""
        answer = await s.host.confirm(
            f"The plan '{plan.title}' has {len(errors)} review error(s){which}, e.g. {errors[0].message}. Approve anyway?"
        )
        if not answer:
            raise SessionError(
                f"not approved: the plan has {len(errors)} review error(s); revise it or approve with force",
                "lint_errors",
            )
        now = s.load(plan.id)  # the question may have been open a while: the plan as it is now
        s.refuse_if_busy(plan.id)
        revisions.refuse_changed(now, plan.revision, plan.status)
        now.execution_model, plan = plan.execution_model, now
    plan.status = PlanStatus.APPROVED
    revisions.approve_steps(plan)
    budget.refresh_estimate(s, plan)
    s.save(plan)
    s.store.set_active(plan.id)
    return plan


def reload(s: Session, plan_id: str | None) -> Plan:
    """Parse the user-edited plan.md back into the plan (a draft again if it changed)."""
    plan = s.load(plan_id)
    s.refuse_if_busy(plan.id)
    path = s.store.plan_md(plan.id)
    try:  # never through a link, never blocking on a FIFO (docs/reliability.md case 36)
        text = s.store.read_file(path, MAX_MD_BYTES)
    except OSError as e:
        raise SessionError(f"cannot read {path}: {e}") from None
    except StoreError as e:
        raise SessionError(str(e), "corrupt_plan") from None
    try:
        task, body = parse_markdown(text)
    except ValueError as e:
        raise SessionError(f"{path}: {e}", "parse_error") from None
    body = revisions.adopt_ids(plan.body, body)  # a step whose id comment was lost keeps its id
    if body == plan.body and (task or plan.task) == plan.task:
        return plan
    data = plan.model_dump()
    data["body"] = body.model_dump()
    data["steps"] = []
    new = Plan.model_validate(data)
    new.task = task or plan.task
    new.revision = plan.revision + 1
    new.feedback = [*plan.feedback, "(edited by hand in plan.md)"]
    # steps matched by their id comment; done steps stay done (you edited the plan by hand);
    # every step keeps its runs (#23 case 6)
    revisions.carry_over(plan, new, hand_edit=True, feedback="(edited by hand in plan.md)")
    s.store.save_revision(plan)
    new.status = PlanStatus.DRAFT
    new.findings = lint_plan(body, s.guard, s.settings, allow=s.settings.validation.allow)
    # a plan planfirst did not write stays foreign through a reload: saving it seals it, and
    # its approval must still be an explicit decision (docs/reliability.md case 38)
    new.findings[:0] = [f for f in plan.findings if f.rule == UNTRUSTED_RULE]
    new.confidence = confidence(body, new.findings, 0)
    budget.refresh_estimate(s, new)
    if new.provenance.critique is not None:  # it critiqued the text before the hand edit
        new.provenance.critique.notes.append(
            f"revision {new.revision} was edited by hand and not critiqued again"
        )
    s.save(new)
    return new
