"""Parsers for linters and compilers: ruff/rustc arrows, tsc, eslint, gcc/clang/mypy, flake8-style lines,
and the generic `path:line[:col]: msg` fallback."""

from __future__ import annotations

import re

from planfirst.core.problems.base import ParseContext, Severity

# ---------------------------------------------------------------- ruff full / rustc arrows

_ARROW = re.compile(r"^\s*--> (?P<path>.+?):(?P<line>\d+):(?P<col>\d+)\s*$")
_ARROW_HEAD = re.compile(
    r"^(?:(?P<sev>error|warning|note|help)(?:\[(?P<rcode>[^\]]+)\])?"
    r"|(?P<code>[A-Z]+[0-9]+|[a-z]+(?:-[a-z]+)+)):?\s(?:\[\*\]\s)?(?P<msg>.+)$"
)


def _arrows(ctx: ParseContext) -> None:
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


def _tsc(ctx: ParseContext) -> None:
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


def _eslint(ctx: ParseContext) -> None:
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


def _severity_lines(ctx: ParseContext) -> None:
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


def _code_lines(ctx: ParseContext) -> None:
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


def _generic(ctx: ParseContext) -> None:
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
