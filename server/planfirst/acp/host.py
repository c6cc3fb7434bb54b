"""The ACP client as the core's Host: permission questions, diffs as tool calls, the plan view.

Everything the core says goes out as `session/update` notifications through one ordered outbox
(the core's `notify`/`log` are synchronous); the questions (`apply_change`, `confirm`) drain it
first, so the client always sees a tool call before the permission request that names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acp import Client, text_block
from acp.schema import (
    AgentMessageChunk,
    AgentThoughtChunk,
    AllowedOutcome,
    ClientCapabilities,
    ContentToolCallContent,
    FileEditToolCallContent,
    PermissionOption,
    SessionInfoUpdate,
    ToolCallLocation,
    ToolCallProgress,
    ToolCallStart,
    ToolCallUpdate,
)

from planfirst.acp import writes
from planfirst.acp.outbox import Outbox, ValidationCall
from planfirst.acp.terminal import ClientTerminal
from planfirst.acp.views import plan_view
from planfirst.core.commands.validate import Runner
from planfirst.core.editing.executor import ProposedChange
from planfirst.core.planning.mcp import McpTools
from planfirst.core.problems.base import Problem
from planfirst.core.workflow.session import ApplyOutcome
from planfirst.plan.model import PlanStatus, ValidationResult
from planfirst.plan.visible import encode

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session

log = logging.getLogger("planfirst.acp")

LEVEL_MARK = {"error": "✗ ", "warning": "⚠ ", "info": ""}


def _permission(option_id: str, name: str, kind: Any) -> PermissionOption:
    return PermissionOption(option_id=option_id, name=name, kind=kind)


class AcpHost:
    """Implements core.session.Host for one ACP session."""

    def __init__(self, conn: Client, session_id: str, root: Path, caps: ClientCapabilities) -> None:
        self.conn = conn
        self.session_id = session_id
        self.root = root
        self.caps = caps
        self.outbox = Outbox(conn, session_id)
        self.session: Session | None = None  # set by the agent once the core session exists
        # editor text of the step's files, read through fs/read_text_file
        self.buffers: dict[str, str] = {}
        # the plan revision whose run the user consented to with "apply this and the remaining
        # steps" (docs/reliability.md case 39): it covers that run only, cleared when it ends
        self.apply_all: tuple[str, int] | None = None
        self.step: str | None = None  # what is being executed ("step 2"): titles its validation
        self.plan_id: str | None = None  # the plan being executed
        self.order: int | None = None  # the step being executed
        self._validation: ValidationCall | None = None
        self._calls = 0
        self._run = secrets.token_hex(4)  # this process's part of tool call ids
        self.mcp: McpTools | None = None  # the session's MCP servers' read-only tools
        self.terminal = ClientTerminal(conn, session_id, self.attach_terminal)
        self._plan_timer: asyncio.TimerHandle | None = None
        self._output_timer: asyncio.TimerHandle | None = None
        self._plan_shown = ""  # the last plan view sent (JSON)
        self._plan_pending: str | None = None
        self._last_thought = ""
        self.streamed: str | None = None  # the plan whose planning started last (plan_started)

    # ------------------------------------------------------------------ capabilities

    def can_write(self) -> bool:
        """Whether the client writes files for us (`fs/write_text_file`)."""
        return bool(self.caps.fs and self.caps.fs.write_text_file)

    def can_read(self) -> bool:
        """Whether the client reads files (and unsaved buffers) for us (`fs/read_text_file`)."""
        return bool(self.caps.fs and self.caps.fs.read_text_file)

    def plan_ops(self) -> bool:
        """Whether the client opted in to `plan_update` / `plan_removed`."""
        return self.caps.plan is not None

    def _abs(self, rel: str) -> str:
        return str(self.root / rel)

    def call_id(self, kind: str) -> str:
        """A tool call id unique within the session, across agent processes too (a loaded
        session replays the ids of earlier processes)."""
        self._calls += 1
        return f"planfirst-{kind}-{self._run}-{self._calls}"

    # ------------------------------------------------------------------ messages

    def say(self, text: str) -> None:
        """An agent message chunk (a paragraph the user reads)."""
        self.outbox.put(
            AgentMessageChunk(
                session_update="agent_message_chunk", content=text_block(encode(text))
            )
        )

    def thought_delta(self, delta: str) -> None:
        """A piece of a streaming thought (never deduplicated)."""
        self._last_thought = ""
        self.outbox.put(
            AgentThoughtChunk(
                session_update="agent_thought_chunk", content=text_block(encode(delta))
            )
        )

    def thought(self, text: str) -> None:
        """An agent thought chunk (what planfirst is doing); repeats are dropped."""
        if text == self._last_thought:
            return
        self._last_thought = text
        self.outbox.put(
            AgentThoughtChunk(
                session_update="agent_thought_chunk", content=text_block(encode(text))
            )
        )

    def validating(self) -> bool:
        """Whether validation output is streaming into a tool call now."""
        return self._validation is not None

    def log(self, text: str) -> None:
        """Validation output goes into the step's validation tool call; other notes to the log."""
        if self.step is None:
            log.info("%s", text)
            return
        v = self._validation_call()
        v.output += text if text.endswith("\n") else text + "\n"
        self._soon()

    def _validation_call(self) -> ValidationCall:
        """The step's open validation tool call (started on first use)."""
        v = self._validation
        if v is None:
            v = self._validation = ValidationCall(
                self.call_id("validate"), f"Validate {self.step or 'the plan'}"
            )
            self.outbox.put(
                ToolCallStart(
                    session_update="tool_call",
                    tool_call_id=v.call_id,
                    title=v.title,
                    kind="execute",
                    status="in_progress",
                )
            )
        return v

    def command_runner(self) -> Runner | None:
        """Validation commands run in the client's terminal when it offers one (#30 item 7)."""
        return self.terminal.run if self.caps.terminal else None

    def attach_terminal(self, terminal_id: str) -> None:
        """Show a client terminal (a validation command running) in the validation call."""
        v = self._validation_call()
        v.terminals.append(terminal_id)
        self.outbox.put(self._validation_update(v, "in_progress"))

    def _soon(self) -> None:
        """Send the validation call's content soon (output arrives in many small chunks)."""
        if self._output_timer is None:
            self._output_timer = asyncio.get_running_loop().call_later(0.1, self._send_output)

    def _send_output(self) -> None:
        self._output_timer = None
        if self._validation is not None:
            self.outbox.put(self._validation_update(self._validation, "in_progress"))

    def _validation_update(self, v: ValidationCall, status: Any) -> ToolCallProgress:
        return ToolCallProgress(
            session_update="tool_call_update",
            tool_call_id=v.call_id,
            status=status,
            content=v.content(),
            locations=v.locations or None,
        )

    def end_validation(self, passed: bool) -> None:
        """Close the open validation tool call (completed or failed), its content replaced by
        the recorded output (the streamed chunks arrive without their line ends)."""
        v, self._validation = self._validation, None
        if self._output_timer is not None:
            self._output_timer.cancel()
            self._output_timer = None
        if v is None:
            return
        results = self._recorded_results()
        if results:
            v.output = "\n".join(
                f"$ {r.command}\n{r.output.rstrip()}"
                + (
                    ""
                    if r.passed
                    else f"\n(exit code {r.exit_code}{', timed out' if r.timed_out else ''})"
                )
                for r in results
            )
        self.outbox.put(self._validation_update(v, "completed" if passed else "failed"))

    def _recorded_results(self) -> list[ValidationResult]:
        """The validation results last recorded for the current step (and the test criteria
        when the plan just finished)."""
        if self.session is None or self.plan_id is None:
            return []
        try:
            plan = self.session.store.load(self.plan_id)
        except Exception:
            return []
        out: list[ValidationResult] = []
        if self.order is not None:
            with contextlib.suppress(KeyError):
                runs = [r for r in plan.state(self.order).runs if r.validation]
                if runs:
                    out += [r for r in runs[-1].validation if not r.refused]
        if plan.status in (PlanStatus.DONE, PlanStatus.FAILED):
            out += [r for r in plan.final_validation if not r.refused]
        return out

    def notify(self, message: str, level: str = "info") -> None:
        """A message the user sees."""
        self.say(f"\n{LEVEL_MARK.get(level, '')}{message}\n")

    def publish_problems(self, problems: dict[str, list[Problem]]) -> None:
        """Problems found in validation output: locations on the validation tool call."""
        items = [(path, p) for path, ps in problems.items() for p in ps]
        if not items:
            return
        lines = [
            f"{path}:{p.line}: {p.message.splitlines()[0][:200] if p.message else ''}"
            for path, p in items
        ]
        v = self._validation
        if v is None:
            self.say("\nProblems:\n" + "\n".join(f"- {x}" for x in lines[:20]) + "\n")
            return
        v.problems = lines
        v.locations = [
            ToolCallLocation(path=self._abs(path), line=p.line) for path, p in items[:50]
        ]
        self._soon()

    # ------------------------------------------------------------------ the plan view

    def plan_started(self, plan_id: str, title: str) -> None:
        """Name the session after the task; the plan streams in as plan updates."""
        self.streamed = plan_id
        self.outbox.put(
            SessionInfoUpdate(session_update="session_info_update", title=encode(title))
        )
        self.thought(f"Planning “{title}” ({plan_id})\n")

    def plan_changed(self, plan_id: str) -> None:
        """Send the plan soon (a streaming plan changes many times a second: coalesce)."""
        self._plan_pending = plan_id
        if self._plan_timer is None:
            self._plan_timer = asyncio.get_running_loop().call_later(0.1, self.send_plan)

    def send_plan(self) -> None:
        """Send the pending plan view now."""
        if self._plan_timer is not None:
            self._plan_timer.cancel()
            self._plan_timer = None
        plan_id, self._plan_pending = self._plan_pending, None
        if plan_id is None or self.session is None:
            return
        try:
            update = plan_view(self.session, plan_id, markdown=self.plan_ops())
        except Exception as e:  # a plan that cannot be read is reported elsewhere
            log.warning("plan %s not shown: %s", plan_id, e)
            return
        if update is None:
            return
        shown = update.model_dump_json()
        if shown != self._plan_shown:  # a save that changed nothing visible sends nothing
            self._plan_shown = shown
            self.outbox.put(update)

    async def settle(self) -> None:
        """Send the pending plan view and everything queued."""
        self.send_plan()
        await self.outbox.flush()

    # ------------------------------------------------------------------ questions

    async def ask(self, call: ToolCallUpdate, options: list[PermissionOption]) -> str | None:
        """session/request_permission; the chosen option id, None when cancelled or failed."""
        await self.settle()
        try:
            answer = await self.conn.request_permission(self.session_id, call, options)
        except asyncio.CancelledError:  # the turn was cancelled: the question is closed
            self.outbox.put(
                ToolCallProgress(
                    session_update="tool_call_update",
                    tool_call_id=call.tool_call_id,
                    status="failed",
                    raw_output={"choice": "cancelled"},
                )
            )
            raise
        except Exception as e:
            log.warning("request_permission failed: %s", e)
            return None
        outcome = answer.outcome
        if not isinstance(outcome, AllowedOutcome):
            return None
        if outcome.option_id not in {o.option_id for o in options}:
            # an option this question did not offer ("apply-all" to an undo, a stale answer
            # meant for another question) is no answer: it must not widen a consent (case 52)
            log.warning(
                "request_permission: %r was not offered; taken as no answer",
                str(outcome.option_id)[:100],
            )
            return None
        return outcome.option_id

    async def confirm(self, question: str) -> bool | None:
        """A yes/no question (commands outside the allow-list, files that configure tools)."""
        call_id = self.call_id("confirm")
        question = encode(question)  # it quotes commands and paths from the plan (case 34)
        self.outbox.put(
            ToolCallStart(
                session_update="tool_call",
                tool_call_id=call_id,
                title=question,
                kind="other",
                status="pending",
                content=[ContentToolCallContent(type="content", content=text_block(question))],
            )
        )
        choice = await self.ask(
            ToolCallUpdate(tool_call_id=call_id, title=question, kind="other", status="pending"),
            [
                _permission("yes", "Yes, this time", "allow_once"),
                _permission("no", "No", "reject_once"),
            ],
        )
        ok = choice == "yes"
        self.outbox.put(
            ToolCallProgress(
                session_update="tool_call_update",
                tool_call_id=call_id,
                status="completed" if ok else "failed",
            )
        )
        return ok

    async def apply_change(
        self, change: ProposedChange, label: str, description: str
    ) -> ApplyOutcome:
        """The step's diff as a tool call; the client's permission prompt is the preview."""
        if self._validation is not None:  # a new attempt: the previous validation failed
            self.end_validation(False)
        call_id = self.call_id("edit")
        label, description = encode(label), encode(description)  # model text (case 34)
        diffs = [
            FileEditToolCallContent(
                type="diff", path=self._abs(f.path), old_text=f.old, new_text=f.new or ""
            )
            for f in change.files
        ]
        notes = [f.path for f in change.files if f.new is None]
        content: list[Any] = list(diffs)
        if notes:
            content.append(
                ContentToolCallContent(
                    type="content", content=text_block("Deletes " + ", ".join(notes))
                )
            )
        kind: Any = "delete" if len(notes) == len(change.files) else "edit"
        locations = [ToolCallLocation(path=self._abs(f.path)) for f in change.files]
        self.outbox.put(
            ToolCallStart(
                session_update="tool_call",
                tool_call_id=call_id,
                title=label,
                kind=kind,
                status="pending",
                content=content,
                locations=locations,
                raw_input={"description": description},
            )
        )
        options = [_permission("apply", "Apply", "allow_once")]
        if self.step is not None and self.step.startswith("step"):
            options.append(
                _permission("apply-all", "Apply this and the remaining steps", "allow_always")
            )
        options.append(_permission("reject", "Reject", "reject_once"))
        choice = (
            "apply"
            if self.step and self.apply_all is not None and self.apply_all == self._revision()
            else await self.ask(
                ToolCallUpdate(
                    tool_call_id=call_id,
                    title=label,
                    kind=kind,
                    status="pending",
                    locations=locations,
                ),
                options,
            )
        )
        if choice not in ("apply", "apply-all"):
            self._finish_call(call_id, "failed", "Rejected: nothing changed.")
            return ApplyOutcome(
                False, "rejected in the editor" if choice == "reject" else "not answered"
            )
        if choice == "apply-all":
            self.apply_all = self._revision()
        self.outbox.put(  # pending → in_progress → completed, as ACP says
            ToolCallProgress(
                session_update="tool_call_update", tool_call_id=call_id, status="in_progress"
            )
        )
        failure = await self._write_through_client(change)
        if failure:
            self._finish_call(call_id, "failed", failure)
            return ApplyOutcome(False, failure)
        self.outbox.put(
            ToolCallProgress(
                session_update="tool_call_update", tool_call_id=call_id, status="completed"
            )
        )
        return ApplyOutcome(True)

    def _revision(self) -> tuple[str, int] | None:
        """The plan and revision being executed (what a consent to apply all is bound to)."""
        if self.session is None or self.plan_id is None:
            return None
        try:
            return (self.plan_id, self.session.store.load(self.plan_id).revision)
        except Exception:
            return None

    def _finish_call(self, call_id: str, status: Any, text: str) -> None:
        self.outbox.put(
            ToolCallProgress(
                session_update="tool_call_update",
                tool_call_id=call_id,
                status=status,
                raw_output={"result": text},
            )
        )

    async def _write_through_client(self, change: ProposedChange) -> str | None:
        """Write the approved text through the client (acp/writes.py: whole or not at all)."""
        return await writes.write_step(self, change)

    def abs_path(self, rel: str) -> str:
        """The absolute path of a workspace file, as ACP names files."""
        return self._abs(rel)

    async def read_buffer(self, rel: str) -> str | None:
        """A file's text as the editor holds it (unsaved edits included); None if unreadable."""
        try:
            res = await self.conn.read_text_file(self.session_id, self._abs(rel))
        except asyncio.CancelledError:
            raise
        except Exception:
            return None
        return res.content

    async def load_buffers(self, paths: list[str]) -> None:
        """Read the files a step works on through the editor, so unsaved edits count."""
        self.buffers = {}
        if not self.can_read():
            return
        for rel in paths:
            if not (self.root / rel).is_file():
                continue  # a file the step creates: nothing to read (and no error in the client)
            text = await self.read_buffer(rel)
            if text is not None:
                self.buffers[rel] = text

    # ------------------------------------------------------------------ the rest of Host

    def open_documents(self) -> dict[str, str]:
        """Editor text read for the current step (the core prefers it over the disk)."""
        return dict(self.buffers)

    def saves_documents(self) -> bool:
        """ACP clients do not save for us: the core writes the approved text."""
        return False

    async def save_documents(self, paths: list[str]) -> list[str]:
        """ACP clients are not asked to save: the core writes the approved text to disk."""
        return []
