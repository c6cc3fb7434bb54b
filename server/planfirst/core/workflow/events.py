"""Model events as progress: what a planning, critique or execution model is doing, reported
through the face's Progress (and the partial plan document while a plan streams in)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planfirst.core.planning.planner import snapshot_preview
from planfirst.core.workflow.contracts import Progress
from planfirst.llm.model import TEXT_EDITOR_TOOL, NullEvents


class PlanEvents(NullEvents):
    """Model events → progress (and the partial plan document while a plan streams in)."""

    def __init__(
        self, progress: Progress, on_partial: Callable[[dict[str, Any]], None] | None
    ) -> None:
        self.progress = progress
        self.on_partial = on_partial

    def on_thinking(self, delta: str) -> None:
        self.progress.report("thinking…")
        stream = getattr(self.progress, "thinking", None)  # a face that shows the thinking (ACP)
        if callable(stream):
            stream(delta)

    def on_text(self, delta: str) -> None:
        stream = getattr(self.progress, "text", None)  # a face that shows the model's words (ACP)
        if callable(stream):
            stream(delta)

    def on_partial_submit(self, snapshot: dict[str, Any]) -> None:
        self.progress.report(snapshot_preview(snapshot))
        if self.on_partial:
            self.on_partial(snapshot)

    def on_tool_call(self, name: str, tool_input: dict[str, Any]) -> None:
        target = tool_input.get("path") or tool_input.get("pattern") or ""
        if name == TEXT_EDITOR_TOOL:
            verb = {
                "view": "reading",
                "create": "writing",
                "str_replace": "editing",
                "insert": "editing",
            }
            self.progress.report(
                f"{verb.get(str(tool_input.get('command')), 'editing')} {target}".strip()
            )
        else:
            self.progress.report(f"{name.replace('_', ' ')} {target}".strip())

    def on_retry(self, attempt: int, reason: str, wait_s: float) -> None:
        self.progress.report(f"{reason}; retrying in {wait_s:.0f} s (attempt {attempt + 1})")


class CritiqueEvents(PlanEvents):
    """The critic's events: what it reads, and how far its review has come."""

    def on_partial_submit(self, snapshot: dict[str, Any]) -> None:
        n = len(snapshot.get("findings") or [])
        self.progress.report(
            f"critiquing the plan: {n} finding(s) so far" if n else "critiquing the plan"
        )
