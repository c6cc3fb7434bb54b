"""The problems board: what is published as diagnostics now, by path.

The one place that changes it. Showing a new set of problems publishes them and clears, with an
empty list, every path that had problems before and has none now, so a fixed file never keeps a
stale diagnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from planfirst.core.problems.base import Problem

Publish = Callable[[dict[str, list[Problem]]], None]


class ProblemsBoard:
    """The problems published now, and the one way to change them (`show`)."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._shown: dict[str, list[Problem]] = {}

    def show(self, problems: Mapping[str, list[Problem]]) -> None:
        """Publish these problems; clear the paths published before that have none now."""
        now = {path: list(probs) for path, probs in problems.items()}
        cleared: dict[str, list[Problem]] = {p: [] for p in self._shown if p not in now}
        self._shown = now
        self._publish({**cleared, **now})

    def count(self) -> int:
        """How many problems are published now."""
        return sum(len(v) for v in self._shown.values())

    def shown(self) -> dict[str, list[Problem]]:
        """A copy of what is published now, by path."""
        return {path: list(probs) for path, probs in self._shown.items()}
