"""The step state machine: run a step (propose → review → apply → validate, retried with the
errors), recover a step a killed server left running, detect stale files.

A step's status moves pending → running → applied → done | failed (a rejected edit returns it
to pending, or to failed while an earlier attempt's edit is on disk: records.settled); each
attempt is a StepRun whose `RunOutcome` says what became of it. The transitions are the methods
of StepAttempt (attempt.py), the only code that changes either. Every transition is saved before
the next begins, so a killed server resumes where it stopped; the ones a power loss must
not undo (applied, done, failed) are also fsynced, the others are not (#32,
docs/performance.md). docs/how-it-works.md "The step state machine" documents every state and
what each command does in it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from planfirst.core.editing import outline
from planfirst.core.editing.executor import LargeFiles, ProposedChange, propose_step
from planfirst.core.editing.overlay import Unreadable
from planfirst.core.editing.reoffer import stored_proposal
from planfirst.core.workflow import budget, checks, fsio, records, review, staleness
from planfirst.core.workflow.attempt import RESTARTABLE, StepAttempt
from planfirst.core.workflow.contracts import (
    Progress,
    SessionError,
    StepOutcome,
    StepResult,
    WorkspaceAccess,
)
from planfirst.core.workflow.events import PlanEvents
from planfirst.core.workflow.models import execution_model, execution_model_name
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.core.workspace.trust import needs_confirmation
from planfirst.llm.model import ModelError
from planfirst.plan.model import (
    Plan,
    PlanStatus,
    Step,
    StepRun,
    StepState,
    StepStatus,
)
from planfirst.settings import Settings

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session


def step_to_retry(plan: Plan) -> int:
    """The step a retry without a step number means: the first one not done nor in progress."""
    for st in plan.steps:
        if st.status in RESTARTABLE:
            return st.order
    raise SessionError(f"plan {plan.id!r} has no step to retry")


def recover(ws: WorkspaceAccess, plan: Plan, order: int) -> None:
    """A step left RUNNING by a killed server: find out whether its edit landed."""
    StepAttempt(plan, order).recover(lambda rel: fsio.read_disk(ws.guard, rel))


async def execute(s: Session, plan: Plan, order: int | None, progress: Progress) -> StepOutcome:
    """Run step `order` (None: the next pending one, or the final checks after the last).
    Execute (no order) offers a discarded edit again; Retry Step (an order) asks the model afresh.
    `plan` is only read (it may be the shared one, Session.peek): the step works on a copy."""
    reoffer = order is None
    if plan.status == PlanStatus.DRAFT:
        raise SessionError(
            f"plan {plan.id!r} is not approved; review it and run 'planfirst.approvePlan' first",
            "not_approved",
        )
    async with s.exclusive(plan.id, "executing a step"):
        plan = s.load(plan.id)  # fresh from disk now that we hold the plan
        for st in plan.steps:
            if st.status == StepStatus.RUNNING:
                recover(s, plan, st.order)
        if order is None:
            order = plan.next_step()
            if order is None:
                return await _final_checks(s, plan, progress)
        else:
            for st in plan.steps:
                if st.order < order and st.status != StepStatus.DONE:
                    raise SessionError(f"step {st.order} is not done yet; run the steps in order")
            if plan.state(order).status == StepStatus.DONE:
                raise SessionError(f"step {order} is already done; undo it first to run it again")
        plan.status = PlanStatus.EXECUTING
        s.store.set_active(plan.id)
        meter = budget.for_step(s, plan, order, progress.report)
        try:
            with budget.metered(meter):
                outcome = await _run_step(s, plan, plan.body.step(order), progress, reoffer)
        except asyncio.CancelledError:
            attempt = StepAttempt(plan, order)
            if attempt.status == StepStatus.RUNNING:
                attempt.cancel()
                s.save(plan)
            raise
        budget.record_step(s, plan, order, outcome.attempts)
        if outcome.status == StepResult.DONE and plan.next_step() is None:
            # plan.md shows the last step done while the test criteria run (minutes, maybe):
            # not left to the operation's end like the other steps' (Session.save: last)
            s.store.md_later(plan.id)
            final = await _final_checks(s, plan, progress)
            outcome.message = (outcome.message + " " + final.message).strip()
        # this copy is never changed again: the next reader of the plan takes it as it is (#32)
        s.store.adopt(plan)
        return outcome


async def _final_checks(s: Session, plan: Plan, progress: Progress) -> StepOutcome:
    """The plan's final checks under the plan cap; what a diagnosis cost (answered, failed or
    stopped) is counted in the plan's spending (docs/reliability.md case 41)."""
    meter = budget.for_plan(s, plan)
    try:
        with budget.metered(meter):
            return await checks.final_checks(s, plan, progress)
    finally:
        if meter.spent.cost_usd > 0:
            plan.extra_spent = round(plan.extra_spent + meter.spent.cost_usd, 6)
            s.save(plan)


def _refuse_excluded(guard: WorkspaceGuard, step: Step) -> None:
    for p in step.files:
        why = guard.excluded(p)
        if why:
            # never send (or let the model edit) a secret or an ignored file, even if the plan names it
            raise SessionError(
                f"step {step.order} names {p}, which planfirst never reads or edits ({why}); "
                "revise the plan to leave it out",
                "excluded_file",
            )


async def _run_step(
    s: Session, plan: Plan, step: Step, progress: Progress, reoffer: bool
) -> StepOutcome:
    attempt = StepAttempt(plan, step.order)
    st = attempt.state
    total = len(plan.steps)
    attempts = 0
    errors: str | None = None
    stale_seen: list[str] = []
    recorded = False  # `errors` are a record of an earlier command: the user may have fixed them
    if st.status == StepStatus.APPLIED and st.last_run is not None:
        # resume: the edit landed before a restart (or after a cancel); validate it now, counting
        # the tries the interrupted Execute / Retry had made toward maxAttempts (#23 case 9)
        await fsio.resume_disk(s.guard, s.host, step, st.last_run)
        attempts = records.resumed_attempts(st)
        outcome, errors = await _validate_attempt(
            s, plan, step, st.last_run, attempts, [], progress
        )
        if outcome is not None:
            return outcome
    elif st.status == StepStatus.FAILED:
        # a retry of a failed step: tell the model why it failed (#23 case 7)
        errors = records.last_failure(st)
        recorded = errors is not None
    _refuse_excluded(s.guard, step)
    while True:
        attempts += 1
        pct = int(100 * (step.order - 1) / max(1, total))
        progress.report(f"step {step.order}/{total}: reading the files (attempt {attempts})", pct)
        files = {p: s.read_current(p) for p in step.files}
        for p in step.files_to_modify:
            if files[p] is None and p not in step.files_to_create:
                s.host.notify(
                    f"step {step.order}: {p} does not exist; the model may create it", "warning"
                )
        stale = staleness.stale_files(plan, step, files) if attempts == 1 else []
        if stale:
            stale_seen = stale
            s.host.notify(
                f"Plan may be stale: {', '.join(stale)} changed since the plan was made; "
                f"step {step.order} runs on the current text.",
                "warning",
            )
        # a proposal you discarded is offered again while its files are unchanged (Execute only)
        stored = stored_proposal(st, s.read_current) if reoffer and attempts == 1 else None
        if stored is not None and st.last_run is not None:
            # the same attempt offered again, not a new one: its run (number, model, cost) goes on
            run = st.last_run
            attempt.reoffer(run, attempts, stale)
        else:
            run = StepRun(
                attempt=len(st.runs) + 1,
                execution_attempt=attempts,
                stale_files=stale,
                model=execution_model_name(s.settings, plan),
            )
            attempt.begin(run)
        # not durable (lost to a power cut, the step simply runs again), and written by the
        # background writer while the model is asked: the next save waits for it
        s.save(plan, durable=False, wait=stored is not None)
        if stored is not None:  # the discarded edit again, at no model cost
            change = stored
            s.host.log(f"step {step.order}: offering the edit you did not apply again")
        else:
            progress.report(f"step {step.order}/{total}: asking {run.model}", pct)
            change = await _propose(s, plan, step, run, files, stale, errors, attempts, progress)
        if change.empty:
            attempt.no_change(run)
            s.save(plan, durable=False)
            # fixing a failure this command saw, or its writes refused by what the workspace
            # holds now (QA: a file made meanwhile), no change fails; validation decides otherwise
            if not step.validation or (errors and not recorded) or change.refused:
                why = "; ".join(change.refused)
                attempt.fail("the model proposed no change" + (f": {why}" if why else ""))
                s.save(plan)
                return StepOutcome(
                    plan.id,
                    step.order,
                    StepResult.FAILED,
                    attempts,
                    message="the model proposed no change for this step"
                    + (f": {why}" if why else ""),
                )
        else:
            declined = await _apply(s, plan, step, run, change, attempts, progress, pct)
            if declined is not None:
                return declined
        outcome, errors = await _validate_attempt(
            s, plan, step, run, attempts, stale_seen, progress
        )
        recorded = False
        if outcome is not None:
            return outcome
        if not change.empty:
            s.host.notify(
                f"Step {step.order}: validation failed; asking the model to fix it "
                f"(attempt {attempts + 1}/{s.settings.execution.max_attempts})",
                "info",
            )


def _large_files(settings: Settings, st: StepState) -> LargeFiles:
    """The large-file limits, with the edit sites of this step's earlier attempts."""
    sites: dict[str, list[int]] = {}
    for r in st.runs:
        for path, new in r.after.items():
            sites.setdefault(path, []).extend(outline.changed_lines(r.before.get(path), new))
    ex = settings.execution
    return LargeFiles(ex.large_file_lines, ex.large_file_chars, sites)


async def _propose(
    s: Session,
    plan: Plan,
    step: Step,
    run: StepRun,
    files: dict[str, str | None],
    stale: list[str],
    errors: str | None,
    attempts: int,
    progress: Progress,
) -> ProposedChange:
    """Ask the execution model for the step's edit; a model error ends the attempt."""
    st = plan.state(step.order)

    def read_for_model(rel: str) -> str | None:
        try:
            return s.read_current(rel)
        except SessionError as e:  # a folder or a binary file: a tool error the model can act on
            raise Unreadable(e.message) from None

    try:
        change, mrun = await propose_step(
            execution_model(s.models, s.settings, plan),
            plan,
            step,
            files,
            read_for_model,
            lambda path: fsio.resolve_for_model(s.guard, path),
            stale=stale,
            errors=errors,
            attempt=attempts,
            max_turns=s.settings.execution.max_tool_turns,
            events=PlanEvents(progress, None),
            list_dir=lambda rel: fsio.list_dir(s.guard, rel),
            large=_large_files(s.settings, st),
        )
    except ModelError as e:
        StepAttempt(plan, step.order).model_error(run, e.message, after_failure=bool(errors))
        if e.usage is not None:  # what the answered requests cost is spent all the same
            run.usage = e.usage
            plan.usage.add(e.usage)
        s.save(plan)
        # the model error's own code (rate_limit, auth, budget, ...): an editor offers Retry or
        # Set API Key… by it (errors.py)
        raise SessionError(f"step {step.order}: {e.message}", e.code) from None
    run.sent = change.sent
    run.model = mrun.model
    run.prompt_hash = mrun.prompt_hash
    run.usage = mrun.usage
    plan.usage.add(mrun.usage)
    return change


async def _apply(
    s: Session,
    plan: Plan,
    step: Step,
    run: StepRun,
    change: ProposedChange,
    attempts: int,
    progress: Progress,
    pct: int,
) -> StepOutcome | None:
    """Have the user review and apply the edit, then make the disk hold it; the outcome when
    it was not applied (the step is pending again, or failed while an earlier attempt's edit is
    on disk), None when it was applied."""
    attempt = StepAttempt(plan, step.order)
    attempt.propose(
        run,
        change.diff,
        {f.path: f.old for f in change.files},
        {f.path: f.new for f in change.files},
    )
    # not durable: "applied" (durable) follows as soon as the editor answers, and a power cut
    # before it loses at most the proposal (resume compares the disk with it when it was kept)
    s.save(plan, durable=False)
    conflict = review.refuse_moved(s, plan, step, run, change, attempts)
    if conflict is not None:
        return conflict
    trust = [
        f.path for f in change.files if needs_confirmation(f.path)
    ]  # one trust policy (case 31)
    if trust:
        ok = await s.host.confirm(
            f"Step {step.order} edits {', '.join(trust)}, which can configure tools and editors. Allow?"
        )
        if not ok:
            return review.declined(
                s, plan, step, run, f"editing {', '.join(trust)} was not confirmed", attempts
            )
    progress.report(f"step {step.order}/{len(plan.steps)}: waiting for you to review the edit", pct)
    applied = await review.ask_editor(s, plan, step, run, change)
    if not applied.applied:
        return review.declined(
            s, plan, step, run, applied.reason or "the edit was not applied", attempts
        )
    attempt.apply(run)
    # durable. An editor that saves holds the edit in its buffers already and is the only
    # writer of the files: the record is written on the background writer while it saves them
    # and the validation runs (#32), and the next save waits for it. A server killed meanwhile
    # finds "applied", or "proposed" with the edit on disk (recover: applied) or not yet on
    # disk (interrupted), as when it is killed between the editor's answer and this save.
    # Where the server writes the files itself, the record is on disk before it writes them.
    s.save(plan, wait=not s.host.saves_documents())
    synced = await fsio.sync_disk(s.guard, s.host, run.after, run.before)
    if synced != run.after:  # partly applied in the review: record what was, and what was not
        attempt.partly_applied(run, synced)
        s.save(plan)
    return None  # durable by the time the step answers (Session.exclusive settles it)


async def _validate_attempt(
    s: Session,
    plan: Plan,
    step: Step,
    run: StepRun,
    attempts: int,
    stale: list[str],
    progress: Progress,
) -> tuple[StepOutcome | None, str | None]:
    """Validate one attempt: (the step's final outcome, None) when it is done or out of
    attempts, else (None, the errors for the model's next attempt)."""
    errors = await checks.validate_run(s, plan, step, run, progress)
    if errors is None:
        return finish(s, plan, step, attempts, stale), None
    if attempts >= s.settings.execution.max_attempts or any(v.refused for v in run.validation):
        # a command you refused cannot be fixed by the model: stop and say why
        return fail(s, plan, step, attempts, stale), None
    return None, errors


def finish(
    s: Session, plan: Plan, step: Step, attempts: int, stale: list[str] | None = None
) -> StepOutcome:
    """The step passed its validation: done."""
    StepAttempt(plan, step.order).done()
    if plan.next_step() is not None:
        plan.status = PlanStatus.EXECUTING
    s.save(plan, last=True)  # durable before the step answers (Session.exclusive)
    return StepOutcome(
        plan.id,
        step.order,
        StepResult.DONE,
        attempts,
        0,
        f"step {step.order} done",
        stale_files=stale or [],
    )


def fail(s: Session, plan: Plan, step: Step, attempts: int, stale: list[str]) -> StepOutcome:
    """Out of attempts (or a refused command): failed, with the published problems counted."""
    attempt = StepAttempt(plan, step.order)
    attempt.fail(f"validation still failing after {attempts} attempt(s)")
    run = attempt.state.last_run
    s.save(plan)
    s.host.notify(
        f"Step {step.order} failed after {attempts} attempt(s). Retry it, revise the plan, or undo it.",
        "error",
    )
    return StepOutcome(
        plan.id,
        step.order,
        StepResult.FAILED,
        attempts,
        checks.problem_count(s.problems),
        (run.error or "") if run else "",
        stale_files=stale,
    )
