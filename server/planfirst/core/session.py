"""The step state machine and retry loop: the only place that sequences work.

A Session belongs to one workspace. It is driven by a face (the language server) through a
`Host`, which is how the core asks the editor for things: current buffer text, applying a
previewed edit, saving, confirming, showing progress and problems. Every transition is
persisted before the next begins, so a killed server resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from planfirst.core.context import Selection, gather_context, hash_text
from planfirst.core.executor import FileChange, ProposedChange, propose_step
from planfirst.core.paths import PathError, WorkspaceGuard
from planfirst.core.plan_lint import confidence, lint_plan
from planfirst.core.planner import SUBMIT_PLAN, make_plan, snapshot_preview, title_from_task
from planfirst.core.problems import Problem, parse_problems
from planfirst.core.reoffer import stored_proposal
from planfirst.core.validate import CommandPolicy, run_validation
from planfirst.llm import prompts
from planfirst.llm.model import (
    TEXT_EDITOR_TOOL,
    Model,
    ModelError,
    ModelRequest,
    NullEvents,
    SubmitSpec,
    ToolOutcome,
)
from planfirst.plan.model import (
    Diagnosis,
    Plan,
    PlanBody,
    PlanStatus,
    Provenance,
    Step,
    StepRun,
    StepStatus,
    ValidationResult,
    now_iso,
)
from planfirst.plan.render import parse_markdown, render, render_partial
from planfirst.plan.store import PlanStore, StoreError, UnknownPlan, new_plan_id
from planfirst.settings import Settings

# Files whose content configures tools or editors: a step that edits them needs its own
# confirmation (RELIABILITY.md case 15).
TRUST_FILES = re.compile(
    r"(^|/)(\.vscode/|\.idea/|\.github/workflows/|\.git/|\.planfirst/)|"
    r"(^|/)(pyproject\.toml|setup\.cfg|tox\.ini|package\.json|\.npmrc|Makefile|\.pre-commit-config\.yaml|"
    r"\.envrc|conftest\.py)$"
)


class SessionError(Exception):
    """A request the session refuses; the message is for the user."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class ApplyOutcome:
    """What the editor said about a proposed edit."""

    applied: bool
    reason: str = ""


class Progress(Protocol):
    """Where a long operation reports what it is doing."""

    def report(self, message: str, percentage: int | None = None) -> None: ...


class NullProgress:
    """Progress that goes nowhere."""

    def report(self, message: str, percentage: int | None = None) -> None:
        pass


class Host(Protocol):
    """What the core needs from the face that drives it (the language server)."""

    def open_documents(self) -> dict[str, str]: ...
    async def apply_change(
        self, change: ProposedChange, label: str, description: str
    ) -> ApplyOutcome: ...
    async def save_documents(self, paths: list[str]) -> list[str]: ...
    async def confirm(self, question: str) -> bool | None: ...
    def log(self, text: str) -> None: ...
    def notify(self, message: str, level: str = "info") -> None: ...
    def publish_problems(self, problems: dict[str, list[Problem]]) -> None: ...
    def plan_changed(self, plan_id: str) -> None: ...
    def plan_started(self, plan_id: str, title: str) -> None: ...


class ModelFactory(Protocol):
    """Builds the models a session uses (lazily, so a missing key is a message, not a crash)."""

    def planning(self) -> Model: ...
    def execution(self) -> Model: ...


@dataclass
class StepOutcome:
    """The answer to executeNextStep / retryStep."""

    plan_id: str
    step: int | None
    status: str
    attempts: int = 0
    problems: int = 0
    message: str = ""
    stale_files: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The command result sent to the client."""
        return {
            "planId": self.plan_id,
            "step": self.step,
            "status": self.status,
            "attempts": self.attempts,
            "problems": self.problems,
            "message": self.message,
            "staleFiles": self.stale_files,
        }


class _PlanEvents(NullEvents):
    """Model events → progress and the partial plan document."""

    def __init__(
        self, progress: Progress, on_partial: Callable[[dict[str, Any]], None] | None
    ) -> None:
        self.progress = progress
        self.on_partial = on_partial

    def on_thinking(self, delta: str) -> None:
        self.progress.report("thinking…")

    def on_partial_submit(self, snapshot: dict[str, Any]) -> None:
        self.progress.report(snapshot_preview(snapshot))
        if self.on_partial:
            self.on_partial(snapshot)

    def on_tool_call(self, name: str, tool_input: dict[str, Any]) -> None:
        target = tool_input.get("path") or tool_input.get("pattern") or ""
        if name == TEXT_EDITOR_TOOL:
            verb = {"view": "reading", "create": "writing", "str_replace": "editing", "insert": "editing"}
            self.progress.report(f"{verb.get(str(tool_input.get('command')), 'editing')} {target}".strip())
        else:
            self.progress.report(f"{name.replace('_', ' ')} {target}".strip())

    def on_retry(self, attempt: int, reason: str, wait_s: float) -> None:
        self.progress.report(f"{reason}; retrying in {wait_s:.0f} s (attempt {attempt + 1})")


SUBMIT_DIAGNOSIS = SubmitSpec(
    name="submit_diagnosis",
    description="Submit your diagnosis of the failed test criteria against the plan.",
    schema=Diagnosis,
)

_BACKTICK = re.compile(r"`([^`]+)`")
_EDITING = ("executing", "undoing")  # operations that change workspace files
_UMASK = os.umask(0o022)  # read once at import (umask can only be read by setting it)
os.umask(_UMASK)


def criteria_commands(criteria: Sequence[str], is_program: Callable[[str], bool] | None = None) -> list[str]:
    """The test criteria that are commands: the first backticked span of each whose first word
    is a program (`is_program`), so "`count --top 2` prints two lines" is not run as a command."""
    out = []
    for c in criteria:
        for m in _BACKTICK.finditer(c):
            span = m.group(1).strip()
            if not re.match(r"^[\w./-]+(\s|$)", span):
                continue
            if is_program is None or is_program(span.split()[0]):
                out.append(span)
                break
    return out


def _format_failures(results: list[ValidationResult], limit: int = 12_000) -> str:
    parts = []
    for r in results:
        if r.passed:
            continue
        head = f"$ {r.command}\n(exit code {r.exit_code}{', timed out' if r.timed_out else ''})\n"
        parts.append(head + r.output[-(limit // max(1, len(results))) :])
    return "\n\n".join(parts)


class Session:
    """planfirst's workflow for one workspace."""

    def __init__(self, root: Path, settings: Settings, models: ModelFactory, host: Host) -> None:
        self.root = Path(root).resolve()
        self.settings = settings
        self.models = models
        self.host = host
        self.guard = WorkspaceGuard(self.root, settings.context.exclude)
        self.store = PlanStore(self.root)
        self.partial: dict[str, str] = {}  # plan id -> markdown of a plan still streaming in
        self._busy: dict[str, str] = {}  # plan id -> what is running on it
        self._tasks: dict[str, asyncio.Task[Any]] = {}  # plan id -> the task doing it
        self._problems: dict[str, list[Problem]] = {}  # published problems by path

    # ------------------------------------------------------------------ helpers

    def update_settings(self, settings: Settings) -> None:
        """Take new settings (from workspace/configuration)."""
        self.settings = settings
        self.guard = WorkspaceGuard(self.root, settings.context.exclude)

    def load(self, plan_id: str | None) -> Plan:
        """A plan by id (None: the active plan), with errors written for the user."""
        pid = plan_id or self.store.active()
        if not pid:
            raise SessionError(
                "there is no active plan; generate one first or pass a planId", "no_plan"
            )
        try:
            return self.store.load(pid)
        except UnknownPlan:
            raise SessionError(
                # the id may come from a client: never echo an unbounded string
                f"unknown plan {pid[:100]!r}; run 'planfirst.listPlans' to see plans", "unknown_plan"
            ) from None
        except StoreError as e:
            raise SessionError(str(e), "corrupt_plan") from None

    def save(self, plan: Plan) -> None:
        """Persist and tell the face the plan changed."""
        self.store.save(plan)
        self.host.plan_changed(plan.id)

    @contextlib.asynccontextmanager
    async def exclusive(self, plan_id: str, what: str) -> AsyncIterator[None]:
        """One operation at a time per plan; a second one is refused, not queued. Operations
        that edit files (executing, undoing) are also one at a time per workspace, so two plans
        never edit the same files at once."""
        if plan_id in self._busy:
            raise SessionError(
                f"plan {plan_id!r} is busy ({self._busy[plan_id]}); wait for it or run 'planfirst.cancel'",
                "busy",
            )
        if what.startswith(_EDITING):
            for other, doing in self._busy.items():
                if doing.startswith(_EDITING):
                    raise SessionError(
                        f"plan {other!r} is {doing} in this workspace; wait for it or run 'planfirst.cancel'",
                        "busy",
                    )
        self._busy[plan_id] = what
        task = asyncio.current_task()
        if task is not None:
            self._tasks[plan_id] = task
        try:
            yield
        finally:
            self._busy.pop(plan_id, None)
            self._tasks.pop(plan_id, None)

    def busy(self) -> dict[str, str]:
        """What runs now, by plan id."""
        return dict(self._busy)

    def cancel(self, plan_id: str | None = None) -> list[str]:
        """Cancel what runs on a plan (or on every plan); returns the plan ids cancelled."""
        ids = [plan_id] if plan_id else list(self._tasks)
        done = []
        for pid in ids:
            task = self._tasks.get(pid)
            if task is not None and not task.done():
                task.cancel()
                done.append(pid)
        return done

    def read_current(self, rel: str) -> str | None:
        """A file's current text: the editor's open document wins over the disk."""
        docs = self.host.open_documents()
        if rel in docs:
            return docs[rel]
        return self.read_disk(rel)

    def read_disk(self, rel: str) -> str | None:
        """A file's text on disk, or None when it does not exist."""
        path = self.guard.resolve(rel)
        try:
            with open(path, encoding="utf-8", newline="") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except (UnicodeDecodeError, IsADirectoryError) as e:
            raise SessionError(f"{rel} cannot be edited as text: {e}") from None

    def _resolve_for_model(self, path: str) -> str:
        rel = self.guard.rel(path)
        reason = self.guard.excluded(rel)
        if reason:
            raise PathError(f"{rel} is excluded ({reason}); planfirst does not read or write it")
        return rel

    # ------------------------------------------------------------------ planning

    async def generate(
        self,
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
        async with self.exclusive(plan_id, "generating the plan"):
            progress.report("gathering context", 5)
            for f in files:
                self.guard.rel(f)  # refuse paths outside the workspace before anything else
            if selection is not None:
                self.guard.rel(selection.path)
            context = await asyncio.to_thread(
                gather_context,
                self.guard,
                task,
                self.settings.context,
                selection=selection,
                files=list(files),
                open_documents=self.host.open_documents(),
            )
            self.partial[plan_id] = render_partial(title, task, {})
            self.host.plan_started(plan_id, title)
            progress.report(
                f"thinking ({len(context.included)} files of context, ~{context.tokens:,} tokens)",
                15,
            )
            try:
                model = self.models.planning()
                result = await make_plan(
                    model,
                    self.guard,
                    self.settings,
                    task,
                    context,
                    events=_PlanEvents(
                        progress, lambda snap: self._partial(plan_id, title, task, snap)
                    ),
                    open_documents=self.host.open_documents(),
                )
            finally:
                self.partial.pop(plan_id, None)
            prov = Provenance(
                planning_model=result.model,
                execution_model=self.settings.execution_model,
                included=context.included,
                cut=context.cut,
                context_tokens=context.tokens,
            )
            prov.context_files = {e.path: e.sha256 for e in context.included if e.sha256}
            prov.context_files.update(result.seen)
            prov.context_files.update(self._hash_plan_files(result.body, prov.context_files))
            plan = Plan(
                id=plan_id, title=title, task=task.strip(), body=result.body, provenance=prov
            )
            plan.usage.add(result.usage)
            plan.findings = result.findings
            plan.confidence = confidence(plan.body, result.findings, 0)
            progress.report("saving the plan", 95)
            self.store.save(plan)
            self.store.set_active(plan.id)
            self.host.plan_changed(plan.id)
            for note in result.notes:
                self.host.log(f"[{plan.id}] {note}")
            return plan

    def _hash_plan_files(self, body: PlanBody, known: dict[str, str]) -> dict[str, str]:
        """Hashes of the files the plan modifies that the model did not read, so a later change
        to any of them is reported as stale too (secrets and ignored files are not read)."""
        out: dict[str, str] = {}
        for f in body.files_to_modify:
            if f.path in known or self.guard.excluded(f.path):
                continue
            try:
                text = self.read_current(f.path)
            except (SessionError, PathError):
                continue
            if text is not None:
                out[f.path] = hash_text(text)
        return out

    def _partial(self, plan_id: str, title: str, task: str, snapshot: dict[str, Any]) -> None:
        if plan_id in self.partial:
            self.partial[plan_id] = render_partial(title, task, snapshot)
            self.host.plan_changed(plan_id)

    async def revise(self, plan_id: str, feedback: str, progress: Progress | None = None) -> Plan:
        """Revision N+1 from the plan, the feedback and fresh context; old revisions kept."""
        progress = progress or NullProgress()
        if not feedback or not feedback.strip():
            raise SessionError("the feedback is empty; say what should change in the plan")
        plan = self.load(plan_id)
        if plan.status in (PlanStatus.EXECUTING,) or any(
            s.status in (StepStatus.RUNNING, StepStatus.APPLIED) for s in plan.steps
        ):
            raise SessionError(
                f"plan {plan.id!r} has a step in progress; finish or undo it before revising"
            )
        async with self.exclusive(plan.id, "revising the plan"):
            progress.report("gathering context", 5)
            files = sorted({p for s in plan.body.steps for p in s.files_to_modify})
            context = await asyncio.to_thread(
                gather_context,
                self.guard,
                plan.task,
                self.settings.context,
                files=files,
                open_documents=self.host.open_documents(),
            )
            progress.report("revising", 15)
            model = self.models.planning()
            result = await make_plan(
                model,
                self.guard,
                self.settings,
                plan.task,
                context,
                previous_md=render(plan).text,
                feedback=feedback,
                events=_PlanEvents(progress, None),
                open_documents=self.host.open_documents(),
            )
            self.store.save_revision(plan)
            done = {s.order: s for s in plan.steps if s.status == StepStatus.DONE}
            new = plan.model_copy(deep=True)
            new.revision = plan.revision + 1
            new.feedback = [*plan.feedback, feedback.strip()]
            new.body = result.body
            # steps already done keep their record when the revision keeps the same step
            new.steps = []
            new = Plan.model_validate(new.model_dump())
            for s in new.steps:
                old = done.get(s.order)
                if old and plan.body.step(s.order) == new.body.step(s.order):
                    new.steps[new.steps.index(s)] = old
            new.status = PlanStatus.DRAFT
            new.findings = result.findings
            new.confidence = confidence(new.body, result.findings, 0)
            new.usage.add(result.usage)
            new.provenance.planning_model = result.model
            new.provenance.included = context.included
            new.provenance.cut = context.cut
            new.provenance.context_tokens = context.tokens
            new.provenance.context_files.update(
                {e.path: e.sha256 for e in context.included if e.sha256}
            )
            new.provenance.context_files.update(result.seen)
            new.provenance.context_files.update(self._hash_plan_files(result.body, new.provenance.context_files))
            new.diagnosis = None
            self.save(new)
            return new

    async def approve(self, plan_id: str | None, *, force: bool = False) -> Plan:
        """Mark a plan approved; plans with lint errors need confirmation (or force)."""
        plan = self.load(plan_id)
        if plan.id in self._busy:
            raise SessionError(f"plan {plan.id!r} is busy ({self._busy[plan.id]})", "busy")
        if plan.status in (PlanStatus.APPROVED, PlanStatus.EXECUTING):
            return plan
        if plan.status == PlanStatus.DONE:
            raise SessionError(f"plan {plan.id!r} is already done")
        errors = [f for f in plan.findings if f.severity == "error"]
        if errors and not force:
            answer = await self.host.confirm(
                f"The plan '{plan.title}' has {len(errors)} review error(s), e.g. {errors[0].message}. Approve anyway?"
            )
            if not answer:
                raise SessionError(
                    f"not approved: the plan has {len(errors)} review error(s); revise it or approve with force",
                    "lint_errors",
                )
        plan.status = PlanStatus.APPROVED
        self.save(plan)
        self.store.set_active(plan.id)
        return plan

    def reload(self, plan_id: str | None) -> Plan:
        """Parse the user-edited plan.md back into the plan (a draft again if it changed)."""
        plan = self.load(plan_id)
        if plan.id in self._busy:
            raise SessionError(f"plan {plan.id!r} is busy ({self._busy[plan.id]})", "busy")
        path = self.store.plan_md(plan.id)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise SessionError(f"cannot read {path}: {e}") from None
        try:
            task, body = parse_markdown(text)
        except ValueError as e:
            raise SessionError(f"{path}: {e}", "parse_error") from None
        if body == plan.body and (task or plan.task) == plan.task:
            return plan
        self.store.save_revision(plan)
        data = plan.model_dump()
        data["body"] = body.model_dump()
        data["steps"] = [s.model_dump() for s in plan.steps if s.status == StepStatus.DONE]
        new = Plan.model_validate(data)
        new.task = task or plan.task
        new.revision = plan.revision + 1
        new.feedback = [*plan.feedback, "(edited by hand in plan.md)"]
        new.status = PlanStatus.DRAFT
        new.findings = lint_plan(
            body, self.guard, self.settings, allow=self.settings.validation.allow
        )
        new.confidence = confidence(body, new.findings, 0)
        self.save(new)
        return new

    # ------------------------------------------------------------------ execution

    def _expected_hashes(self, plan: Plan) -> dict[str, str | None]:
        """What each file should hold now: plan-time hashes overlaid with approved step edits."""
        expected: dict[str, str | None] = dict(plan.provenance.context_files)
        for st in plan.steps:
            for run in st.runs:
                if run.outcome in ("applied", "undone"):
                    for p, text in run.after.items():
                        expected[p] = hash_text(text) if text is not None else None
        return expected

    def _stale(self, plan: Plan, step: Step, files: dict[str, str | None]) -> list[str]:
        expected = self._expected_hashes(plan)
        stale = []
        for p in step.files:
            if p in expected:
                cur = files.get(p)
                if (hash_text(cur) if cur is not None else None) != expected[p]:
                    stale.append(p)
        return stale

    def _recover(self, plan: Plan, order: int) -> None:
        """A step left RUNNING by a killed server: find out whether its edit landed."""
        st = plan.state(order)
        run = st.last_run
        if run is None or run.outcome in ("pending", "error", "cancelled", "rejected", "no_change"):
            if run is not None and run.outcome == "pending":
                run.outcome = "interrupted"
            st.status = StepStatus.PENDING
            return
        if run.outcome == "proposed":
            now = {p: self.read_disk(p) for p in run.after}
            if now == run.after:
                run.outcome = "applied"
                st.status = StepStatus.APPLIED
            else:
                run.outcome = "interrupted"
                st.status = StepStatus.PENDING
        elif run.outcome == "applied":
            st.status = StepStatus.APPLIED

    async def execute_next(
        self, plan_id: str | None, progress: Progress | None = None
    ) -> StepOutcome:
        """Run the next pending step of an approved plan (or the final checks after the last)."""
        plan = self.load(plan_id)
        return await self._execute(plan, None, progress or NullProgress())

    async def retry(
        self, plan_id: str | None, order: int, progress: Progress | None = None
    ) -> StepOutcome:
        """Run a failed, pending or undone step again."""
        plan = self.load(plan_id)
        try:
            plan.body.step(order)
        except KeyError:
            raise SessionError(f"plan {plan.id!r} has no step {order}") from None
        return await self._execute(plan, order, progress or NullProgress())

    async def _execute(self, plan: Plan, order: int | None, progress: Progress) -> StepOutcome:
        fresh_order = order  # Retry Step (an explicit step) asks the model afresh; Execute re-offers
        if plan.status == PlanStatus.DRAFT:
            raise SessionError(
                f"plan {plan.id!r} is not approved; review it and run 'planfirst.approvePlan' first",
                "not_approved",
            )
        async with self.exclusive(plan.id, "executing a step"):
            plan = self.load(plan.id)  # fresh from disk now that we hold the plan
            for st in plan.steps:
                if st.status == StepStatus.RUNNING:
                    self._recover(plan, st.order)
            if order is None:
                order = plan.next_step()
                if order is None:
                    return await self._final_checks(plan, progress)
            else:
                for s in plan.steps:
                    if s.order < order and s.status != StepStatus.DONE:
                        raise SessionError(
                            f"step {s.order} is not done yet; run the steps in order"
                        )
                if plan.state(order).status == StepStatus.DONE:
                    raise SessionError(
                        f"step {order} is already done; undo it first to run it again"
                    )
            plan.status = PlanStatus.EXECUTING
            self.store.set_active(plan.id)
            try:
                outcome = await self._run_step(plan, plan.body.step(order), progress, reoffer=fresh_order is None)
            except asyncio.CancelledError:
                st = plan.state(order)
                if st.status == StepStatus.RUNNING:
                    run = st.last_run
                    if run is not None and run.outcome in ("pending", "proposed"):
                        run.outcome = "cancelled"
                        run.finished_at = now_iso()
                    st.status = StepStatus.PENDING
                    self.save(plan)
                raise
            if outcome.status == "done" and plan.next_step() is None:
                final = await self._final_checks(plan, progress)
                outcome.message = (outcome.message + " " + final.message).strip()
            return outcome

    async def _run_step(self, plan: Plan, step: Step, progress: Progress, reoffer: bool = False) -> StepOutcome:
        st = plan.state(step.order)
        total = len(plan.steps)
        attempts = 0
        errors: str | None = None
        stale_seen: list[str] = []
        if st.status == StepStatus.APPLIED and st.last_run is not None:
            # resume: the edit landed before a restart; validate it now
            await self._resume_disk(step, st.last_run)
            result = await self._validate_run(plan, step, st.last_run, progress)
            if result is None:
                return self._finish(plan, step, 1, "done")
            errors = result
            attempts = 1
        max_attempts = self.settings.execution.max_attempts
        for p in step.files:
            why = self.guard.excluded(p)
            if why:
                # never send (or let the model edit) a secret or an ignored file, even if the plan names it
                raise SessionError(
                    f"step {step.order} names {p}, which planfirst never reads or edits ({why}); "
                    "revise the plan to leave it out",
                    "excluded_file",
                )
        while True:
            attempts += 1
            pct = int(100 * (step.order - 1) / max(1, total))
            progress.report(
                f"step {step.order}/{total}: reading the files (attempt {attempts})", pct
            )
            files = {p: self.read_current(p) for p in step.files}
            for p in step.files_to_modify:
                if files[p] is None and p not in step.files_to_create:
                    self.host.notify(
                        f"step {step.order}: {p} does not exist; the model may create it", "warning"
                    )
            stale = self._stale(plan, step, files) if attempts == 1 else []
            if stale:
                stale_seen = stale
                self.host.notify(
                    f"Plan may be stale: {', '.join(stale)} changed since the plan was made; "
                    f"step {step.order} runs on the current text.",
                    "warning",
                )
            # a proposal you discarded is offered again while its files are unchanged (Execute only)
            stored = stored_proposal(st, self.read_current) if reoffer and attempts == 1 and not errors else None
            run = StepRun(
                attempt=len(st.runs) + 1, stale_files=stale, model=self.settings.execution_model
            )
            st.runs.append(run)
            st.status = StepStatus.RUNNING
            self.save(plan)
            if stored is not None:  # the discarded edit again, at no model cost
                change = stored
                run.model = st.runs[-2].model
                self.host.log(f"step {step.order}: offering the edit you did not apply again")
            else:
                progress.report(f"step {step.order}/{total}: asking {self.settings.execution_model}", pct)
                try:
                    model = self.models.execution()
                    change, mrun = await propose_step(
                        model,
                        plan,
                        step,
                        files,
                        self.read_current,
                        self._resolve_for_model,
                        stale=stale,
                        errors=errors,
                        attempt=attempts,
                        max_turns=self.settings.execution.max_tool_turns,
                        events=_PlanEvents(progress, None),
                    )
                except ModelError as e:
                    run.outcome = "error"
                    run.error = e.message
                    run.finished_at = now_iso()
                    st.status = StepStatus.FAILED if errors else StepStatus.PENDING
                    self.save(plan)
                    raise SessionError(f"step {step.order}: {e.message}", "model_error") from None
                run.model = mrun.model
                run.prompt_hash = mrun.prompt_hash
                run.usage = mrun.usage
                plan.usage.add(mrun.usage)
            if change.empty:
                run.outcome = "no_change"
                run.finished_at = now_iso()
                self.save(plan)
                if not step.validation or errors:
                    st.status = StepStatus.FAILED
                    run.error = "the model proposed no change"
                    self.save(plan)
                    return StepOutcome(
                        plan.id,
                        step.order,
                        "failed",
                        attempts,
                        message="the model proposed no change for this step",
                    )
                outcome, errors = await self._validate_attempt(plan, step, run, attempts, stale_seen, progress)
                if outcome is not None:
                    return outcome
                continue
            run.proposed_diff = change.diff
            run.before = {f.path: f.old for f in change.files}
            run.after = {f.path: f.new for f in change.files}
            run.outcome = "proposed"
            self.save(plan)
            trust = [f.path for f in change.files if TRUST_FILES.search(f.path)]
            if trust:
                ok = await self.host.confirm(
                    f"Step {step.order} edits {', '.join(trust)}, which can configure tools and editors. Allow?"
                )
                if not ok:
                    run.outcome = "rejected"
                    run.error = f"editing {', '.join(trust)} was not confirmed"
                    st.status = StepStatus.PENDING
                    self.save(plan)
                    return StepOutcome(plan.id, step.order, "rejected", attempts, message=run.error)
            progress.report(f"step {step.order}/{total}: waiting for you to review the edit", pct)
            first = step.description.strip().splitlines()[0] if step.description.strip() else ""
            short = first if len(first) <= 60 else first[:60].rsplit(" ", 1)[0] + "…"
            label = f"planfirst step {step.order}: {short}"
            applied = await self.host.apply_change(change, label, step.description.strip())
            if not applied.applied:
                run.outcome = "rejected"
                run.error = applied.reason or "the edit was not applied"
                run.finished_at = now_iso()
                st.status = StepStatus.PENDING
                self.save(plan)
                self.host.notify(
                    f"Step {step.order} was not applied ({run.error}); nothing changed. "
                    "Execute it again to review the same edit (no new model call), or revise the plan.",
                    "info",
                )
                return StepOutcome(plan.id, step.order, "rejected", attempts, message=run.error)
            run.outcome = "applied"
            st.status = StepStatus.APPLIED
            self.save(plan)
            synced = await self._sync_disk(run.after)
            if synced != run.after:  # partly applied in the preview: record what was applied
                run.after = synced
                self.save(plan)
            outcome, errors = await self._validate_attempt(plan, step, run, attempts, stale_seen, progress)
            if outcome is not None:
                return outcome
            self.host.notify(
                f"Step {step.order}: validation failed; asking the model to fix it (attempt {attempts + 1}/{max_attempts})",
                "info",
            )

    async def _validate_attempt(
        self, plan: Plan, step: Step, run: StepRun, attempts: int, stale: list[str], progress: Progress
    ) -> tuple[StepOutcome | None, str | None]:
        """Validate one attempt: (the step's final outcome, None) when it is done or out of
        attempts, else (None, the errors for the model's next attempt)."""
        errors = await self._validate_run(plan, step, run, progress)
        if errors is None:
            return self._finish(plan, step, attempts, "done", stale), None
        if attempts >= self.settings.execution.max_attempts or any(v.refused for v in run.validation):
            # a command you refused cannot be fixed by the model: stop and say why
            return self._fail(plan, step, attempts, stale), None
        return None, errors

    def _finish(
        self, plan: Plan, step: Step, attempts: int, status: str, stale: list[str] | None = None
    ) -> StepOutcome:
        st = plan.state(step.order)
        st.status = StepStatus.DONE
        if st.last_run is not None:
            st.last_run.finished_at = now_iso()
        if plan.next_step() is not None:
            plan.status = PlanStatus.EXECUTING
        self.save(plan)
        return StepOutcome(
            plan.id,
            step.order,
            status,
            attempts,
            0,
            f"step {step.order} done",
            stale_files=stale or [],
        )

    def _fail(self, plan: Plan, step: Step, attempts: int, stale: list[str]) -> StepOutcome:
        st = plan.state(step.order)
        st.status = StepStatus.FAILED
        run = st.last_run
        if run is not None:
            run.error = run.error or f"validation still failing after {attempts} attempt(s)"
            run.finished_at = now_iso()
        self.save(plan)
        n = sum(len(v) for v in self._problems.values())
        self.host.notify(
            f"Step {step.order} failed after {attempts} attempt(s). Retry it, revise the plan, or undo it.",
            "error",
        )
        return StepOutcome(
            plan.id, step.order, "failed", attempts, n, (run.error or "") if run else "", stale_files=stale
        )

    async def _resume_disk(self, step: Step, run: StepRun) -> None:
        """Before validating an applied run after a restart, make the disk hold its approved
        text: a server killed between the editor's apply and the disk sync left the old text
        there (RELIABILITY.md case 13). A file that is neither old nor new text is the user's."""
        differs = [p for p, t in run.after.items() if self.read_disk(p) != t]
        if not differs:
            return
        foreign = [p for p in differs if self.read_disk(p) != run.before.get(p)]
        if foreign:
            raise SessionError(
                f"step {step.order}: {', '.join(foreign)} changed since the step was applied; "
                "undo the step or edit by hand",
                "conflict",
            )
        await self._sync_disk(run.after)

    async def _sync_disk(self, after: dict[str, str | None]) -> dict[str, str | None]:
        """Make the disk hold exactly the text the user approved; return that text per file.

        An editor that saves (the VS Code extension) reports what it saved: its disk text is
        what the user applied, which may differ from the proposal when edits were unticked in
        the preview. For every other file the server writes the proposed text, which the editor
        applied whole (Neovim and most clients never save buffers themselves).
        """
        paths = sorted(after)
        saved = set(await self.host.save_documents(paths))
        actual: dict[str, str | None] = {}
        for p in paths:
            if p in saved:
                actual[p] = self.read_disk(p)
                continue
            want = after[p]
            actual[p] = want
            if self.read_disk(p) == want:
                continue
            target = self.guard.resolve(p)
            if want is None:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(self._write_text, target, want)
        for p in paths:
            if self.read_disk(p) != actual[p]:
                raise SessionError(f"{p} does not hold the approved text after applying; nothing was validated")
        partial = [p for p in paths if actual[p] != after[p]]
        if partial:
            self.host.notify(
                f"{', '.join(partial)}: you applied part of the proposed edit; planfirst validates what you applied.",
                "warning",
            )
        return actual

    @staticmethod
    def _write_text(path: Path, text: str) -> None:
        # atomic (temp file beside it, then rename): a server killed mid-write must leave the
        # old text or the new one, never half a file; the file keeps its permissions
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".planfirst-tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except OSError:  # a new file: what open() would have given it
                mode = 0o666 & ~_UMASK
            with contextlib.suppress(OSError):
                os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def command_env(self) -> dict[str, str]:
        """The environment validation runs in (scrubbed by validate.py): the workspace's own
        virtualenv first on PATH, then the interpreter planfirst runs on."""
        env = dict(os.environ)
        extra = [str(Path(sys.executable).parent)]
        for venv in (".venv", "venv"):
            bindir = self.root / venv / "bin"
            if bindir.is_dir():
                extra.insert(0, str(bindir))
        env["PATH"] = os.pathsep.join([*extra, env.get("PATH", "")])
        return env

    async def _run_commands(self, commands: list[str], progress: Progress, what: str) -> list[ValidationResult]:
        policy = CommandPolicy(self.settings.validation.allow)

        async def confirm(cmd: str, reason: str) -> bool:
            answer = await self.host.confirm(f"{what} wants to run `{cmd}`: {reason}. Run it this time?")
            return bool(answer)

        # say what runs: "step 1: running `pytest -q` (2 more)", then its latest output line
        running = f"{what}: running `{commands[0]}`" + (f" (+{len(commands) - 1} more)" if len(commands) > 1 else "")

        def on_output(chunk: str) -> None:
            text = chunk.rstrip("\n")
            self.host.log(text)
            last = text.strip().splitlines()[-1] if text.strip() else ""
            if last:
                progress.report(f"{running}: {last[:80]}")

        progress.report(running)
        return await run_validation(
            commands,
            self.root,
            policy,
            timeout_s=self.settings.validation.timeout_s,
            output_cap=self.settings.validation.output_cap,
            confirm=confirm,
            on_output=on_output,
            env=self.command_env(),
        )

    async def _validate_run(
        self, plan: Plan, step: Step, run: StepRun, progress: Progress
    ) -> str | None:
        """Validate an applied step; None when it passed, else the errors for the model."""
        results = await self._run_commands(step.validation, progress, f"step {step.order}/{len(plan.steps)}")
        run.validation = results
        problems: dict[str, list[Problem]] = {}
        for r in results:
            if not r.passed:
                for pr in parse_problems(r.output, self.root, r.command):
                    problems.setdefault(pr.path, []).append(pr)
        self._publish(problems)
        refused = [r for r in results if r.refused]
        if refused:
            run.error = (
                f"`{refused[0].command}` was not run: {refused[0].refused}. Add its program to "
                "planfirst.validation.allow or confirm it, then retry the step."
            )
            self.save(plan)
            return run.error
        if all(r.passed for r in results):
            return None  # the caller records the step as done in its next save
        self.save(plan)
        return _format_failures(results)

    def _publish(self, problems: dict[str, list[Problem]]) -> None:
        cleared: dict[str, list[Problem]] = {p: [] for p in self._problems if p not in problems}
        self._problems = problems
        self.host.publish_problems({**cleared, **problems})

    async def _final_checks(self, plan: Plan, progress: Progress) -> StepOutcome:
        """After the last step: run the plan's test criteria; diagnose failures against the plan."""
        path = self.command_env().get("PATH", "")

        def is_program(prog: str) -> bool:
            if "/" in prog:
                return (self.root / prog).is_file()
            return prog in self.settings.validation.allow or shutil.which(prog, path=path) is not None

        commands = criteria_commands(plan.body.test_criteria, is_program)
        results = await self._run_commands(commands, progress, "test criteria") if commands else []
        plan.final_validation = results
        if all(r.passed for r in results):
            plan.status = PlanStatus.DONE
            plan.diagnosis = None
            self.save(plan)
            msg = f"all {len(plan.steps)} steps done" + (
                f"; test criteria passed ({len(results)} command(s))" if results else ""
            )
            self.host.notify(f"Plan '{plan.title}': {msg}.", "info")
            return StepOutcome(plan.id, None, "done", message=msg)
        problems: dict[str, list[Problem]] = {}
        for r in results:
            if not r.passed:
                for pr in parse_problems(r.output, self.root, r.command):
                    problems.setdefault(pr.path, []).append(pr)
        self._publish(problems)
        plan.status = PlanStatus.FAILED
        progress.report("test criteria failed: diagnosing against the plan")
        try:
            plan.diagnosis = await self._diagnose(plan, results)
        except ModelError as e:
            self.host.log(f"diagnosis failed: {e.message}")
        self.save(plan)
        msg = "test criteria failed" + (
            f"; diagnosis: step {plan.diagnosis.suspect_step}: {plan.diagnosis.broken_assumption}"
            if plan.diagnosis and plan.diagnosis.suspect_step
            else ""
        )
        self.host.notify(f"Plan '{plan.title}': {msg}", "warning")
        return StepOutcome(
            plan.id, None, "failed", problems=sum(len(v) for v in problems.values()), message=msg
        )

    async def _diagnose(self, plan: Plan, results: list[ValidationResult]) -> Diagnosis | None:
        model = self.models.planning()
        steps = "\n".join(
            f"{s.order}. [{plan.state(s.order).status.value}] {s.description.strip()}"
            for s in plan.body.steps
        )
        diffs = "\n".join(
            (plan.state(s.order).last_run.proposed_diff if plan.state(s.order).last_run else "")  # type: ignore[union-attr]
            for s in plan.body.steps
        )[-20_000:]
        request = ModelRequest(
            purpose="diagnose",
            system=prompts.DIAGNOSE_SYSTEM,
            stable_blocks=[render(plan).text],
            instruction=(
                f"<steps>\n{steps}\n</steps>\n\n<applied_diffs>\n{diffs}\n</applied_diffs>\n\n"
                f"<failing_test_criteria>\n{_format_failures(results)}\n</failing_test_criteria>\n\n"
                "Call `submit_diagnosis`."
            ),
            submit=SUBMIT_DIAGNOSIS,
            max_turns=3,
            max_reasks=1,
            thinking=True,
        )

        async def no_tools(name: str, tool_input: dict[str, Any]) -> ToolOutcome:
            return ToolOutcome(
                f"no tool {name!r} in this phase; call submit_diagnosis", is_error=True
            )

        run = await model.run(request, no_tools, None)
        plan.usage.add(run.usage)
        return run.submitted if isinstance(run.submitted, Diagnosis) else None

    # ------------------------------------------------------------------ undo

    async def undo(
        self, plan_id: str | None, order: int | None, progress: Progress | None = None
    ) -> StepOutcome:
        """A previewed inverse edit restoring the exact pre-step text."""
        plan = self.load(plan_id)
        if order is None:
            done = [
                s.order
                for s in plan.steps
                if s.status in (StepStatus.DONE, StepStatus.FAILED, StepStatus.APPLIED)
            ]
            if not done:
                raise SessionError(f"plan {plan.id!r} has no step to undo")
            order = done[-1]
        try:
            plan.body.step(order)
        except KeyError:
            raise SessionError(f"plan {plan.id!r} has no step {order}") from None
        async with self.exclusive(plan.id, f"undoing step {order}"):
            plan = self.load(plan.id)
            st = plan.state(order)
            applied = [r for r in st.runs if r.outcome == "applied"]
            if not applied:
                raise SessionError(f"step {order} has no applied edit to undo")
            before: dict[str, str | None] = {}
            after: dict[str, str | None] = {}
            for r in applied:
                for p, t in r.before.items():
                    before.setdefault(p, t)
                after.update(r.after)
            conflicts = [p for p in after if self.read_current(p) != after[p]]
            if conflicts:
                raise SessionError(
                    f"cannot undo step {order}: {', '.join(conflicts)} changed since the step was applied; "
                    "undo those changes first or edit by hand",
                    "conflict",
                )
            change = ProposedChange([FileChange(p, after[p], before[p]) for p in sorted(after)])
            (progress or NullProgress()).report(
                f"undo step {order}: waiting for you to review the edit"
            )
            res = await self.host.apply_change(
                change, f"planfirst: undo step {order}", f"Restore the text before step {order}"
            )
            if not res.applied:
                return StepOutcome(
                    plan.id, order, "rejected", message=res.reason or "the undo was not applied"
                )
            before = await self._sync_disk(before)
            run = StepRun(
                attempt=len(st.runs) + 1,
                outcome="undone",
                proposed_diff=change.diff,
                before=after,
                after=before,
            )
            run.finished_at = now_iso()
            st.runs.append(run)
            for r in applied:
                r.outcome = "applied-undone"
            st.status = StepStatus.UNDONE
            if plan.status in (PlanStatus.DONE, PlanStatus.FAILED):
                plan.status = PlanStatus.EXECUTING
            self.save(plan)
            return StepOutcome(plan.id, order, "undone", message=f"step {order} undone")

    # ------------------------------------------------------------------ listing

    def list_plans(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Rows for every plan, and messages for plans that could not be read."""
        plans, problems = self.store.list()
        return [p.summary_row() for p in plans], [pr.error for pr in problems]

    def document(self, plan_id: str) -> str:
        """The plan document's text (the partial one while it streams)."""
        if plan_id in self.partial:
            return self.partial[plan_id]
        return render(self.load(plan_id)).text


__all__ = ["SUBMIT_PLAN", "ApplyOutcome", "Host", "Session", "SessionError", "StepOutcome"]
