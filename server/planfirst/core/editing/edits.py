"""Minimal text edits between two versions of a file, and unified diffs of them.

Pure Python, no LSP types: positions are 0-based (line, character) with the character offset
counted in the client's position encoding ("utf-16" by default, "utf-8" bytes or "utf-32" code
points). Lines end at "\\r\\n", "\\r" or "\\n", exactly as LSP defines them.

The changed line blocks come from core/editing/linediff.py; edits are then narrowed to the characters
that differ at each end of a changed block.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from planfirst.core.editing.linediff import Block, line_blocks

ENCODINGS = ("utf-16", "utf-8", "utf-32")

# Myers' cost grows with D squared; these budgets keep every call in the low milliseconds.
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# Characters str.splitlines() treats as line breaks but LSP does not.
_EXTRA_BREAKS = ("\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


@dataclass(frozen=True)
class TextEdit:
    """Replace the range [start, end) of a document with `new_text` (0-based, encoded columns)."""

    start_line: int
    start_char: int
    end_line: int
    end_char: int
    new_text: str


def split_lines(text: str) -> list[str]:
    """Split `text` into lines that keep their terminator ("\\r\\n", "\\r" or "\\n")."""
    if not text:
        return []
    if not any(c in text for c in _EXTRA_BREAKS):
        return text.splitlines(keepends=True)  # C speed; same result when no extra breaks exist
    return _LINE_RE.findall(text)


def _eol_len(line: str) -> int:
    if line.endswith("\r\n"):
        return 2
    if line.endswith(("\n", "\r")):
        return 1
    return 0


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown position encoding {encoding!r}; expected one of {ENCODINGS}")


def _units(s: str, encoding: str) -> int:
    """Length of `s` in the units of `encoding`."""
    if encoding == "utf-32" or s.isascii():
        return len(s)
    if encoding == "utf-16":
        return len(s.encode("utf-16-le", "surrogatepass")) // 2
    return len(s.encode("utf-8", "surrogatepass"))


def _char_width(c: str, encoding: str) -> int:
    o = ord(c)
    if encoding == "utf-32":
        return 1
    if encoding == "utf-16":
        return 2 if o > 0xFFFF else 1
    if o < 0x80:
        return 1
    if o < 0x800:
        return 2
    if o < 0x10000:
        return 3
    return 4


# ---------------------------------------------------------------------------------------------
# Edits


def _position(lines: Sequence[str], line: int, offset: int, encoding: str) -> tuple[int, int]:
    """The (line, encoded column) `offset` code points after the start of `lines[line]`."""
    i = line
    rem = offset
    while i < len(lines):
        ln = len(lines[i])
        if rem < ln or (rem == ln and _eol_len(lines[i]) == 0):
            return i, _units(lines[i][:rem], encoding)
        rem -= ln
        i += 1
    return i, 0


def _end_position(lines: Sequence[str], end: int, back: int, encoding: str) -> tuple[int, int]:
    """The (line, encoded column) `back` code points before the end of `lines[end - 1]`."""
    i = end - 1
    while True:
        line = lines[i]
        n = len(line)
        if back < n:
            off = n - back
            if off <= n - _eol_len(line):
                return i, _units(line[:off], encoding)
            return i + 1, 0  # right after the terminator (never inside "\r\n")
        if back == n:
            return i, 0
        back -= n
        i -= 1


def common_prefix_len(x: str, y: str) -> int:
    """Length of the common prefix of x and y."""
    n = min(len(x), len(y))
    i = 0
    while i < n and x[i] == y[i]:
        i += 1
        if i == 32:
            # A long shared start: finish with a binary search on slices (C-speed compares).
            lo, hi = i, n
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if x[:mid] == y[:mid]:
                    lo = mid
                else:
                    hi = mid - 1
            return lo
    return i


def _suffix_len(x: str, y: str, limit: int) -> int:
    """Length of the common suffix of x and y, at most `limit`."""
    i = 0
    while i < limit and x[-1 - i] == y[-1 - i]:
        i += 1
        if i == 32:
            lo, hi = i, limit
            lx, ly = len(x), len(y)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if x[lx - mid :] == y[ly - mid :]:
                    lo = mid
                else:
                    hi = mid - 1
            return lo
    return i


def _new_edit(sl: int, sc: int, el: int, ec: int, text: str) -> TextEdit:
    """Build a TextEdit without the frozen dataclass's per-field object.__setattr__.

    A 20,000-line rewrite can yield thousands of edits; this halves their construction cost.
    """
    edit = object.__new__(TextEdit)
    edit.__dict__.update(start_line=sl, start_char=sc, end_line=el, end_char=ec, new_text=text)
    return edit


def minimal_edits(old: str, new: str, encoding: str = "utf-16") -> list[TextEdit]:
    """The smallest reasonable set of non-overlapping edits turning `old` into `new`, in order."""
    _check_encoding(encoding)
    if old == new:
        return []
    old_lines = split_lines(old)
    new_lines = split_lines(new)
    edits: list[TextEdit] = []
    for i1, i2, j1, j2 in line_blocks(old_lines, new_lines):
        o = old_lines[i1] if i2 - i1 == 1 else "".join(old_lines[i1:i2])
        t = new_lines[j1] if j2 - j1 == 1 else "".join(new_lines[j1:j2])
        # Refine inside the block: drop the characters both sides share at each end.
        p = common_prefix_len(o, t) if o and t and o[0] == t[0] else 0
        if 0 < p < len(o) and o[p - 1] == "\r" and o[p] == "\n":
            p -= 1  # never start an edit between "\r" and "\n"
        lim = min(len(o), len(t)) - p
        s = _suffix_len(o, t, lim) if lim > 0 and o[-1] == t[-1] else 0
        e = len(o) - s
        if 0 < e < len(o) and o[e - 1] == "\r" and o[e] == "\n":
            s -= 1
            e += 1
        sl, sc = _position(old_lines, i1, p, encoding)
        el, ec = (sl, sc) if e == p else _end_position(old_lines, i2, s, encoding)
        edits.append(_new_edit(sl, sc, el, ec, t[p : len(t) - s]))
    return edits


def _line_starts(text: str) -> list[int]:
    """Start offsets of every LSP line of `text` (there is always at least one)."""
    starts = [0]
    pos = 0
    for line in split_lines(text):
        pos += len(line)
        if _eol_len(line):
            starts.append(pos)
    return starts


def _offset(text: str, starts: list[int], line: int, char: int, encoding: str) -> int:
    """The code-point offset of an LSP position, raising ValueError if it is not in `text`."""
    if line < 0 or char < 0 or line >= len(starts):
        raise ValueError(f"position ({line}, {char}) is outside the document ({len(starts)} lines)")
    start = starts[line]
    if line + 1 < len(starts):
        end = starts[line + 1]
        end -= _eol_len(text[start:end])
    else:
        end = len(text)
    content = text[start:end]
    if encoding == "utf-32" or content.isascii():
        if char > len(content):
            raise ValueError(f"position ({line}, {char}) is past the end of line {line}")
        return start + char
    units = 0
    for idx, c in enumerate(content):
        if units == char:
            return start + idx
        units += _char_width(c, encoding)
        if units > char:
            raise ValueError(f"position ({line}, {char}) splits a character")
    if units == char:
        return end
    raise ValueError(f"position ({line}, {char}) is past the end of line {line}")


def apply_edits(old: str, edits: Sequence[TextEdit], encoding: str = "utf-16") -> str:
    """Apply non-overlapping `edits` to `old`; raise ValueError on overlap or a bad position."""
    _check_encoding(encoding)
    starts = _line_starts(old)
    spans: list[tuple[int, int, int, str]] = []
    for n, ed in enumerate(edits):
        a = _offset(old, starts, ed.start_line, ed.start_char, encoding)
        b = _offset(old, starts, ed.end_line, ed.end_char, encoding)
        if b < a:
            raise ValueError(f"edit {n} ends before it starts: {ed}")
        spans.append((a, b, n, ed.new_text))
    spans.sort()  # stable on the edit index, so inserts at one spot keep their order
    out: list[str] = []
    pos = 0
    for a, b, n, text in spans:
        if a < pos:
            raise ValueError(f"edit {n} overlaps an earlier edit")
        out.append(old[pos:a])
        out.append(text)
        pos = b
    out.append(old[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Unified diff


def _range(start: int, length: int) -> str:
    """A hunk header range in the style of GNU diff and git."""
    if length == 1:
        return f"{start + 1}"
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


def _body_line(prefix: str, line: str, out: list[str]) -> None:
    # Keep a "\r" of "\r\n" (or a lone "\r") visible, as git does; end the diff line with "\n".
    if line.endswith("\n"):
        out.append(prefix + line)
    elif line.endswith("\r"):
        out.append(prefix + line + "\n")
    else:
        out.append(prefix + line + "\n")
        out.append("\\ No newline at end of file\n")


def unified_diff(path: str, old: str | None, new: str | None, context: int = 3) -> str:
    """A git-style unified diff of one file; None stands for a missing (created/deleted) file."""
    if old == new:
        return ""
    old_lines = split_lines(old or "")
    new_lines = split_lines(new or "")
    src = "/dev/null" if old is None else f"a/{path}"
    dst = "/dev/null" if new is None else f"b/{path}"
    out = [f"--- {src}\n", f"+++ {dst}\n"]
    blocks = line_blocks(old_lines, new_lines)
    context = max(0, context)
    groups: list[list[Block]] = []
    for blk in blocks:
        if groups and blk[0] - groups[-1][-1][1] <= 2 * context:
            groups[-1].append(blk)
        else:
            groups.append([blk])
    for group in groups:
        first, last = group[0], group[-1]
        a0 = max(0, first[0] - context)
        a1 = min(len(old_lines), last[1] + context)
        b0 = first[2] - (first[0] - a0)
        b1 = last[3] + (a1 - last[1])
        out.append(f"@@ -{_range(a0, a1 - a0)} +{_range(b0, b1 - b0)} @@\n")
        pos = a0
        for i1, i2, j1, j2 in group:
            for line in old_lines[pos:i1]:
                _body_line(" ", line, out)
            for line in old_lines[i1:i2]:
                _body_line("-", line, out)
            for line in new_lines[j1:j2]:
                _body_line("+", line, out)
            pos = i2
        for line in old_lines[pos:a1]:
            _body_line(" ", line, out)
    return "".join(out)
