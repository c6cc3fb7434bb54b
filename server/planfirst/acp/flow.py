"""One ACP session's conversation: what a prompt means at each point of a plan's life.

The workflow itself is the core's (`Session.generate/revise/approve/execute_next/retry/undo`);
this module only decides which of those a prompt asks for and what to say in between.
Plain text starts a plan (or revises one waiting for feedback); slash commands do the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from acp import text_block
from acp.schema import (
    AgentPlanRemovedUpdate,
    AvailableCommand,
    AvailableCommandInput,
    AvailableCommandsUpdate,
    ContentToolCallContent,
    Cost,
    PermissionOption,
    ToolCallLocation,
    ToolCallProgress,
    ToolCallStart,
    ToolCallUpdate,
    UnstructuredCommandInput,
    UsageUpdate,
)

from planfirst.acp.host import AcpHost
from planfirst.acp.transcript import Transcript
from planfirst.acp.views import approval_text
from planfirst.core.workflow import driver
from planfirst.core.workflow.session import Session, SessionError, StepOutcome
from planfirst.plan.model import Plan, PlanStatus, Usage
from planfirst.plan.store import StoreError
from planfirst.plan.visible import encode

CONTEXT_WINDOW = 200_000  # every Claude model planfirst uses has (at least) this window
CONTINUE_WORDS = {
    "continue",
    "go",
    "go on",
    "next",
    "resume",
    "run",
    "run it",
    "yes",
    "ok",
    "proceed",
}
COMMANDS: list[tuple[str, str, str | None]] = [
    ("new", "Plan a new task", "what you want changed"),
    ("approve", "Approve the plan and run its steps", None),
    ("revise", "Revise the plan with your feedback", "what should change"),
    ("continue", "Run the remaining steps (or review a draft plan)", None),
    ("retry", "Ask the model afresh for a step", "step number (default: the next one)"),
    ("undo", "Undo a step's edit", "step number (default: the last one)"),
    ("status", "Show the plan and where it is", None),
]
# what to do about a plan whose every step is done but whose test criteria failed
FINISH = (
    "/continue runs them again after you fix things, /revise <feedback> changes the plan (its "
    "criteria too), /undo [N] reverts a step, /status shows the plan."
)
HELP = (
    "Commands: /continue runs the remaining steps, /retry [N] runs a step again, /undo [N] "
    "reverts a step, /revise <feedback> rewrites a draft plan, /new <task> starts another plan, "
    "/status shows the plan."
)


def available_commands() -> AvailableCommandsUpdate:
    """The slash commands, for the client's command palette."""
    return AvailableCommandsUpdate(
        session_update="available_commands_update",
        available_commands=[
            AvailableCommand(
                name=name,
                description=desc,
                input=AvailableCommandInput(root=UnstructuredCommandInput(hint=hint))
                if hint
                else None,
            )
            for name, desc, hint in COMMANDS
        ],
    )


class AcpProgress:
    """The core's progress lines as agent thoughts (not while validation output streams), and
    the model's own thinking and text as they stream (thought and message chunks)."""

    def __init__(self, host: AcpHost) -> None:
        self.host = host
        self._streaming = ""  # "thinking" or "text" while a model stream is mid-line

    def report(self, message: str, percentage: int | None = None) -> None:
        if self.host.validating():
            return
        if message == "thinking…" and self._streaming:
            return  # the thinking itself is on screen
        self._end_stream()
        self.host.thought(message + "\n")

    def thinking(self, delta: str) -> None:
        """A piece of the model's extended thinking."""
        self._stream("thinking", delta)

    def text(self, delta: str) -> None:
        """A piece of the model's reply text."""
        self._stream("text", delta)

    def _stream(self, kind: str, delta: str) -> None:
        if self._streaming != kind:
            self._end_stream()
            self._streaming = kind
        if kind == "thinking":
            self.host.thought_delta(delta)
        else:
            self.host.say(delta)

    def _end_stream(self) -> None:
        if self._streaming == "thinking":
            self.host.thought_delta("\n")
        elif self._streaming == "text":
            self.host.say("\n")
        self._streaming = ""


def parse_command(text: str) -> tuple[str | None, str]:
    """'/retry 2' → ('retry', '2'); plain text → (None, text)."""
    t = text.strip()
    if t.startswith("/"):
        name, _, arg = t[1:].partition(" ")
        return name.strip().lower(), arg.strip()
    return None, t


@dataclass
class Conversation:
    """The state of one ACP session: its core session, its host and the plan it works on."""

    id: str
    root: Path
    core: Session
    host: AcpHost
    plan_id: str | None = None
    feedback: bool = False  # the next plain prompt is revision feedback
    turn: asyncio.Task[Any] | None = None  # the prompt being handled
    cancelled: bool = False  # session/cancel arrived for the current turn
    notes: list[str] = field(default_factory=list)  # said at the start of the next turn
    plans: set[str] = field(default_factory=set)  # plans this session worked on (usage, cost)
    # plan id -> the revision this session last showed for approval: a typed /approve approves
    # that one, never a revision made meanwhile elsewhere (the editor, a hand edit reloaded)
    shown: dict[str, int] = field(default_factory=dict)
    # workspace root -> the session editing files there, shared by every session of the agent:
    # two sessions never run steps in one workspace at once (the core locks per core session)
    editors: dict[Path, str] = field(default_factory=dict)
    transcript: Transcript = field(init=False)  # set by the agent
    # workspace file -> the text the client embedded in the current prompt (planning reads it
    # instead of the disk: what the user sees, unsaved edits included)
    embedded: dict[str, str] = field(default_factory=dict)
    unplanned: bool = False  # the current turn's planning stopped before a plan was made
    _editing: int = 0

    @contextlib.contextmanager
    def editing(self) -> Iterator[None]:
        """Hold the workspace for running steps or undoing (re-entrant within this session)."""
        holder = self.editors.get(self.root)
        if holder is not None and holder != self.id:
            raise SessionError(
                f"another session ({holder}) is running steps in this workspace; wait for it or stop it",
                "busy",
            )
        self.editors[self.root] = self.id
        self._editing += 1
        try:
            yield
        finally:
            self._editing -= 1
            if self._editing == 0:
                self.editors.pop(self.root, None)

    # ------------------------------------------------------------------ dispatch

    async def handle(self, text: str, files: list[str]) -> str:
        """One prompt turn; returns the ACP stop reason."""
        self.unplanned = False
        for note in self.notes:
            self.host.notify(note, "warning")
        self.notes.clear()
        cmd, arg = parse_command(text)
        plan = self._plan()
        if cmd is None:
            cmd = self._meaning(arg, plan)
        if cmd == "new":
            return await self.new(arg, files)
        if cmd == "help":
            self.host.say(HELP)
            return "end_turn"
        if plan is None:
            plan = self._adopt_active()
        if plan is None:
            self.host.say("There is no plan in this session yet: say what you want changed.")
            return "end_turn"
        if cmd == "revise":
            return await self.revise(plan, arg)
        if cmd == "approve":
            return await self.approve(plan)
        if cmd == "continue":
            return (
                await self.review(plan)
                if plan.status == PlanStatus.DRAFT
                else await self.run(plan.id)
            )
        if cmd == "retry":
            return await self.retry(plan, arg)
        if cmd == "undo":
            return await self.undo(plan, arg)
        if cmd == "status":
            self.host.plan_changed(plan.id)
            c = plan.counts()
            self.host.say(
                f"Plan “{plan.title}”: {plan.status.value}, {c.get('done', 0)}/{c['total']} steps done."
            )
            return "end_turn"
        self.host.say(f"Unknown command /{cmd}. {HELP}")
        return "end_turn"

    def _meaning(self, text: str, plan: Plan | None) -> str:
        """What plain text means now."""
        if plan is None or plan.status == PlanStatus.DONE:
            return "new"
        if self.feedback:
            return "revise"
        if text.strip().lower().rstrip(".!") in CONTINUE_WORDS:
            return "continue"
        if plan.status == PlanStatus.DRAFT:
            return "revise"
        return "help"

    def _adopt_active(self) -> Plan | None:
        """A command in a session without a plan works on the workspace's active plan (one made
        in another session, the terminal or an LSP editor)."""
        pid = self.core.store.active()
        if pid is None:
            return None
        self.plan_id = pid
        plan = self._plan()
        if plan is not None:
            self.plans.add(plan.id)
            with contextlib.suppress(StoreError):
                self.core.store.bind_session(self.id, plan.id)
            self.host.say(f"Working on the workspace's active plan “{plan.title}” ({plan.id}).\n")
        return plan

    def _plan(self) -> Plan | None:
        if self.plan_id is None:
            return None
        try:
            return self.core.load(self.plan_id)
        except SessionError:
            self.plan_id = None
            return None

    # ------------------------------------------------------------------ planning

    @contextlib.contextmanager
    def client_text(self) -> Iterator[None]:
        """Planning reads the files the prompt embedded as the client sent them."""
        self.host.buffers = {
            p: t for p, t in self.embedded.items() if not self.core.guard.excluded(p)
        }
        try:
            yield
        finally:
            self.host.buffers = {}

    async def new(self, task: str, files: list[str]) -> str:
        """Plan a new task, then ask for approval."""
        if not task.strip():
            self.host.say(
                "Say what you want changed, e.g. “Add a --top N option to the count command”."
            )
            return "end_turn"
        self.feedback = False
        self.host.streamed = None
        try:
            with self.client_text():
                plan = await self.core.generate(task, files=files, progress=AcpProgress(self.host))
        except BaseException:  # cancelled or failed: no plan was made
            self.unplanned = True
            self._drop_streamed()
            raise
        self.plan_id = plan.id
        self.plans.add(plan.id)
        try:
            self.core.store.bind_session(self.id, plan.id)
        except StoreError as e:  # the plan is saved; only resuming by session id is lost
            self.host.notify(f"this session cannot be resumed later: {e}", "warning")
        return await self.review(plan)

    def _drop_streamed(self) -> None:
        """Take the plan that was streaming in out of the client's view (it was never made)."""
        pid, self.host.streamed = self.host.streamed, None
        if pid is not None and self.host.plan_ops() and not self.core.store.exists(pid):
            self.host.outbox.put(AgentPlanRemovedUpdate(session_update="plan_removed", plan_id=pid))

    async def revise(self, plan: Plan, feedback: str) -> str:
        """A new revision from the feedback, then ask for approval again."""
        self.feedback = False
        with self.client_text():
            new = await self.core.revise(plan.id, feedback, progress=AcpProgress(self.host))
        return await self.review(new)

    async def approve(self, plan: Plan) -> str:
        """A typed /approve: the revision this session showed, else the plan is shown (again)
        and the user asked, as when the permission's answer came after a change."""
        self.feedback = False
        seen = self.shown.get(plan.id)
        if plan.status != PlanStatus.DONE and seen != plan.revision:
            self.host.say(
                f"The plan is now revision {plan.revision}, which this session has not shown "
                f"you (it showed revision {seen}); here it is.\n"
                if seen is not None
                else f"This session has not shown you the plan yet (revision {plan.revision}); "
                "here it is.\n"
            )
            return await self.review(plan)
        return await self._approve_and_run(
            plan.id, None if plan.status == PlanStatus.DONE else seen
        )

    async def _approve_and_run(self, plan_id: str, revision: int | None) -> str:
        """Approve `revision` (the one shown) and run the plan; a revision made meanwhile (the
        editor, a hand edit) is shown and asked about first."""
        try:
            await self.core.approve(plan_id, revision=revision)
        except SessionError as e:
            if e.code != "changed":
                raise
            self.host.say(f"{e.message}.\n")
            return await self.review(self.core.load(plan_id))
        return await self.run(plan_id)

    async def review(self, plan: Plan) -> str:
        """Show the plan and ask: approve, revise or reject."""
        self.shown[plan.id] = plan.revision
        self.host.plan_changed(plan.id)
        self.usage_update()
        path = str(self.core.store.plan_md(plan.id))
        call_id = self.host.call_id("approve")
        title = encode(f"Approve the plan “{plan.title}”?")
        self.host.outbox.put(
            ToolCallStart(
                session_update="tool_call",
                tool_call_id=call_id,
                title=title,
                kind="think",
                status="pending",
                content=[
                    ContentToolCallContent(
                        type="content", content=text_block(approval_text(plan, path))
                    )
                ],
                locations=[ToolCallLocation(path=path)],
            )
        )
        choice = await self.host.ask(
            ToolCallUpdate(tool_call_id=call_id, title=title, kind="think", status="pending"),
            [
                _option("approve", "Approve and run", "allow_once"),
                _option("revise", "Revise (your next message is the feedback)", "reject_once"),
                _option("reject", "Reject", "reject_once"),
            ],
        )
        done: Any = "completed" if choice == "approve" else "failed"
        self.host.outbox.put(
            ToolCallProgress(
                session_update="tool_call_update",
                tool_call_id=call_id,
                status=done,
                raw_output={"choice": choice},
            )
        )
        if choice == "approve":
            return await self._approve_and_run(plan.id, plan.revision)
        if choice == "revise":
            self.feedback = True
            self.host.say("What should change? Your next message revises the plan.")
            return "end_turn"
        if choice == "reject":
            self.plan_id = None
            if self.host.plan_ops():
                self.host.outbox.put(
                    AgentPlanRemovedUpdate(session_update="plan_removed", plan_id=plan.id)
                )
            self.host.say(
                f"Plan rejected; it stays a draft in {path}. Send a new task to plan again."
            )
            return "end_turn"
        if self.cancelled:
            return "cancelled"
        self.host.say("The plan is a draft: /approve runs it, or send feedback to revise it.")
        return "end_turn"

    # ------------------------------------------------------------------ execution

    async def _prepare(self, plan: Plan, order: int | None) -> None:
        """Name the step for the host and read its files through the editor."""
        self.host.step = f"step {order}" if order is not None else "the test criteria"
        self.host.plan_id, self.host.order = plan.id, order
        paths: list[str] = []
        if order is not None:
            try:
                paths = [p for p in plan.body.step(order).files if not self.core.guard.excluded(p)]
            except (KeyError, ValueError):
                paths = []
        await self.host.load_buffers(paths)

    async def _step(self, plan: Plan, order: int | None, run: Any) -> Any:
        await self._prepare(plan, order)
        passed = False
        try:
            outcome = await run()
            # the last step's call also shows the test criteria run after it: failed with them
            passed = str(outcome.status) == "done" and (
                self.core.load(plan.id).status != PlanStatus.FAILED
            )
        finally:
            self.host.end_validation(passed)
            self.host.step = self.host.order = None
            self.host.buffers = {}
        self.usage_update()
        return outcome

    async def run(self, plan_id: str) -> str:
        """Execute the remaining steps, one permission question per edit."""
        with self.editing(), self.consent():
            return await self._run(plan_id)

    @contextlib.contextmanager
    def consent(self) -> Iterator[None]:
        """A run's scope for "apply this and the remaining steps": the consent ends with the
        run that it was given in (docs/reliability.md case 39)."""
        try:
            yield
        finally:
            self.host.apply_all = None

    async def _run(self, plan_id: str) -> str:
        progress = AcpProgress(self.host)

        async def next_step() -> StepOutcome:
            plan = self.core.load(plan_id)
            return cast(
                StepOutcome,
                await self._step(
                    plan, plan.next_step(), lambda: self.core.execute_next(plan_id, progress)
                ),
            )

        async def status() -> str:
            return self.core.load(plan_id).status.value

        end = await driver.run_remaining(next_step, _report, status)
        if end.stopped_by_step:
            return self._after(end.last) or "end_turn"
        self._finished(self.core.load(plan_id))
        return "end_turn"

    async def retry(self, plan: Plan, arg: str) -> str:
        """Run one step again (default: the next one), then the rest."""
        order = _number(arg) or plan.next_step()
        if order is None and plan.status != PlanStatus.DONE:
            return await self.run(plan.id)  # every step done, the plan not: its test criteria
        if order is None:
            raise SessionError("every step is done; /undo N first to run a step again")
        with self.editing(), self.consent():
            outcome = await self._step(
                plan, order, lambda: self.core.retry(plan.id, order, AcpProgress(self.host))
            )
            stop = self._after(outcome)
            return stop if stop is not None else await self._run(plan.id)

    async def undo(self, plan: Plan, arg: str) -> str:
        """Revert a step's edit (the client previews the inverse diff)."""
        order = _number(arg)
        files = sorted({p for s in plan.steps for r in s.runs for p in r.after})
        with self.editing():
            await self.host.load_buffers([p for p in files if not self.core.guard.excluded(p)])
            try:
                outcome = await self.core.undo(plan.id, order, AcpProgress(self.host))
            finally:
                self.host.buffers = {}
        self.host.say(outcome.message or f"step {outcome.step}: {outcome.status}")
        return "end_turn"

    def _after(self, outcome: Any) -> str | None:
        """Stop the run after a step that was not done (and say what the user can do)."""
        status = str(outcome.status)
        if status == "done":
            return None
        if self.cancelled:
            return "cancelled"
        n = outcome.step
        if status == "rejected":
            self.host.say(
                f"/continue offers the same edit again, /retry {n} asks the model for a new one, "
                "/undo reverts an earlier step, /new starts over."
            )
        elif n is None:
            self.host.say(f"The test criteria failed: {outcome.message}. {FINISH}")
        else:
            self.host.say(
                f"Step {n} failed: {outcome.message}. /retry {n} runs it again after you fix "
                "things, /undo reverts it, /status shows the plan."
            )
        return "end_turn"

    def _finished(self, plan: Plan) -> None:
        u = plan.usage
        self.host.say(
            f"Plan “{plan.title}” {plan.status.value}: {len(plan.steps)} steps, {u.calls} model calls, "
            f"est. ${u.cost_usd:.4f}. The plan and its log: {self.core.store.plan_md(plan.id)}"
            + (f"\n{FINISH}" if plan.status != PlanStatus.DONE else "")
        )

    # ------------------------------------------------------------------ usage

    def totals(self) -> Usage:
        """Usage of every plan this session worked on."""
        total = Usage()
        for pid in sorted(self.plans):
            try:
                total.add(self.core.store.load(pid).usage)
            except Exception:
                continue
        return total

    def usage_update(self) -> None:
        """usage_update: prompt tokens of a recent model call (context in use) and the cost."""
        u = self.totals()
        if u.calls == 0:
            return
        per_call = (
            u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
        ) // u.calls
        self.host.outbox.put(
            UsageUpdate(
                session_update="usage_update",
                used=min(CONTEXT_WINDOW, per_call),
                size=CONTEXT_WINDOW,
                cost=Cost(amount=round(u.cost_usd, 6), currency="USD"),
            )
        )


def _report(outcome: StepOutcome) -> driver.StepReport:
    return driver.StepReport(outcome.step, str(outcome.status))


def _option(option_id: str, name: str, kind: Any) -> PermissionOption:
    return PermissionOption(option_id=option_id, name=name, kind=kind)


def _number(arg: str) -> int | None:
    arg = arg.strip().removeprefix("step").strip()
    if not arg:
        return None
    if not arg.isdigit():
        raise SessionError(f"{arg[:40]!r} is not a step number")
    return int(arg)
