"""The session: planfirst's workflow for one workspace, as the faces see it.

A Session belongs to one workspace. It is driven by a face (the language server) through a
`Host`, which is how the core asks the editor for things: current buffer text, applying a
previewed edit, saving, confirming, showing progress and problems.

This module is the facade: it owns the workspace state (settings, guard, plan store, what is
running) and lets one operation at a time run on a plan. The work is done by modules with one
concern each: plans.py (generate, revise, reload, approve), stepper.py (the step state
machine), undo.py, checks.py (validation, test criteria, problems), diagnoser.py and fsio.py
(reading files, making the disk hold the approved text).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from planfirst.core.planning.context import Selection
from planfirst.core.planning.mcp import McpTools
from planfirst.core.planning.planner import SUBMIT_PLAN
from planfirst.core.problems.board import ProblemsBoard
from planfirst.core.workflow import budget, checks, fsio, plans, stepper
from planfirst.core.workflow import undo as undoing
from planfirst.core.workflow.contracts import (
    ApplyOutcome,
    Host,
    ModelFactory,
    NullProgress,
    Progress,
    SessionError,
    StepOutcome,
    StepResult,
)
from planfirst.core.workspace.opening import open_guard, open_store
from planfirst.plan.liveness import process_start
from planfirst.plan.model import Plan, PlanStatus, StepStatus
from planfirst.plan.render import Rendered
from planfirst.plan.store import StoreError, UnknownPlan
from planfirst.settings import Settings

_EDITING = ("executing", "undoing")  # operations that change workspace files
MD_DEBOUNCE_S = 0.25  # plan.md waits this long for the next save before it is written


class Session:
    """planfirst's workflow for one workspace."""

    def __init__(self, root: Path, settings: Settings, models: ModelFactory, host: Host) -> None:
        self.root = Path(root).resolve()
        self.settings = settings
        self.models = models
        self.host = host
        self.guard = open_guard(self.root, settings)
        self.store = open_store(self.root, settings)
        self.partial: dict[str, str] = {}  # plan id -> markdown of a plan still streaming in
        self._busy: dict[str, str] = {}  # plan id -> what is running on it
        self._tasks: dict[str, asyncio.Task[Any]] = {}  # plan id -> the task doing it
        self._handed_over: set[asyncio.Task[Any]] = set()  # waits that outlive their operation
        # what is published as diagnostics now, through whichever host the session has then
        self.problems = ProblemsBoard(lambda problems: self.host.publish_problems(problems))
        # who this session is to other planfirst processes on the workspace (PlanStore.claim)
        # (with its start time: a killed process's pid reused by another is not it)
        self.owner = f"{os.getpid()} {secrets.token_hex(4)} {process_start(os.getpid()) or '-'}"
        self._md_timers: dict[str, asyncio.TimerHandle] = {}  # plan.md writes pending (#32)
        self._md_last: set[str] = set()  # last save made: plan.md to the writer at the end
        self._md_refused: set[str] = set()  # plan.md refusals the user was told about
        # the event loop of the last operation: a plan.md the background writer left to flush_md
        # is flushed on it (plan/md_file.py md_left)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.store.md_left = self._md_left
        # the connected MCP servers' read-only tools for planning (core/planning/mcp.py),
        # set by a face
        self.mcp: McpTools | None = None

    # ------------------------------------------------------------------ state

    def update_settings(self, settings: Settings) -> None:
        """Take new settings (from workspace/configuration)."""
        self.settings = settings
        self.guard = open_guard(self.root, settings)
        store = open_store(self.root, settings)
        if self.store.plans_dir != store.plans_dir:
            self.flush_md()
            self.store = store

    def load(self, plan_id: str | None) -> Plan:
        """A plan by id (None: the active plan), with errors written for the user."""
        return self._get(plan_id, self.store.load)

    def peek(self, plan_id: str | None) -> Plan:
        """Like load(), for reading only: the shared plan (never change it)."""
        return self._get(plan_id, self.store.view)

    def _get(self, plan_id: str | None, get: Callable[[str], Plan]) -> Plan:
        pid = plan_id or self.store.active()
        if not pid:
            raise SessionError(
                "there is no active plan; generate one first or pass a planId", "no_plan"
            )
        try:
            return get(pid)
        except UnknownPlan:
            raise SessionError(
                # the id may come from a client: never echo an unbounded string
                f"unknown plan {pid[:100]!r}; run 'planfirst.listPlans' to see plans",
                "unknown_plan",
            ) from None
        except StoreError as e:
            raise SessionError(str(e), "corrupt_plan") from None

    def view(self, plan_id: str) -> tuple[Plan, Rendered]:
        """A plan for reading only (shared: never change it) and its rendering, both made once
        per version of plan.json (plan/held.py); errors as load()."""
        got = self.store.rendered(plan_id)
        if got is None:
            self.load(plan_id)  # raises the SessionError that says why
            raise SessionError(f"plan {plan_id[:100]!r} cannot be read", "corrupt_plan")
        return got

    def save(
        self, plan: Plan, *, durable: bool = True, wait: bool = True, last: bool = False
    ) -> None:
        """Persist and tell the face the plan changed. `durable` False for the transitions a
        power loss may undo (still atomic: a killed server leaves the old or the new file);
        `wait` False leaves the file work to the background writer (a non-durable transition
        followed by a wait on the model); see docs/performance.md. plan.md follows once the
        changes settle (`_md_soon`). `last`: the operation's last save (a step done): written
        here; its plan.md goes to the background writer when the operation ends (after the step
        made its plan the shared one: no parsing again) and is written while it answers."""
        busy = plan.id in self._busy  # inside an operation: durable by the time it answers
        try:
            if last and busy:
                # written here (in place: no thread hand-over on the way to the answer), its
                # plan.md rendered and written on the background writer meanwhile (#32)
                self.store.save(plan, durable=durable, render_md=False, sync_dir_later=True)
                self._md_last.add(plan.id)
            else:
                self.store.save(
                    plan, durable=durable, render_md=False, wait=wait, sync_dir_later=busy
                )
        except OSError as e:  # this save, or the background write before it (disk full, RO)
            where = f": {e.filename}" if getattr(e, "filename", None) else ""
            raise SessionError(
                f"planfirst cannot save plan {plan.id!r} ({e.strerror or e}{where}); it stopped "
                "here. Free some space or make the plans folder writable, then run it again: a "
                "step that was stopped checks what reached the disk (docs/reliability.md case 53)",
                "save_failed",
            ) from None
        if not (last and busy):
            self._md_last.discard(plan.id)  # saved after it: no longer the operation's last
            self._md_soon(plan.id)
        self.host.plan_changed(plan.id)

    def _md_soon(self, plan_id: str) -> None:
        """Write plan.md after MD_DEBOUNCE_S without another save, and at the latest when the
        operation on the plan ends (exclusive): once per visible change, not per transition."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a synchronous caller): now
            loop = None
        if loop is None or plan_id not in self._busy:  # not inside an operation: now
            self.flush_md(plan_id)
            return
        timer = self._md_timers.pop(plan_id, None)
        if timer is not None:
            timer.cancel()
        self._md_timers[plan_id] = loop.call_later(MD_DEBOUNCE_S, self.flush_md, plan_id)

    def _md_left(self, plan_id: str) -> None:
        """On the writer's thread: plan.md was left to flush_md (a hand edit, a refused path)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.flush_md, plan_id)

    def settle_durable(self, plan_id: str) -> None:
        """Wait until the plan's durable saves are durable (their directory fsyncs ran)."""
        try:
            self.store.settle_durable(plan_id)
        except OSError as e:  # fsync_dir ignores its own errors; a queue failure is logged
            self.host.log(f"[{plan_id}] {e}")

    def flush_md(self, plan_id: str | None = None) -> None:
        """Write the pending plan.md of one plan (None: finish every queued write first, then
        every plan's plan.md) now."""
        if plan_id is None:
            try:
                self.store.settle()
            except (OSError, StoreError) as e:
                self.host.log(f"a plan write failed: {e}")
        for pid in [plan_id] if plan_id else list(self.store.stale_md()):
            timer = self._md_timers.pop(pid, None)
            if timer is not None:
                timer.cancel()
            try:
                kept = self.store.flush_md(pid)
            except (OSError, StoreError) as e:  # plan.json is saved; plan.md is its rendering
                message = f"[{pid}] cannot write plan.md: {e}"
                self.host.log(message)
                if message not in self._md_refused:  # a planted link or FIFO: say it once
                    self._md_refused.add(message)
                    self.host.notify(message[:1000], "warning")
                continue
            if kept is not None:  # nothing the user typed is lost without a word
                self.host.notify(
                    f"plan {pid}: your edits of plan.md were not reloaded before the plan changed; "
                    f"plan.md shows the plan again and your text is kept in {kept.name} beside "
                    "it: copy it over plan.md and run Reload Plan to take it",
                    "warning",
                )

    @contextlib.asynccontextmanager
    async def exclusive(self, plan_id: str, what: str) -> AsyncIterator[None]:
        """One operation at a time per plan; a second one is refused, not queued. Operations
        that edit files (executing, undoing) are also one at a time per workspace, so two plans
        never edit the same files at once."""
        self.refuse_if_busy(plan_id, hint=True)
        if what.startswith(_EDITING):
            for other, doing in self._busy.items():
                if doing.startswith(_EDITING):
                    raise SessionError(
                        f"plan {other!r} is {doing} in this workspace; wait for it or run 'planfirst.cancel'",
                        "busy",
                    )
        # a StoreError (reason "store") when a directory or a link is where the claim goes
        held = self.store.claim(plan_id, self.owner, what)
        if held is not None:
            raise SessionError(_elsewhere(plan_id, held), "busy")
        self._busy[plan_id] = what
        task = asyncio.current_task()
        if task is not None:
            self._tasks[plan_id] = task
        self._loop = asyncio.get_running_loop()
        try:
            yield
        finally:
            if plan_id in self._md_last:  # the writer renders it (save: last)
                self._md_last.discard(plan_id)
                self.store.md_later(plan_id)
            else:
                self.flush_md(plan_id)
            self.settle_durable(plan_id)
            if self._busy.get(plan_id) == what:  # not handed over (hand_over)
                del self._busy[plan_id]
            # a preview's answer handed over keeps the plan busy here only: an answer that never
            # comes (the client went away) must not hold the plan from every other face
            self.store.release(plan_id, self.owner)
            if task is not None and self._tasks.get(plan_id) is task:
                del self._tasks[plan_id]

    def hand_over(self, plan_id: str, what: str, work: Coroutine[Any, Any, None]) -> None:
        """Keep the plan busy with `what` after the running operation ends, until `work` is
        done (an editor's answer the cancelled operation can no longer take). Not cancellable:
        it ends when the editor answers."""
        self._busy[plan_id] = what
        task = asyncio.ensure_future(work)
        self._handed_over.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._handed_over.discard(t)
            self.flush_md(plan_id)
            self.settle_durable(plan_id)
            if self._busy.get(plan_id) == what:
                del self._busy[plan_id]
            if not t.cancelled() and t.exception() is not None:
                self.host.log(f"[{plan_id}] {what}: {t.exception()!r}")
            # the plan is free again: editors refresh their status (a discarded answer saves
            # nothing, so nothing else would tell them)
            self.host.plan_changed(plan_id)

        task.add_done_callback(done)

    def refuse_if_busy(self, plan_id: str, *, hint: bool = False) -> None:
        """A SessionError("busy") when an operation runs on the plan."""
        if plan_id in self._busy:
            tail = "; wait for it or run 'planfirst.cancel'" if hint else ""
            raise SessionError(f"plan {plan_id!r} is busy ({self._busy[plan_id]}){tail}", "busy")
        self.refuse_if_elsewhere(plan_id)

    def refuse_if_elsewhere(self, plan_id: str) -> None:
        """A SessionError("busy") when another planfirst process works on the plan (where it
        must be waited for or cancelled: not here)."""
        held = self.store.claimed(plan_id)
        if held is not None and held[0] != self.owner:
            raise SessionError(_elsewhere(plan_id, held[1]), "busy")

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

    # ------------------------------------------------------------------ files

    def read_current(self, rel: str) -> str | None:
        """A file's current text: the editor's open document wins over the disk."""
        return fsio.read_current(self.host, self.guard, rel)

    def read_disk(self, rel: str) -> str | None:
        """A file's text on disk, or None when it does not exist."""
        return fsio.read_disk(self.guard, rel)

    def command_env(self) -> dict[str, str]:
        """The environment validation runs in (see checks.command_env)."""
        return checks.command_env(self.root)

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
        with budget.metered(budget.for_planning(self)):  # a critique is counted too
            return await plans.generate(
                self, task, selection=selection, files=files, progress=progress
            )

    async def revise(
        self,
        plan_id: str,
        feedback: str,
        progress: Progress | None = None,
        steps: Sequence[int | str] = (),
    ) -> Plan:
        """Revision N+1 from the plan, the feedback and fresh context; old revisions kept
        (`steps`: the only steps to change)."""
        self.recover_left_running(plan_id)
        before = self.load(plan_id)
        meter = budget.for_revision(self, before)
        try:
            with budget.metered(meter):
                return await plans.revise(self, before.id, feedback, progress, steps)
        finally:
            if before.status != PlanStatus.DRAFT:  # the plan cap counts it, refused or not
                budget.count_extra(self, before.id, meter)

    async def approve(
        self,
        plan_id: str | None,
        *,
        force: bool = False,
        execution_model: str | None = None,
        revision: int | None = None,
    ) -> Plan:
        """Mark a plan approved (run by `execution_model` when given); plans with lint errors
        need confirmation (or force); `revision`: the one the user saw (another is refused)."""
        return await plans.approve(
            self, plan_id, force=force, execution_model=execution_model, revision=revision
        )

    def reload(self, plan_id: str | None) -> Plan:
        """Parse the user-edited plan.md back into the plan (a draft again if it changed)."""
        self.recover_left_running(plan_id)
        return plans.reload(self, plan_id)

    def recover_left_running(self, plan_id: str | None) -> None:
        """Settle the steps a killed server left `running` (nothing runs on the plan here), as
        Execute does, before a revision or a reload carries them over: an edit that landed is
        recorded as applied, never forgotten behind a `pending` step."""
        plan = self.load(plan_id)
        try:
            self.refuse_if_busy(plan.id)
        except SessionError:
            return  # it runs (here or in another planfirst): revise and reload refuse it
        left = [st.order for st in plan.steps if st.status == StepStatus.RUNNING]
        for order in left:
            stepper.recover(self, plan, order)
        if left:
            self.save(plan)

    # ------------------------------------------------------------------ execution

    async def execute_next(
        self, plan_id: str | None, progress: Progress | None = None
    ) -> StepOutcome:
        """Run the next pending step of an approved plan (or the final checks after the last)."""
        plan = self.peek(plan_id)  # stepper.execute loads its own copy once it holds the plan
        return await stepper.execute(self, plan, None, progress or NullProgress())

    async def retry(
        self, plan_id: str | None, order: int | None, progress: Progress | None = None
    ) -> StepOutcome:
        """Run a failed, pending or undone step again (None: the first such step)."""
        plan = self.peek(plan_id)
        if order is None:
            order = stepper.step_to_retry(plan)
        try:
            plan.body.step(order)
        except KeyError:
            raise SessionError(f"plan {plan.id!r} has no step {order}") from None
        return await stepper.execute(self, plan, order, progress or NullProgress())

    async def undo(
        self, plan_id: str | None, order: int | None, progress: Progress | None = None
    ) -> StepOutcome:
        """A previewed inverse edit restoring the exact pre-step text."""
        return await undoing.undo(self, plan_id, order, progress or NullProgress())

    # ------------------------------------------------------------------ listing

    def list_plans(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Rows for every plan, and messages for plans that could not be read."""
        plans, problems = self.store.list()
        return [p.summary_row() for p in plans], [pr.error for pr in problems]

    def document(self, plan_id: str) -> str:
        """The plan document's text (the partial one while it streams)."""
        if plan_id in self.partial:
            return self.partial[plan_id]
        return self.view(plan_id)[1].text


def _elsewhere(plan_id: str, what: str) -> str:
    return (
        f"plan {plan_id!r} is busy in another planfirst on this workspace ({what}); wait for "
        "it there, or cancel it there"
    )


__all__ = [
    "SUBMIT_PLAN",
    "ApplyOutcome",
    "Host",
    "ModelFactory",
    "NullProgress",
    "Progress",
    "Session",
    "SessionError",
    "StepOutcome",
    "StepResult",
]
