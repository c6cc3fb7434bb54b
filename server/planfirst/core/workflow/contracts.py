"""What the core and the face that drives it (the language server) agree on: the Host the core
asks the editor through, progress, the model factory, the refusal error and a step's result.

Re-exported by core.session, which is where the faces import them from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from planfirst.core.editing.executor import ProposedChange
from planfirst.core.problems.base import Problem
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.errors import PlanfirstError
from planfirst.llm.model import Model
from planfirst.plan.store import PlanStore
from planfirst.settings import Settings


class SessionError(PlanfirstError):
    """A request the session refuses; the message is for the user."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message, code)


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
    def saves_documents(
        self,
    ) -> bool: ...  # the editor writes applied text itself (then only it does)
    async def confirm(self, question: str) -> bool | None: ...
    def log(self, text: str) -> None: ...
    def notify(self, message: str, level: str = "info") -> None: ...
    def publish_problems(self, problems: dict[str, list[Problem]]) -> None: ...
    def plan_changed(self, plan_id: str) -> None: ...
    def plan_started(self, plan_id: str, title: str) -> None: ...


class WorkspaceAccess(Protocol):
    """The narrow view of one workspace a workflow function is handed instead of the whole
    Session: its root, path guard, plan store, host and settings (STYLE 13). The Session is one
    (it is passed as itself, so a function always sees the current settings, guard and store);
    a function that needs no more cannot reach the session's running operations or its
    private state."""

    @property
    def root(self) -> Path: ...
    @property
    def guard(self) -> WorkspaceGuard: ...
    @property
    def store(self) -> PlanStore: ...
    @property
    def host(self) -> Host: ...
    @property
    def settings(self) -> Settings: ...


class ModelFactory(Protocol):
    """Builds the models a session uses (lazily, so a missing key is a message, not a crash)."""

    def planning(self) -> Model: ...
    def execution(self) -> Model: ...
    def critique(self) -> Model: ...  # the critic (settings.critique.model; default: planning)


class StepResult(StrEnum):
    """How an executeNextStep / retryStep / undoStep request ended."""

    DONE = "done"  # the step (or, with no step, the whole plan) passed
    FAILED = "failed"  # out of attempts, a refused command, or the test criteria failed
    REJECTED = "rejected"  # the user declined the edit; nothing of this attempt changed
    CONFLICT = "conflict"  # a file changed while the model worked; nothing was applied
    UNDONE = "undone"  # the step's edit was reverted


@dataclass
class StepOutcome:
    """The answer to executeNextStep / retryStep / undoStep (lsp/results.py shapes it)."""

    plan_id: str
    step: int | None
    status: StepResult
    attempts: int = 0
    problems: int = 0
    message: str = ""
    stale_files: list[str] = field(default_factory=list)
