"""Turn validation output (pytest, ruff, mypy, flake8, tsc, eslint, gcc/clang, …) into problems.

Every parser runs over the same output; a line claimed by one parser is not read by the later,
looser ones, and the generic `path:line[:col]: msg` parser only fills places nothing else covered.
Paths are resolved against the workspace root through real paths: anything outside the root,
inside a dependency directory (site-packages, node_modules, .venv, …) or not an existing file is
dropped, so a diagnostic is never published outside the workspace.
"""

from __future__ import annotations

import asyncio
import math
import os
import posixpath
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from planfirst.core.paths import PathError, WorkspaceGuard

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


class _Resolver:
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
class _Ctx:
    """What every parser shares: the lines, which are claimed, the resolver, the tool hint."""

    lines: list[str]
    resolve: _Resolver
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


# ---------------------------------------------------------------- pytest

_P_SECTION = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
_P_BANNER = re.compile(r"^={3,} .* ={3,}$|^!{3,} .* !{3,}$")
_P_CRASH = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?: (?P<exc>[A-Za-z_][\w.]*))?\s*$")
_P_HOP = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+): in (?P<func>\S+)\s*$")
_PY_FRAME = re.compile(
    r'^(?:E\s+)?\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$'
)
_PY_EXC = re.compile(
    r"^(?P<exc>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Iteration))"
    r"(?::\s*(?P<msg>.*))?$"
)
_P_SUMMARY = re.compile(
    r"^(?P<kind>FAILED|ERROR) (?P<path>[^\s:]+?)(?:::(?P<test>\S+))?(?: - (?P<msg>.*))?$"
)


def _pytest(ctx: _Ctx) -> None:
    lines = ctx.lines
    if not any(_P_SUMMARY.match(s) or _P_BANNER.match(s) for s in lines):
        return
    reported: set[str] = set()
    i = 0
    while i < len(lines):
        m = _P_SECTION.match(lines[i])
        if not m:
            i += 1
            continue
        title = m.group("title")
        j = i + 1
        while j < len(lines) and not _P_SECTION.match(lines[j]) and not _P_BANNER.match(lines[j]):
            j += 1
        ctx.claimed.update(range(i, j))
        if _pytest_section(ctx, title, lines[i + 1 : j]):
            reported.add(title)
        i = j
    for idx, line in enumerate(lines):
        s = _P_SUMMARY.match(line)
        if not s:
            continue
        ctx.claimed.add(idx)
        test = s.group("test") or ""
        names = {test, test.replace("::", "."), test.split("::")[-1]}
        if test and names & reported:
            continue
        if not test and any(t.endswith(s.group("path")) for t in reported):
            continue
        rel = ctx.resolve(s.group("path"))
        if rel is None:
            continue
        func = re.sub(r"\[.*$", "", test.split("::")[-1]) if test else ""
        where = _find_def(str(ctx.resolve.guard.root), rel, func) if func else 1
        what = s.group("msg") or ("failed" if s.group("kind") == "FAILED" else "error")
        label = f"{test}: {what}" if test else what
        ctx.add(s.group("path"), where, 1, label, "error", "pytest")


def _pytest_section(ctx: _Ctx, title: str, body: list[str]) -> bool:
    """Report one FAILURES/ERRORS section; True when something landed in the workspace."""
    frames: list[tuple[str, int]] = []
    exc_type = ""
    e_lines: list[str] = []
    for line in body:
        if line.startswith("E "):
            text = line[1:].strip()
            f = _PY_FRAME.match(line)
            if f:
                frames.append((f.group("path"), int(f.group("line"))))
            elif text:
                e_lines.append(text)
            continue
        h = _P_HOP.match(line)
        if h:
            frames.append((h.group("path"), int(h.group("line"))))
            continue
        c = _P_CRASH.match(line)
        if c:
            frames.append((c.group("path"), int(c.group("line"))))
            exc_type = c.group("exc") or exc_type
            continue
        f = _PY_FRAME.match(line)
        if f:
            frames.append((f.group("path"), int(f.group("line"))))
        elif line[:1].strip() and _PY_EXC.match(line):
            e_lines.append(line.strip())  # --tb=native: the exception line has no `E` prefix
    message = _exception_message(e_lines, exc_type)
    where = [(p, n) for p, n in frames if ctx.resolve(p) is not None]
    if not where:
        return False
    label = title.removeprefix("ERROR ").strip()
    crash = where[-1]
    ctx.add(crash[0], crash[1], 1, f"{message} ({label})", "error", "pytest")
    first = where[0]
    if ctx.resolve(first[0]) != ctx.resolve(crash[0]) or first[1] != crash[1]:
        ctx.add(first[0], first[1], 1, f"{label} failed: {message}", "error", "pytest")
    return True


def _exception_message(e_lines: list[str], exc_type: str) -> str:
    for text in reversed(e_lines):
        m = _PY_EXC.match(text)
        if m:
            return text
    if e_lines:
        head = e_lines[0]
        return f"{exc_type}: {head}" if exc_type and not head.startswith(exc_type) else head
    return exc_type or "failed"


def _find_def(root: str, rel: str, func: str) -> int:
    """The line of `def func` in the file (the test's own line), else 1."""
    name = func.split(".")[-1]
    pat = re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(")
    try:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            for n, text in enumerate(fh, 1):
                if pat.match(text):
                    return n
    except OSError:
        pass
    return 1


# ---------------------------------------------------------------- plain Python tracebacks

_UNITTEST_HEAD = re.compile(r"^(?:ERROR|FAIL): (?P<test>\S+) \((?P<where>[^)]*)\)")


def _python_tracebacks(ctx: _Ctx) -> None:
    frames: list[tuple[int, str, int]] = []
    test = ""
    for i, line in ctx.free():
        u = _UNITTEST_HEAD.match(line)
        if u:
            test, frames = u.group("test"), []
            continue
        if line.startswith("Traceback (most recent call last)"):
            frames = []
            ctx.claimed.add(i)
            continue
        f = _PY_FRAME.match(line)
        if f:
            frames.append((i, f.group("path"), int(f.group("line"))))
            continue
        e = _PY_EXC.match(line)
        if e and frames:
            where = [(idx, p, n) for idx, p, n in frames if ctx.resolve(p) is not None]
            if where:
                suffix = f" ({test})" if test else ""
                _, p, n = where[-1]
                ctx.add(p, n, 1, line.strip() + suffix, "error", ctx.hint or "python")
                _, p0, n0 = where[0]
                if (p0, n0) != (p, n) and test:
                    ctx.add(
                        p0, n0, 1, f"{test} failed: {line.strip()}", "error", ctx.hint or "python"
                    )
            ctx.claimed.update(idx for idx, _, _ in frames)
            ctx.claimed.add(i)
            frames = []


# ---------------------------------------------------------------- ruff full / rustc arrows

_ARROW = re.compile(r"^\s*--> (?P<path>.+?):(?P<line>\d+):(?P<col>\d+)\s*$")
_ARROW_HEAD = re.compile(
    r"^(?:(?P<sev>error|warning|note|help)(?:\[(?P<rcode>[^\]]+)\])?"
    r"|(?P<code>[A-Z]+[0-9]+|[a-z]+(?:-[a-z]+)+)):?\s(?:\[\*\]\s)?(?P<msg>.+)$"
)


def _arrows(ctx: _Ctx) -> None:
    for i, line in ctx.free():
        a = _ARROW.match(line)
        if not a or i == 0:
            continue
        head = _ARROW_HEAD.match(ctx.lines[i - 1])
        if not head:
            continue
        code = head.group("rcode") or head.group("code")
        sev = head.group("sev")
        severity: Severity = (
            "warning" if sev == "warning" else "info" if sev in ("note", "help") else "error"
        )
        path = a.group("path")
        source = (
            ctx.hint
            if ctx.hint in ("ruff", "cargo", "rustc")
            else ("ruff" if path.endswith((".py", ".pyi", ".ipynb")) else "rustc")
        )
        if ctx.add(
            path,
            int(a.group("line")),
            int(a.group("col")),
            head.group("msg"),
            severity,
            source,
            code,
        ):
            ctx.claimed.update((i - 1, i))


# ---------------------------------------------------------------- tsc

_TSC = re.compile(
    r"^(?P<path>[^\s(][^(]*?)(?:\((?P<line>\d+),(?P<col>\d+)\):|:(?P<line2>\d+):(?P<col2>\d+) -) "
    r"(?P<sev>error|warning|message) (?P<code>TS\d+): (?P<msg>.*)$"
)


def _tsc(ctx: _Ctx) -> None:
    free = ctx.free()
    for k, (i, line) in enumerate(free):
        m = _TSC.match(line)
        if not m:
            continue
        msg = m.group("msg")
        # Elaborations ("  Type 'x' is not assignable …") follow, indented, in the plain format.
        prev = i
        for j, cont in free[k + 1 : k + 6]:
            if j != prev + 1 or not cont.startswith("  ") or not cont.strip() or _TSC.match(cont):
                break
            msg += "\n" + cont.strip()
            ctx.claimed.add(j)
            prev = j
        sev = m.group("sev")
        severity: Severity = (
            "error" if sev == "error" else "warning" if sev == "warning" else "info"
        )
        line_no = int(m.group("line") or m.group("line2"))
        col = int(m.group("col") or m.group("col2"))
        if ctx.add(m.group("path"), line_no, col, msg, severity, "tsc", m.group("code")):
            ctx.claimed.add(i)


# ---------------------------------------------------------------- eslint

_ES_ROW = re.compile(
    r"^\s+(?P<line>\d+):(?P<col>\d+)\s+(?P<sev>error|warning)\s+(?P<msg>.+?)(?:\s{2,}(?P<rule>[\w@/-]+))?\s*$"
)
_ES_UNIX = re.compile(
    r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*) \[(?P<sev>Error|Warning)(?:/(?P<rule>[^\]]+))?\]$"
)
_ES_COMPACT = re.compile(
    r"^(?P<path>[^\s:][^:]*): line (?P<line>\d+), col (?P<col>\d+), (?P<sev>Error|Warning) - "
    r"(?P<msg>.*?)(?: \((?P<rule>[\w@/-]+)\))?$"
)


def _eslint(ctx: _Ctx) -> None:
    current: str | None = None
    for i, line in ctx.free():
        row = _ES_ROW.match(line)
        if row and current is not None:
            sev: Severity = "error" if row.group("sev") == "error" else "warning"
            if ctx.add(
                current,
                int(row.group("line")),
                int(row.group("col")),
                row.group("msg"),
                sev,
                "eslint",
                row.group("rule"),
            ):
                ctx.claimed.add(i)
            continue
        stripped = line.strip()
        if (
            stripped
            and not line[0].isspace()
            and "/" in stripped.replace("\\", "/")  # a path, not a word; cheap before a stat
            and ":" not in stripped
            and ctx.resolve(stripped)
        ):
            current = stripped  # stylish prints the file on its own line, then its rows
            ctx.claimed.add(i)
            continue
        if not stripped:
            current = None
        for pat in (_ES_UNIX, _ES_COMPACT):
            m = pat.match(line)
            if m:
                sev = "error" if m.group("sev") == "Error" else "warning"
                if ctx.add(
                    m.group("path"),
                    int(m.group("line")),
                    int(m.group("col")),
                    m.group("msg"),
                    sev,
                    "eslint",
                    m.group("rule"),
                ):
                    ctx.claimed.add(i)
                break


# ---------------------------------------------------------------- gcc / clang / mypy

_SEVERITY_LINE = re.compile(
    r"^(?P<path>[^\s:][^:]*):(?P<line>\d+)(?::(?P<col>\d+))?(?::(?P<eline>\d+):(?P<ecol>\d+))?:"
    r" (?P<sev>fatal error|error|warning|note|remark|info): (?P<msg>.*)$"
)
_MYPY_CODE = re.compile(r"^(?P<msg>.*?)  \[(?P<code>[a-z0-9-]+)\]$")
_GCC_CODE = re.compile(r"^(?P<msg>.*) \[(?P<code>-W[\w=+-]+|-f[\w=+-]+)\]$")
_C_EXT = (".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".m", ".mm", ".cu")


def _severity_lines(ctx: _Ctx) -> None:
    for i, line in ctx.free():
        m = _SEVERITY_LINE.match(line)
        if not m:
            continue
        path, msg, code = m.group("path"), m.group("msg"), None
        if ctx.hint in ("mypy", "dmypy", "pyright", "basedpyright"):
            source = ctx.hint
        elif ctx.hint in ("gcc", "clang", "cc", "g++", "clang++", "c++", "make", "cmake", "ninja"):
            source = "clang" if ctx.hint.startswith("clang") else "gcc"
        elif path.endswith((".py", ".pyi")):
            source = "mypy"
        elif path.endswith(_C_EXT):
            source = "gcc"
        else:
            source = ctx.hint or "compiler"
        for pat in (_MYPY_CODE, _GCC_CODE):
            c = pat.match(msg)
            if c:
                msg, code = c.group("msg"), c.group("code")
                break
        sev = m.group("sev")
        severity: Severity = (
            "error"
            if sev in ("error", "fatal error")
            else "warning"
            if sev == "warning"
            else "info"
        )
        end_line = int(m.group("eline")) if m.group("eline") else None
        # mypy's end column is inclusive; Problem.end_column is exclusive.
        end_col = int(m.group("ecol")) + 1 if m.group("ecol") else None
        col = int(m.group("col")) if m.group("col") else None
        if ctx.add(path, int(m.group("line")), col, msg, severity, source, code, end_line, end_col):
            ctx.claimed.add(i)


# ---------------------------------------------------------------- flake8 / ruff concise / pylint

_CODE_LINE = re.compile(
    r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+):? (?P<code>[A-Z]+\d+|[a-z]+(?:-[a-z]+)+):?"
    r" (?P<fix>\[\*\] )?(?P<msg>.*)$"
)


def _code_lines(ctx: _Ctx) -> None:
    # ruff and flake8 share this format; ruff marks fixes with `[*]`, uses kebab-case codes for
    # syntax errors and ends with a `--fix` hint, flake8 does none of that.
    looks_ruff = any("[*]" in s or "`--fix`" in s or "invalid-syntax" in s for s in ctx.lines)
    for i, line in ctx.free():
        m = _CODE_LINE.match(line)
        if not m:
            continue
        code = m.group("code")
        if ctx.hint in ("ruff", "flake8", "pylint", "pycodestyle", "pyflakes"):
            source = ctx.hint
        else:
            source = "ruff" if looks_ruff else "flake8"
        severity: Severity = "warning" if code.startswith(("W", "C9")) else "error"
        if source == "pylint" and code[0] in "CR":
            severity = "info"
        if ctx.add(
            m.group("path"),
            int(m.group("line")),
            int(m.group("col")),
            m.group("msg"),
            severity,
            source,
            code,
        ):
            ctx.claimed.add(i)


# ---------------------------------------------------------------- generic

_GENERIC = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+)(?::(?P<col>\d+))?:\s*(?P<msg>\S.*)$")


def _generic(ctx: _Ctx) -> None:
    covered = {(p.path, p.line) for p in ctx.out}
    for i, line in ctx.free():
        m = _GENERIC.match(line)
        if not m or re.match(r"^in \S+\s*$", m.group("msg")):
            continue
        rel = ctx.resolve(m.group("path"))
        if rel is None or (rel, int(m.group("line"))) in covered:
            continue
        msg = m.group("msg")
        low = msg.lower()
        severity: Severity = (
            "warning"
            if low.startswith("warning")
            else "info"
            if low.startswith("note")
            else "error"
        )
        col = int(m.group("col")) if m.group("col") else None
        if ctx.add(
            m.group("path"), int(m.group("line")), col, msg, severity, ctx.hint or "validation"
        ):
            ctx.claimed.add(i)
            covered.add((rel, int(m.group("line"))))


_PARSERS: list[Callable[[_Ctx], None]] = [
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
    ctx = _Ctx(lines=lines, resolve=_Resolver(root), hint=tool_hint(command))
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
