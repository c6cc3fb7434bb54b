"""What the model sees of a large file: an outline plus windows around what the step names.

A step on a 5,000-line module must not send the whole module in every request of the step (the
text editor tool's overlay still holds the whole file, so `view` with `view_range` and the
`str_replace` ladder see everything; only the prompt is smaller). Small files stay whole.

The outline comes from `ast` for Python and from a light, linear line scan for other languages
(no regex with nested quantifiers runs on workspace text: docs/reliability.md case 29).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_MAX_LINE = 200  # characters of a line the generic scanner looks at
_MAX_OUTLINE = 400  # outline entries shown at most
_WINDOW = 20  # lines of context either side of a focus line
_MAX_SYMBOL_SPAN = 60  # a named symbol longer than this shows its first lines only
_MAX_WINDOW_LINES = 500  # lines shown in windows at most, per file

# one keyword, then a name: no nested quantifiers, linear on any line (lines are cut first)
_GENERIC = re.compile(
    r"^(\s*)(?:export\s+)?(?:default\s+)?(?:pub(?:\([a-z]+\))?\s+)?(?:async\s+)?(?:static\s+)?"
    r"(class|def|function|fn|func|interface|struct|enum|impl|trait|module|namespace)\s+"
    r"([A-Za-z_$][\w$]*)"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_LINE_REF = re.compile(r"(?:line\s+|:)(\d{1,7})\b")


@dataclass(frozen=True)
class Symbol:
    """One outline entry: 1-based inclusive line range."""

    name: str
    kind: str
    start: int
    end: int
    depth: int


def _python_outline(text: str) -> list[Symbol] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    out: list[Symbol] = []

    def walk(nodes: list[ast.stmt], depth: int) -> None:
        for n in nodes:
            if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                kind = "class" if isinstance(n, ast.ClassDef) else "def"
                start = min([n.lineno] + [d.lineno for d in n.decorator_list])
                out.append(Symbol(n.name, kind, start, n.end_lineno or n.lineno, depth))
                if depth < 1:
                    walk(n.body, depth + 1)

    walk(tree.body, 0)
    return out


def _generic_outline(lines: list[str]) -> list[Symbol]:
    found: list[tuple[int, int, str, str]] = []  # (line, indent, kind, name)
    for i, line in enumerate(lines, 1):
        m = _GENERIC.match(line[:_MAX_LINE])
        if m:
            found.append((i, len(m.group(1).expandtabs(4)), m.group(2), m.group(3)))
    indents = sorted({ind for _, ind, _, _ in found})
    out = []
    for k, (i, ind, kind, name) in enumerate(found):
        end = len(lines)
        for j, ind2, _, _ in found[k + 1 :]:
            if ind2 <= ind:
                end = j - 1
                break
        out.append(Symbol(name, kind, i, max(i, end), min(indents.index(ind), 2)))
    return out


def outline(path: str, text: str) -> list[Symbol]:
    """Classes, functions and methods with their line ranges."""
    if path.endswith((".py", ".pyi")):
        py = _python_outline(text)
        if py is not None:
            return py
    return _generic_outline(text.splitlines())


def is_large(text: str, max_lines: int, max_chars: int) -> bool:
    """True when a file is sent as an outline plus windows instead of whole."""
    return text.count("\n") + 1 > max_lines or len(text) > max_chars


def _focus(
    symbols: list[Symbol], lines: int, hints: str, path: str, sites: list[int]
) -> list[tuple[int, int]]:
    """Line ranges the step names: symbols mentioned in the hints, line numbers, edit sites."""
    words = set(_IDENT.findall(hints))
    spans: list[tuple[int, int]] = []
    for s in symbols:
        if s.name in words:
            spans.append((s.start, min(s.end, s.start + _MAX_SYMBOL_SPAN - 1)))
    base = path.rsplit("/", 1)[-1]
    for raw in hints.splitlines():
        if base not in raw and "line" not in raw.lower():
            continue
        for m in _LINE_REF.finditer(raw[:_MAX_LINE]):
            n = int(m.group(1))
            if 1 <= n <= lines:
                spans.append((n, n))
    spans += [(n, n) for n in sites if 1 <= n <= lines]
    return spans


def _merge(spans: list[tuple[int, int]], lines: int) -> list[tuple[int, int]]:
    widened = sorted((max(1, a - _WINDOW), min(lines, b + _WINDOW)) for a, b in spans)
    merged: list[tuple[int, int]] = []
    for a, b in widened:
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    out, budget = [], _MAX_WINDOW_LINES
    for a, b in merged:
        if budget <= 0:
            break
        b = min(b, a + budget - 1)
        out.append((a, b))
        budget -= b - a + 1
    return out


def changed_lines(old: str | None, new: str | None) -> list[int]:
    """First changed line of each differing region of new vs old (an earlier attempt's edit sites)."""
    if old is None or new is None:
        return []
    a, b = old.splitlines(), new.splitlines()
    out, i = [], 0
    n = min(len(a), len(b))
    while i < n:
        if a[i] != b[i]:
            out.append(i + 1)
            while i < n and a[i] != b[i]:
                i += 1
        i += 1
    if len(a) != len(b):
        out.append(n + 1)
    return out[:20]


@dataclass
class FileView:
    """What the prompt carries for one file, and a line for the provenance record."""

    text: str
    sent: str


def view(path: str, text: str, hints: str, sites: list[int] | None = None) -> FileView:
    """An outline of a large file plus numbered windows around what the step names."""
    lines = text.splitlines()
    symbols = outline(path, text)
    shown = [s for s in symbols if s.depth == 0]
    focus_spans = _focus(symbols, len(lines), hints, path, sites or [])
    windows = _merge(focus_spans, len(lines))
    inside = {s for s in symbols if s.depth > 0 and any(a <= s.start <= b for a, b in windows)}
    shown = sorted(set(shown) | inside, key=lambda s: (s.start, s.depth))
    head = [
        f"[large file: {len(lines):,} lines. Shown: an outline, then the lines this step names. "
        "The whole file is available: use the editor tool's `view` with `view_range` "
        "[start, end] to read other lines before you edit them.]",
        "Outline (line ranges):",
    ]
    if len(shown) > _MAX_OUTLINE:  # keep the entries nearest to what the step names
        centre = [(a + b) // 2 for a, b in windows] or [1]
        near = sorted(shown, key=lambda s: min(abs(s.start - c) for c in centre))
        kept = set(near[:_MAX_OUTLINE])
        shown = [s for s in shown if s in kept]
        head[-1] = (
            f"Outline (line ranges; the {_MAX_OUTLINE} entries nearest this step's lines of "
            f"{len(near)}, view the file for the rest):"
        )
    for s in shown:
        head.append(f"{'  ' * s.depth}{s.start}-{s.end} {s.kind} {s.name}")
    body = []
    for a, b in windows:
        body.append(f"Lines {a}-{b}:")
        body += [f"{n:6}\t{lines[n - 1]}" for n in range(a, b + 1)]
    if not windows:
        body.append("(no part of this file is named by the step: view the ranges you need)")
    ranges = ",".join(f"{a}-{b}" for a, b in windows) or "none"
    return FileView("\n".join(head + body), f"outline+windows {ranges} of {len(lines)} lines")
