"""What goes to the client outside questions: the ordered `session/update` outbox, and the
tool call that shows one validation attempt's output."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

from acp import Client, text_block
from acp.schema import ContentToolCallContent, TerminalToolCallContent, ToolCallLocation

from planfirst.plan.visible import encode

log = logging.getLogger("planfirst.acp")

OUTPUT_TAIL = 8_000  # characters of validation output kept in the tool call (the log has all)


def fenced(output: str) -> str:
    """Command output in a Markdown code fence longer than any backtick run inside it, its
    invisible characters shown as escapes (docs/reliability.md case 34)."""
    text = encode(output.rstrip())
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


class Outbox:
    """`session/update` notifications for one session, sent in order by one task."""

    def __init__(self, conn: Client, session_id: str) -> None:
        self.conn = conn
        self.session_id = session_id
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # closed until the client knows the session id (the session/new response is out):
        # Zed drops updates for a session it has not registered yet
        self.opened = asyncio.Event()
        self.opened.set()
        self.recorder: Callable[[Any], None] | None = None

    def hold(self) -> None:
        """Queue updates without sending them until `release`."""
        self.opened.clear()

    def release(self) -> None:
        """Send what was queued while held, and everything after it."""
        self.opened.set()

    def put(self, update: Any, *, record: bool = True) -> None:
        """Queue an update (sent soon, after every update queued before it); `recorder` (the
        session's transcript) sees it unless `record` is off (a replay)."""
        if record and self.recorder is not None:
            self.recorder(update)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._queue.put_nowait(update)

    async def _run(self) -> None:
        while True:
            update = await self._queue.get()
            try:
                await self.opened.wait()
                await self.conn.session_update(self.session_id, update)
            except Exception as e:  # a closed connection: nothing more can be shown
                log.debug("session/update not sent: %s", e)
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until everything queued so far has been written."""
        if self._task is not None and not self._task.done():
            await self._queue.join()

    async def close(self) -> None:
        """Send what is queued, then stop."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 5)
        if self._task is not None:
            self._task.cancel()


class ValidationCall:
    """The tool call that shows one attempt's validation output as it streams."""

    def __init__(self, call_id: str, title: str) -> None:
        self.call_id = call_id
        self.title = title
        self.output = ""
        self.locations: list[ToolCallLocation] = []
        self.problems: list[str] = []
        self.terminals: list[str] = []  # client terminals the commands ran in (shown live)

    def content(self) -> list[Any]:
        text = self.output[-OUTPUT_TAIL:]
        if len(self.output) > OUTPUT_TAIL:
            text = "…" + text[text.find("\n") + 1 :]
        parts: list[Any] = [
            TerminalToolCallContent(type="terminal", terminal_id=t) for t in self.terminals
        ]
        if text.strip() or not parts:
            parts.append(ContentToolCallContent(type="content", content=text_block(fenced(text))))
        if self.problems:
            listed = "\n".join(f"- {p}" for p in self.problems[:20])
            parts.append(
                ContentToolCallContent(
                    type="content", content=text_block(encode(f"Problems:\n{listed}"))
                )
            )
        return parts
