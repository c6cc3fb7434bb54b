"""Turn validation output (pytest, ruff, mypy, flake8, tsc, eslint, gcc/clang, …) into problems.

Every parser runs over the same output; a line claimed by one parser is not read by the later,
looser ones, and the generic `path:line[:col]: msg` parser only fills places nothing else covered.
Paths are resolved against the workspace root through real paths: anything outside the root,
inside a dependency directory (site-packages, node_modules, .venv, …) or not an existing file is
dropped, so a diagnostic is never published outside the workspace.
"""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from planfirst.core.problems.base import (
    MAX_LINE_CHARS,
    MAX_PROBLEMS,
    PARSE_DEADLINE_S,
    ParseContext,
    Problem,
    Resolver,
    Severity,
    strip_ansi,
    tool_hint,
)
from planfirst.core.problems.python import _pytest, _python_tracebacks
from planfirst.core.problems.tools import (
    _arrows,
    _code_lines,
    _eslint,
    _generic,
    _severity_lines,
    _tsc,
)

__all__ = ["Problem", "Severity", "parse_off_loop", "parse_problems", "strip_ansi", "tool_hint"]


_PARSERS: list[Callable[[ParseContext], None]] = [
    _pytest,
    _python_tracebacks,
    _arrows,
    _tsc,
    _eslint,
    _severity_lines,
    _code_lines,
    _generic,
]


async def parse_off_loop(
    output: str, root: Path, command: str = "", deadline_s: float = PARSE_DEADLINE_S
) -> list[Problem]:
    """`parse_problems` in a worker thread with a deadline, so the server keeps answering."""
    return await asyncio.to_thread(parse_problems, output, root, command, deadline_s)


def parse_problems(
    output: str, root: Path, command: str = "", deadline_s: float | None = None
) -> list[Problem]:
    """Every problem in `output` that lies in a file inside `root`, deduplicated, in file order.

    `command` (the validation command) is a hint for naming the source tool; parsing works
    without it. Reads the file system (existence checks; a test's `def` line for pytest's
    short summary), so call it off the event loop for large outputs.
    """
    text = strip_ansi(output).replace("\r\n", "\n")
    lines = [
        ln.rsplit("\r", 1)[-1][:MAX_LINE_CHARS] for ln in text.split("\n")
    ]  # keep the last state of \r-redrawn lines, cut to a bounded length
    ctx = ParseContext(lines=lines, resolve=Resolver(root), hint=tool_hint(command))
    if deadline_s is not None:
        ctx.deadline = time.monotonic() + deadline_s
    for parser in _PARSERS:
        parser(ctx)
    seen: set[tuple[str, int, int, str, str]] = set()
    unique: list[Problem] = []
    for p in ctx.out:
        key = (p.path, p.line, p.column, p.severity, p.message)
        if key in seen:
            continue
        seen.add(key)
        unique.append(p)
    unique.sort(key=lambda p: (p.path, p.line, p.column))
    return unique[:MAX_PROBLEMS]
