"""Parsers for Python tools: pytest's report and plain tracebacks (unittest, scripts)."""

from __future__ import annotations

import os
import re

from planfirst.core.problems.base import ParseContext

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


def _pytest(ctx: ParseContext) -> None:
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


def _pytest_section(ctx: ParseContext, title: str, body: list[str]) -> bool:
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


def _python_tracebacks(ctx: ParseContext) -> None:
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
