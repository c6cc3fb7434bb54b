"""A Host for driving `core.session.Session` in-process: an editor that applies every edit at
once (and saves it, like the VS Code extension), answers questions as told, and records what
the session showed. The real model is the `anthropic` SDK against the scripted server."""

from __future__ import annotations

from pathlib import Path

from planfirst.core.editing.executor import ProposedChange
from planfirst.core.problems.base import Problem
from planfirst.core.workflow.session import ApplyOutcome
from planfirst.llm.anthropic import AnthropicModel
from planfirst.llm.model import Model
from planfirst.settings import Settings


class FakeHost:
    """Applies edits to the disk at once; `accept` and `answer` decide what the user says."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.accept = True  # answer to the next apply_change
        self.answer: bool | None = True  # answer to confirm()
        self.changes: list[ProposedChange] = []
        self.questions: list[str] = []
        self.notes: list[tuple[str, str]] = []  # (level, message)
        self.problems: list[dict[str, list[Problem]]] = []  # every publish, in order
        self.changed: list[str] = []  # plan ids, per plan_changed
        self.docs: dict[str, str] = {}  # open (unsaved) editor buffers by relative path

    def open_documents(self) -> dict[str, str]:
        return dict(self.docs)

    async def apply_change(
        self, change: ProposedChange, label: str, description: str
    ) -> ApplyOutcome:
        self.changes.append(change)
        if not self.accept:
            return ApplyOutcome(False, "user rejected the preview")
        for f in change.files:
            path = self.root / f.path
            if f.new is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "w", encoding="utf-8", newline="") as fh:
                    fh.write(f.new)
        return ApplyOutcome(True)

    async def save_documents(self, paths: list[str]) -> list[str]:
        return []  # apply_change wrote the files: the disk holds the approved text

    def saves_documents(self) -> bool:
        return True  # like the VS Code extension: the editor writes what the user applied

    async def confirm(self, question: str) -> bool | None:
        self.questions.append(question)
        return self.answer

    def log(self, text: str) -> None:
        return None

    def notify(self, message: str, level: str = "info") -> None:
        self.notes.append((level, message))

    def publish_problems(self, problems: dict[str, list[Problem]]) -> None:
        self.problems.append(problems)

    def plan_changed(self, plan_id: str) -> None:
        self.changed.append(plan_id)

    def plan_started(self, plan_id: str, title: str) -> None:
        return None


class ScriptedModels:
    """The session's models: the real AnthropicModel against a scripted server's URL."""

    def __init__(self, settings: Settings, base_url: str) -> None:
        self._p = AnthropicModel(
            settings.planning_model, settings, api_key="test", base_url=base_url
        )
        self._e = AnthropicModel(
            settings.execution_model, settings, api_key="test", base_url=base_url
        )
        self._settings, self._base_url = settings, base_url
        self._chosen: dict[str, AnthropicModel] = {}

    def planning(self) -> Model:
        return self._p

    def execution(self) -> Model:
        return self._e

    def critique(self) -> Model:
        return self._p

    def execution_as(self, name: str) -> Model:
        """Another execution model, chosen at approval (created once per name)."""
        if name == self._e.name:
            return self._e
        if name not in self._chosen:
            self._chosen[name] = AnthropicModel(
                name, self._settings, api_key="test", base_url=self._base_url
            )
        return self._chosen[name]

    async def aclose(self) -> None:
        """Close both SDK clients."""
        await self._p.aclose()
        await self._e.aclose()
        for m in self._chosen.values():
            await m.aclose()
