"""`planfirst acp`: planfirst as an Agent Client Protocol agent over stdio (Zed, JetBrains, …).

A second face over the same core as the language server: each ACP session gets a core
`Session` whose Host is `AcpHost`; `flow.Conversation` maps prompts onto the core's workflow.
Settings come from the environment and the command line only (never from the workspace).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any, cast

from acp import PROTOCOL_VERSION, Agent, Client, RequestError, run_agent
from acp.connection import StreamDirection, StreamEvent
from acp.schema import (
    AgentCapabilities,
    ClientCapabilities,
    Implementation,
    InitializeResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PromptCapabilities,
    PromptResponse,
    StopReason,
    Usage,
)

from planfirst import __version__
from planfirst.acp import framing
from planfirst.acp.flow import Conversation, available_commands
from planfirst.acp.host import AcpHost
from planfirst.acp.prompt import mcp_servers, read_prompt
from planfirst.acp.shared import CURRENT, WorkspaceHost
from planfirst.acp.transcript import Transcript
from planfirst.acp.views import plan_view, replay
from planfirst.core.planning import mcp
from planfirst.core.workflow.session import Session, SessionError
from planfirst.core.workspace.opening import open_store, recorded_plans_dir
from planfirst.errors import PlanfirstError
from planfirst.llm.factory import Models
from planfirst.plan.model import Plan, PlanStatus
from planfirst.settings import Settings, load_settings

log = logging.getLogger("planfirst.acp")


def _root(cwd: str) -> Path:
    """The workspace an ACP session works in (absolute, an existing directory)."""
    p = Path(cwd) if isinstance(cwd, str) else Path()
    if not isinstance(cwd, str) or not p.is_absolute() or not p.is_dir():
        raise RequestError.invalid_params(
            {"cwd": f"{str(cwd)[:200]!r} is not an absolute path to a directory"}
        )
    return p.resolve()


# core error codes that are ACP stop reasons of their own (the rest end the turn)
_STOPS = {"refusal": "refusal", "truncated": "max_tokens", "max_turns": "max_turn_requests"}


def _delta(after: Any, before: Any) -> Usage:
    inp = after.input_tokens - before.input_tokens
    out = after.output_tokens - before.output_tokens
    read = after.cache_read_input_tokens - before.cache_read_input_tokens
    write = after.cache_creation_input_tokens - before.cache_creation_input_tokens
    return Usage(
        total_tokens=max(0, inp + out + read + write),
        input_tokens=max(0, inp),
        output_tokens=max(0, out),
        cached_read_tokens=max(0, read),
        cached_write_tokens=max(0, write),
    )


class PlanfirstAgent:
    """The ACP agent: sessions by id, each a Conversation over a core Session."""

    def __init__(self, settings: Settings, problems: list[str] | None = None) -> None:
        self.settings = settings
        self.problems = list(problems or [])
        self.conn: Client | None = None
        self.caps = ClientCapabilities()
        self.sessions: dict[str, Conversation] = {}
        self.editors: dict[Path, str] = {}  # workspace -> the session running steps in it
        # workspace -> its one core Session and the Host routing the core's calls (#30 item 8)
        self.cores: dict[Path, tuple[Session, WorkspaceHost]] = {}
        self._models: Models | None = None

    def on_connect(self, conn: Client) -> None:
        self.conn = conn

    def observe(self, event: StreamEvent) -> None:
        """The SDK's stream observer: once the session/new response is written, the session's
        updates (available commands) may go out — never before (Zed drops them)."""
        msg = event.message
        if event.direction != StreamDirection.OUTGOING or "method" in msg:
            return
        result = msg.get("result")
        sid = result.get("sessionId") if isinstance(result, dict) else None
        conv = self.sessions.get(sid) if isinstance(sid, str) else None
        if conv is not None:
            conv.host.outbox.release()

    def models(self) -> Models:
        """The model factory, shared by every session (one scripted server offline)."""
        if self._models is None:
            self._models = Models(self.settings)
        return self._models

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: ClientCapabilities | None = None,
        client_info: Implementation | None = None,
        **kwargs: Any,
    ) -> InitializeResponse:
        self.caps = client_capabilities or ClientCapabilities()
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(
                load_session=True, prompt_capabilities=PromptCapabilities(embedded_context=True)
            ),
            agent_info=Implementation(name="planfirst", title="planfirst", version=__version__),
            auth_methods=[],
        )

    def _open(self, session_id: str, root: Path) -> Conversation:
        assert self.conn is not None
        old = self.sessions.pop(session_id, None)
        if old is not None and old.turn is not None and not old.turn.done():
            # the running session/prompt gets its answer: stop reason cancelled (case 44)
            old.cancelled = True
            old.turn.cancel()  # the core's work runs in the turn's task (cancels only its own)
        host = AcpHost(self.conn, session_id, root, self.caps)
        core = self._core(root, host)
        host.session = core
        CURRENT.set(host)  # for the rest of this request (load's replay)
        conv = Conversation(
            session_id, root, core, host, notes=list(self.problems), editors=self.editors
        )
        conv.transcript = Transcript(core.store, session_id, root)
        if old is not None:
            old.transcript.flush()  # a live session loaded again continues its transcript
        conv.transcript.load_bound()
        host.outbox.recorder = conv.transcript.record
        if old is not None:  # what the old turn still says belongs to the one conversation
            old.host.outbox.recorder = conv.transcript.record
            if old.host.mcp is not None:  # its servers stop; the loaded session starts its own
                task = asyncio.ensure_future(old.host.mcp.close())
                _background.add(task)
                task.add_done_callback(_background.discard)
        self.sessions[session_id] = conv
        return conv

    async def _connect_mcp(self, conv: Conversation, servers: Any) -> None:
        """Connect the session's MCP servers (the client's stdio servers and the user's
        `planfirst.mcp.servers`); what could not be used is said at the next turn."""
        wanted, problems = mcp_servers(servers)
        more, bad = mcp.servers_from_setting(self.settings.mcp.servers)
        wanted += [m for m in more if m.name not in {w.name for w in wanted}]
        problems += bad
        if wanted:
            tools = mcp.McpTools()
            await tools.connect(wanted, conv.root)
            conv.host.mcp = tools
            problems += tools.problems
        conv.notes += problems

    def settings_for(self, root: Path) -> Settings:
        """The settings of the workspace at `root`: ours, with the plans folder its language
        server recorded (`.planfirst/plans-dir`) when neither the environment nor the settings
        file names one — as `planfirst run`, `plans` and `diff` do, so a `plansDir` from the
        editor's workspace settings finds the same plans here (QA rt2)."""
        if "plans_dir" in self.settings.model_fields_set:
            return self.settings
        recorded = recorded_plans_dir(root)
        if recorded is None or recorded == self.settings.plans_dir:
            return self.settings
        return self.settings.model_copy(update={"plans_dir": recorded})

    def _core(self, root: Path, host: AcpHost) -> Session:
        """The workspace's one core Session (made by its first ACP session)."""
        shared = self.cores.get(root)
        if shared is None:
            wh = WorkspaceHost(host)
            settings = self.settings_for(root)
            shared = self.cores[root] = (Session(root, settings, self.models(), wh), wh)
        shared[1].last = host
        return shared[0]

    async def new_session(
        self, cwd: str, mcp_servers: Any = None, **kwargs: Any
    ) -> NewSessionResponse:
        root = _root(cwd)
        session_id = f"acp-{secrets.token_hex(8)}"
        conv = self._open(session_id, root)
        await self._connect_mcp(conv, mcp_servers)
        conv.host.outbox.hold()  # released by `observe` once this response is written
        # (and in any case soon: a held outbox must never hang the session)
        asyncio.get_running_loop().call_later(2.0, conv.host.outbox.release)
        conv.host.outbox.put(available_commands())
        return NewSessionResponse(session_id=session_id)

    async def load_session(
        self, cwd: str, session_id: str, mcp_servers: Any = None, **kwargs: Any
    ) -> LoadSessionResponse:
        """Resume the plan a session worked on (or a plan given by its id): replay it first."""
        root = _root(cwd)
        store = open_store(root, self.settings_for(root))
        plan_id = store.session_plan(session_id) or (
            session_id if store.exists(session_id) else None
        )
        if plan_id is None:
            raise RequestError.invalid_params(
                {"sessionId": f"no session or plan {str(session_id)[:100]!r} in {root}"}
            )
        conv = self._open(session_id, root)
        await self._connect_mcp(conv, mcp_servers)
        try:
            plan = conv.core.load(plan_id)
        except SessionError as e:
            raise RequestError.invalid_params({"sessionId": e.message}) from None
        conv.plan_id = plan.id
        conv.plans.add(plan.id)
        conv.host.outbox.put(available_commands())
        path = str(conv.core.store.plan_md(plan.id))
        recorded = conv.transcript.replay()
        if not recorded:  # a session from before transcripts: the plan's own history
            recorded = replay(plan, root, path, None)
        for update in recorded:
            conv.host.outbox.put(update, record=False)
        view = plan_view(conv.core, plan.id, markdown=conv.host.plan_ops())
        if view is not None:
            conv.host.outbox.put(view)
        c = plan.counts()
        conv.host.say(f"\nResumed: {c.get('done', 0)}/{c['total']} steps done. " + _next(plan))
        conv.usage_update()
        await conv.host.settle()
        return LoadSessionResponse()

    async def prompt(self, session_id: str, prompt: list[Any], **kwargs: Any) -> PromptResponse:
        conv = self.sessions.get(session_id)
        if conv is None:
            raise RequestError.invalid_params(
                {"sessionId": f"unknown session {str(session_id)[:100]!r}"}
            )
        if conv.turn is not None and not conv.turn.done():
            raise RequestError.invalid_request(
                {"message": "a prompt is already running in this session; cancel it first"}
            )
        got = read_prompt(prompt, conv.root)
        text, files = got.text, got.files
        conv.embedded = got.docs
        conv.transcript.user(text)
        before = conv.totals()
        conv.cancelled = False
        turn = asyncio.get_running_loop().create_task(self._turn(conv, text, files))
        conv.turn = turn
        try:
            stop = await turn
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not conv.cancelled or (task is not None and task.cancelling()):
                raise
            stop = "cancelled"
        finally:
            conv.turn = None
        if stop == "cancelled":
            conv.host.end_validation(False)
            conv.host.say(
                "\nCancelled: no plan was made; send the task again to plan it."
                if conv.unplanned
                else "\nCancelled. The plan is saved; /continue picks it up again."
            )
        conv.usage_update()
        await conv.host.settle()
        conv.transcript.flush()
        return PromptResponse(
            stop_reason=cast(StopReason, stop), usage=_delta(conv.totals(), before)
        )

    async def _turn(self, conv: Conversation, text: str, files: list[str]) -> str:
        CURRENT.set(conv.host)  # the core's calls during this turn go to this session
        try:
            return await conv.handle(text, files)
        except PlanfirstError as e:  # mapped once: a model's refusal is ACP's `refusal`, …
            conv.host.notify(e.message, "error")
            return _STOPS.get(e.code, "end_turn")
        except Exception as e:  # a bug: logged with its traceback, the session keeps serving
            log.exception("prompt failed")
            conv.host.notify(f"planfirst failed: {type(e).__name__}: {e}", "error")
            return "end_turn"

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        """session/cancel: stop what the session is doing (the core records the step as cancelled)."""
        conv = self.sessions.get(session_id)
        if conv is None or conv.turn is None or conv.turn.done():
            return
        conv.cancelled = True
        # the core's work runs in the turn's task: cancelling it stops this session's work
        # only (the core is shared by the workspace's sessions: never `core.cancel(plan)`,
        # which could stop another session working on the same plan)
        conv.turn.cancel()

    async def shutdown(self) -> None:
        """Cancel running turns and stop the scripted model (stdin closed)."""
        turns = [c.turn for c in self.sessions.values() if c.turn is not None and not c.turn.done()]
        for t in turns:
            t.cancel()
        if turns:
            await asyncio.wait(turns, timeout=10)
        for c in self.sessions.values():
            await c.host.outbox.close()
            c.transcript.flush()
            if c.host.mcp is not None:
                await c.host.mcp.close()
        if self._models is not None:
            self._models.close()


def _next(plan: Plan) -> str:
    """What a loaded session can do next with its plan."""
    if plan.status == PlanStatus.DRAFT:
        return "/approve runs the plan; feedback revises it."
    if plan.status == PlanStatus.DONE:
        return "The plan is done; send a new task to plan another."
    if plan.next_step() is None:
        return "/continue runs its test criteria; /revise <feedback> changes the plan."
    return "/continue runs the remaining steps."


def load_agent_settings(path: str | None) -> tuple[Settings, list[str]]:
    """Settings from the environment and an optional settings file named on the command line."""
    layer: Any = None
    problems: list[str] = []
    if path:
        try:
            layer = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            problems.append(f"settings file {path}: {e} (using the defaults)")
    settings, more = load_settings(layer)
    return settings, problems + more


_background: set[asyncio.Task[None]] = set()


async def _stdio() -> tuple[asyncio.StreamWriter, asyncio.StreamReader]:
    """The protocol streams. fd 1 is then pointed at stderr, so a stray print (ours or a
    library's) can never corrupt the JSON-RPC stream."""
    loop = asyncio.get_running_loop()
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    stdin = asyncio.StreamReader(limit=framing.MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.streams.FlowControlMixin(), out
    )
    writer = asyncio.StreamWriter(transport, protocol, stdin, loop)
    reader = asyncio.StreamReader(limit=2 * framing.MAX_LINE)  # what the SDK reads: checked lines
    task = loop.create_task(framing.pump(stdin, reader, writer))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return writer, reader


async def serve(settings_path: str | None = None) -> None:
    """Run the agent on stdin/stdout until the client closes stdin."""
    settings, problems = load_agent_settings(settings_path)
    agent = PlanfirstAgent(settings, problems)
    writer, reader = await _stdio()
    try:
        await run_agent(cast(Agent, agent), writer, reader, observers=[agent.observe])
    finally:
        await agent.shutdown()
