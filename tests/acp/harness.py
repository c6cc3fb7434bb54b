"""End-to-end harness for `planfirst acp`: the real agent as a subprocess, driven through the
ACP SDK's own client side (`acp.spawn_agent_process`), by a fake editor that records every
session update and answers permission requests like a person would.

Profiles: "zed" (fs/read_text_file + fs/write_text_file, opted in to plan operations; writes
land in editor buffers, unsaved, the way an editor holds them) and "basic" (no fs, no plan
operations: classic `plan` entries and the agent writes the disk itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from acp import PROTOCOL_VERSION, RequestError, spawn_agent_process, text_block
from acp.connection import StreamDirection, StreamEvent
from acp.schema import (
    AllowedOutcome,
    ClientCapabilities,
    CreateTerminalResponse,
    DeniedOutcome,
    FileSystemCapabilities,
    Implementation,
    PermissionOption,
    PlanCapabilities,
    ReadTextFileResponse,
    RequestPermissionResponse,
    TerminalExitStatus,
    TerminalOutputResponse,
    ToolCallUpdate,
    WaitForTerminalExitResponse,
    WriteTextFileResponse,
)


def capabilities(profile: str) -> ClientCapabilities:
    """What the named client declares."""
    if profile == "zed":
        return ClientCapabilities(
            fs=FileSystemCapabilities(read_text_file=True, write_text_file=True),
            terminal=True,
            plan=PlanCapabilities(),
        )
    return ClientCapabilities()


class Editor:
    """The fake ACP client: records updates, answers permissions, holds buffers."""

    def __init__(self, root: Path, profile: str) -> None:
        self.root = root
        self.profile = profile
        self.updates: list[tuple[str, Any]] = []  # (session id, update)
        self.permissions: list[tuple[ToolCallUpdate, list[PermissionOption], str | None]] = []
        self.answers: dict[str, list[str | None]] = {}  # tool kind -> option ids to pick, in order
        self.hold: asyncio.Event | None = None  # set: permission requests wait until it is set
        self.asked = 0  # permission requests received (answered or not)
        self.hold_kind: str | None = None  # hold only requests about this tool kind
        self.buffers: dict[Path, str] = {}  # written through fs/write_text_file, not saved
        self.reads: list[str] = []
        self.writes: list[str] = []
        self.terminals: dict[str, dict[str, Any]] = {}  # terminal id -> process and output
        self.released: list[str] = []
        self.terminals_work = True  # False: terminal/create answers "method not found"

    # ------------------------------------------------------------------ the Client protocol

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append((session_id, update))

    async def request_permission(
        self,
        session_id: str,
        tool_call: ToolCallUpdate,
        options: list[PermissionOption],
        **kwargs: Any,
    ) -> RequestPermissionResponse:
        self.asked += 1
        if self.hold is not None and self.hold_kind in (None, tool_call.kind):
            await self.hold.wait()
        queue = self.answers.get(tool_call.kind or "other") or []
        pick = queue.pop(0) if queue else options[0].option_id
        self.permissions.append((tool_call, options, pick))
        if pick is None:
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        assert pick in [o.option_id for o in options], (pick, options)
        return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=pick))

    async def read_text_file(
        self,
        session_id: str,
        path: str,
        line: int | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> ReadTextFileResponse:
        self.reads.append(path)
        p = Path(path)
        if p in self.buffers:
            return ReadTextFileResponse(content=self.buffers[p])
        return ReadTextFileResponse(content=p.read_text(encoding="utf-8"))

    async def write_text_file(
        self, session_id: str, path: str, content: str, **kwargs: Any
    ) -> WriteTextFileResponse:
        self.writes.append(path)
        assert Path(path).is_absolute() and Path(path).resolve().is_relative_to(self.root), path
        self.buffers[Path(path)] = content
        return WriteTextFileResponse()

    # ------------------------------------------------------------------ terminals (as Zed)

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[Any] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
        **kwargs: Any,
    ) -> CreateTerminalResponse:
        """Start the command the way an editor's terminal does (its own environment)."""
        if not self.terminals_work:
            raise RequestError.method_not_found("terminal/create")
        environ = dict(os.environ) | {e.name: e.value for e in env or []}
        proc = await asyncio.create_subprocess_exec(
            command,
            *(args or []),
            cwd=cwd,
            env=environ,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        tid = f"term-{len(self.terminals) + 1}"
        term = {
            "proc": proc,
            "out": b"",
            "limit": output_byte_limit,
            "command": [command, *(args or [])],
        }

        async def pump() -> None:
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                term["out"] += chunk

        term["pump"] = asyncio.ensure_future(pump())
        self.terminals[tid] = term
        return CreateTerminalResponse(terminal_id=tid)

    async def terminal_output(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> TerminalOutputResponse:
        term = self.terminals[terminal_id]
        proc = term["proc"]
        if proc.returncode is not None:
            await term["pump"]
        out = term["out"].decode("utf-8", "replace")
        limit = term["limit"]
        cut = limit is not None and len(out) > limit
        status = (
            TerminalExitStatus(
                exit_code=proc.returncode if proc.returncode >= 0 else None,
                signal=None if proc.returncode >= 0 else "SIGKILL",
            )
            if proc.returncode is not None
            else None
        )
        return TerminalOutputResponse(
            output=out[-limit:] if cut and limit else out, truncated=cut, exit_status=status
        )

    async def wait_for_terminal_exit(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> WaitForTerminalExitResponse:
        term = self.terminals[terminal_id]
        code = await term["proc"].wait()
        await term["pump"]
        return WaitForTerminalExitResponse(
            exit_code=code if code >= 0 else None, signal=None if code >= 0 else "SIGKILL"
        )

    async def kill_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> None:
        proc = self.terminals[terminal_id]["proc"]
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    async def release_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> None:
        await self.kill_terminal(session_id, terminal_id)
        self.released.append(terminal_id)

    # ------------------------------------------------------------------ what was seen

    def of(self, kind: str) -> list[Any]:
        """Updates of one `sessionUpdate` kind, in order."""
        return [u for _, u in self.updates if getattr(u, "session_update", None) == kind]

    def text(self, kind: str = "agent_message_chunk") -> str:
        """All text of message (or thought) chunks."""
        return "".join(getattr(u.content, "text", "") for u in self.of(kind))

    def tool_calls(self) -> dict[str, dict[str, Any]]:
        """Every tool call merged with its updates: id -> fields (last value wins)."""
        calls: dict[str, dict[str, Any]] = {}
        for _, u in self.updates:
            if getattr(u, "session_update", None) not in ("tool_call", "tool_call_update"):
                continue
            c = calls.setdefault(u.tool_call_id, {"statuses": []})
            for k in ("title", "kind", "content", "locations", "raw_output"):
                v = getattr(u, k, None)
                if v is not None:
                    c[k] = v
            if u.status is not None:
                c["statuses"].append(u.status)
        return calls


class AcpLedger:
    """Invariant 4 for ACP: every request either side sent is answered exactly once."""

    def __init__(self) -> None:
        self.sent: dict[tuple[str, Any], str] = {}  # (direction, id) -> method
        self.answers: Counter[tuple[str, Any]] = Counter()
        self.exempt: set[tuple[str, Any]] = set()
        self.received: list[dict[str, Any]] = []  # every message from the agent, in order

    def observe(self, event: StreamEvent) -> None:
        msg = event.message
        if event.direction == StreamDirection.INCOMING:
            self.received.append(msg)
        mine = "client" if event.direction == StreamDirection.OUTGOING else "agent"
        theirs = "agent" if mine == "client" else "client"
        if "method" in msg and "id" in msg:
            self.sent[(mine, msg["id"])] = msg["method"]
        elif "id" in msg:
            self.answers[(theirs, msg["id"])] += 1

    def killed(self) -> None:
        """The agent died: what it had not answered yet is exempt."""
        for key in self.sent:
            if self.answers.get(key, 0) == 0:
                self.exempt.add(key)

    def problems(self) -> list[str]:
        out = []
        for key, method in self.sent.items():
            n = self.answers.get(key, 0)
            if n != 1 and not (n == 0 and key in self.exempt):
                out.append(f"{key[0]} request {method} (id {key[1]}) answered {n} times")
        for key, n in self.answers.items():
            if key not in self.sent:
                out.append(f"{n} answer(s) to {key}, which was never sent")
        return out


def agent_env(extra: dict[str, str]) -> dict[str, str]:
    """The agent's environment: ours without any real Anthropic settings, plus `extra`."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "PLANFIRST_SCRIPT"))
    }
    env.update(extra)
    return env


class Agent:
    """A running `planfirst acp` and the client connection to it."""

    def __init__(self, conn: Any, proc: Any, editor: Editor, ledger: AcpLedger) -> None:
        self.conn = conn
        self.proc = proc
        self.editor = editor
        self.ledger = ledger
        self.session_id = ""

    async def new(self) -> str:
        res = await asyncio.wait_for(
            self.conn.new_session(cwd=str(self.editor.root), mcp_servers=[]), 30
        )
        self.session_id = res.session_id
        return self.session_id

    async def load(self, session_id: str) -> None:
        await asyncio.wait_for(
            self.conn.load_session(
                cwd=str(self.editor.root), session_id=session_id, mcp_servers=[]
            ),
            30,
        )
        self.session_id = session_id

    def send(self, text: str, extra: tuple[Any, ...] = ()) -> asyncio.Future[Any]:
        """session/prompt (as a future, so a test can cancel or kill meanwhile); `extra`
        content blocks follow the text (resource links, embedded files)."""
        return asyncio.ensure_future(
            self.conn.prompt(session_id=self.session_id, prompt=[text_block(text), *extra])
        )

    async def prompt(self, text: str, limit: float = 120, extra: tuple[Any, ...] = ()) -> Any:
        return await asyncio.wait_for(self.send(text, extra), limit)

    async def kill(self) -> None:
        self.proc.kill()
        await self.proc.wait()
        self.ledger.killed()


@contextlib.asynccontextmanager
async def acp_agent(
    root: Path,
    profile: str,
    env: dict[str, str],
    log: Path,
    *,
    editor: Editor | None = None,
    args: tuple[str, ...] = (),
) -> AsyncIterator[Agent]:
    """Start `python -I -m planfirst acp` in `root`, initialise it as `profile`."""
    editor = editor or Editor(root, profile)
    ledger = AcpLedger()
    with open(log, "ab") as err:
        async with spawn_agent_process(
            editor,
            sys.executable,
            "-I",
            "-m",
            "planfirst",
            "acp",
            *args,
            env=agent_env(env),
            cwd=str(root),
            # a loaded machine (7 engineers on 2 cores) may need more than the SDK's 2 s to exit
            transport_kwargs={"stderr": err, "shutdown_timeout": 10.0},
            observers=[ledger.observe],
        ) as (conn, proc):
            agent = Agent(conn, proc, editor, ledger)
            await asyncio.wait_for(
                conn.initialize(
                    protocol_version=PROTOCOL_VERSION,
                    client_capabilities=capabilities(profile),
                    client_info=Implementation(name="planfirst-tests", version="1"),
                ),
                30,
            )
            yield agent
