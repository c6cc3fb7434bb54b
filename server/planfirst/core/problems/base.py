"""What every validation-output parser shares: the Problem type, path resolution, claimed lines.

The parsers live in python.py and tools.py; parse.py runs them in order.
"""

from __future__ import annotations

import math
import posixpath
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from planfirst.core.workspace.path_syntax import PathError
from planfirst.core.workspace.paths import WorkspaceGuard

Severity = Literal["error", "warning", "info"]

MAX_PROBLEMS = 1000
# Lines are cut to this length before any regex sees them: several parsers' patterns are
# quadratic in the line length (a 24k-character line took 21 s), and no diagnostic needs more
# than its `path:line:col: message` head (docs/reliability.md case 29).
MAX_LINE_CHARS = 500
# Parsing stops here and keeps what it found (it runs off the event loop; see parse_off_loop).
PARSE_DEADLINE_S = 5.0
# Directories whose files are never the user's to fix.
_DEPENDENCY_DIRS = frozenset(
    {
        "site-packages",
        "dist-packages",
        "node_modules",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "__pypackages__",
        ".git",
        ".planfirst",
    }
)


@dataclass(frozen=True)
class Problem:
    """One diagnostic found in tool output; positions are 1-based, `end_column` is exclusive."""

    path: str  # workspace-relative POSIX
    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None
    severity: Severity = "error"
    message: str = ""
    source: str = ""
    code: str | None = None


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """Remove colour and cursor escape sequences."""
    return _ANSI.sub("", text)


class Resolver:
    """Maps a path printed by a tool to a workspace-relative POSIX path, or None."""

    def __init__(self, root: Path) -> None:
        self.guard = WorkspaceGuard(root)
        self._cache: dict[str, str | None] = {}

    def __call__(self, raw: str) -> str | None:
        raw = raw.strip().strip("\"'")
        if raw in self._cache:
            return self._cache[raw]
        self._cache[raw] = rel = self._resolve(raw)
        return rel

    def _resolve(self, raw: str) -> str | None:
        if not raw or "\x00" in raw or raw.startswith("<") or "://" in raw:
            return None
        try:
            # the guard: symlinks resolved, real paths compared component by component
            rel = self.guard.rel(raw)
        except PathError:
            return None
        if rel == "." or any(p in _DEPENDENCY_DIRS for p in rel.split("/")):
            return None
        if not (self.guard.root / rel).is_file():
            return None
        return rel


@dataclass
class ParseContext:
    """What every parser shares: the lines, which are claimed, the resolver, the tool hint."""

    lines: list[str]
    resolve: Resolver
    hint: str
    claimed: set[int] = field(default_factory=set)
    out: list[Problem] = field(default_factory=list)
    deadline: float = math.inf  # time.monotonic() after which the remaining parsers find nothing

    def free(self) -> list[tuple[int, str]]:
        if time.monotonic() > self.deadline:
            return []
        return [(i, s) for i, s in enumerate(self.lines) if i not in self.claimed]

    def add(
        self,
        raw_path: str,
        line: int,
        column: int | None,
        message: str,
        severity: Severity,
        source: str,
        code: str | None = None,
        end_line: int | None = None,
        end_column: int | None = None,
    ) -> bool:
        rel = self.resolve(raw_path)
        if rel is None or line < 1:
            return False
        self.out.append(
            Problem(
                path=rel,
                line=line,
                column=column if column and column > 0 else 1,
                end_line=end_line,
                end_column=end_column,
                severity=severity,
                message=message.strip() or "(no message)",
                source=source,
                code=code,
            )
        )
        return True


def tool_hint(command: str) -> str:
    """The tool a command runs (`python -m mypy x` → 'mypy', `npx tsc` → 'tsc'), lowercased."""
    try:
        argv = shlex.split(command)
    except ValueError:
        argv = command.split()
    if not argv:
        return ""
    name = posixpath.basename(argv[0]).lower()
    rest = argv[1:]
    if re.match(r"^(python|pypy)[\d.]*$", name) and "-m" in rest:
        i = rest.index("-m")
        return rest[i + 1].split(".")[0].lower() if i + 1 < len(rest) else name
    if name in ("npx", "npm", "yarn", "pnpm"):
        words = [
            a for a in rest if not a.startswith("-") and a not in ("run", "exec", "run-script")
        ]
        return words[0].lower() if words else name
    return name
