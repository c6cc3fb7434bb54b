"""One core Session per workspace, shared by every ACP session on it (as the LSP face has one):
one store, one set of busy plans, one editing lock.

The core talks to one Host; `WorkspaceHost` is that Host and hands each call to the ACP session
whose turn made it. The turn's task sets `CURRENT` (a context variable: tasks and callbacks
started from the turn inherit it), so what the core says while session A works goes to A's
client view, and never to B's.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from planfirst.core.commands.validate import Runner
from planfirst.core.editing.executor import ProposedChange
from planfirst.core.planning.mcp import McpTools
from planfirst.core.problems.parse import Problem
from planfirst.core.workflow.contracts import ApplyOutcome

if TYPE_CHECKING:
    from planfirst.acp.host import AcpHost

CURRENT: ContextVar[AcpHost | None] = ContextVar("planfirst_acp_host", default=None)


class WorkspaceHost:
    """The core's Host for a workspace: each call goes to the current ACP session's host."""

    def __init__(self, first: AcpHost) -> None:
        self.last = first  # the host of the session opened last (for calls outside any turn)

    def current(self) -> AcpHost:
        """The host of the ACP session whose work this is."""
        return CURRENT.get() or self.last

    def open_documents(self) -> dict[str, str]:
        return self.current().open_documents()

    async def apply_change(
        self, change: ProposedChange, label: str, description: str
    ) -> ApplyOutcome:
        return await self.current().apply_change(change, label, description)

    async def save_documents(self, paths: list[str]) -> list[str]:
        return await self.current().save_documents(paths)

    def saves_documents(self) -> bool:
        return self.current().saves_documents()

    async def confirm(self, question: str) -> bool | None:
        return await self.current().confirm(question)

    def log(self, text: str) -> None:
        self.current().log(text)

    def notify(self, message: str, level: str = "info") -> None:
        self.current().notify(message, level)

    def publish_problems(self, problems: dict[str, list[Problem]]) -> None:
        self.current().publish_problems(problems)

    def plan_changed(self, plan_id: str) -> None:
        self.current().plan_changed(plan_id)

    def plan_started(self, plan_id: str, title: str) -> None:
        self.current().plan_started(plan_id, title)

    def command_runner(self) -> Runner | None:
        """How the ACP session running steps now runs validation (its client's terminal)."""
        return self.current().command_runner()

    def mcp_tools(self) -> McpTools | None:
        """The MCP tools of the ACP session planning now (core/planning.py asks)."""
        return self.current().mcp
