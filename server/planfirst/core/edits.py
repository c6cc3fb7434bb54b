"""Minimal text edits between two versions of a file, and unified diffs of them.

Pure Python, no LSP types: positions are 0-based (line, character) with the character offset
counted in the client's position encoding ("utf-16" by default, "utf-8" bytes or "utf-32" code
points). Lines end at "\\r\\n", "\\r" or "\\n", exactly as LSP defines them.

The line diff (lines interned to ints) trims the common prefix and suffix, then per region:
tiny regions get an exact LCS table; big ones with few changes get Myers' O(ND) algorithm with a
small D (optimal and fast); otherwise the region is split at anchor lines (unique to both sides,
as in patience diff, or else repeated equally often on both) and the gaps are diffed the same way;
a gap with no anchors gets Myers under a work budget shared by the whole diff, and past that
budget becomes one replacement. So a 20,000-line rewrite stays under 100 ms, where difflib takes
seconds. Edits are then narrowed to the characters that differ at each end of a changed block.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

ENCODINGS = ("utf-16", "utf-8", "utf-32")

# Myers' cost grows with D squared; these budgets keep every call in the low milliseconds.
_TINY_D = 8  # first try: nearly free, exact for the common "a few lines changed" case
_EXACT_AREA = 100  # regions up to 10 x 10 lines get an exact LCS table (cheaper than Myers)
_LARGE_D = 400  # last resort inside a gap that has no anchor lines
_WORK_BUDGET = 150_000  # Myers inner-loop steps per diff before gaps become plain replacements
_FLOOR_D = 4  # always affordable, even once the budget is spent
_MAX_REPEAT = 8  # a line repeated up to this often (equally on both sides) may anchor a gap

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
# Line diff


Block = tuple[int, int, int, int]  # old lines [i1, i2) are replaced by new lines [j1, j2)


def _common_run(a: Sequence[int], i: int, b: Sequence[int], j: int, n: int) -> int:
    """How many elements a[i:], b[j:] share from the start, looking at most `n` ahead."""
    if n <= 0 or a[i] != b[j]:
        return 0
    k = 1
    chunk = 16
    # Gallop with slice comparisons (C speed), then finish the last chunk one by one.
    while k < n:
        c = min(chunk, n - k)
        if a[i + k : i + k + c] == b[j + k : j + k + c]:
            k += c
            chunk *= 2
        else:
            while a[i + k] == b[j + k]:
                k += 1
            return k
    return k


def _common_tail(a: Sequence[int], i: int, b: Sequence[int], j: int, n: int) -> int:
    """How many elements a[:i], b[:j] share at their ends, looking at most `n` back."""
    k = 0
    while k < n and a[i - 1 - k] == b[j - 1 - k]:
        k += 1
        if k == 64:
            # A long equal tail: compare the rest in slices.
            chunk = 64
            while k < n:
                c = min(chunk, n - k)
                if a[i - k - c : i - k] == b[j - k - c : j - k]:
                    k += c
                    chunk *= 2
                else:
                    while a[i - 1 - k] == b[j - 1 - k]:
                        k += 1
                    return k
            return k
    return k


def _myers(
    a: Sequence[int],
    alo: int,
    ahi: int,
    b: Sequence[int],
    blo: int,
    bhi: int,
    max_d: int,
    budget: list[int],
) -> list[Block] | None:
    """Myers' greedy O(ND) diff of a[alo:ahi] and b[blo:bhi], or None if D exceeds `max_d`.

    `budget[0]` is the work left for the whole diff; D is capped so the call cannot overspend it.
    """
    n = ahi - alo
    m = bhi - blo
    affordable = max(_FLOOR_D, int((2 * max(budget[0], 0)) ** 0.5))
    max_d = min(max_d, n + m, affordable)
    budget[0] -= (max_d + 1) * (max_d + 2) // 2  # charged up front: a failed run costs the most
    off = max_d + 1
    v = [0] * (2 * max_d + 3)
    trace: list[list[int]] = []
    for d in range(max_d + 1):
        trace.append(v[off - d - 1 : off + d + 2])  # the values step d starts from
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
                x = v[off + k + 1]
            else:
                x = v[off + k - 1] + 1
            y = x - k
            if x < n and y < m and a[alo + x] == b[blo + y]:
                x += _common_run(a, alo + x, b, blo + y, min(n - x, m - y))
                y = x - k
            v[off + k] = x
            if x >= n and y >= m:
                budget[0] += (max_d + 1) * (max_d + 2) // 2 - (d + 1) * (d + 2) // 2
                return _backtrack(trace, d, n, m, alo, blo)
    return None


def _backtrack(
    trace: list[list[int]], dmax: int, n: int, m: int, alo: int, blo: int
) -> list[Block]:
    """Turn Myers' saved frontiers into merged replace blocks, in order."""
    edits: list[Block] = []
    x, y = n, m
    for d in range(dmax, 0, -1):
        v = trace[d]  # covers k in [-d-1, d+1] at indices 0..2d+2
        i = x - y + d + 1  # index of k = x - y
        if i == 1 or (i != 2 * d + 1 and v[i - 1] < v[i + 1]):
            px = v[i + 1]  # came down from k + 1: a line inserted from b
            py = px - (x - y + 1)
            edits.append((alo + px, alo + px, blo + py, blo + py + 1))
        else:
            px = v[i - 1]  # came right from k - 1: a line deleted from a
            py = px - (x - y - 1)
            edits.append((alo + px, alo + px + 1, blo + py, blo + py))
        x, y = px, py
    edits.reverse()
    return _merge(edits)


def _lcs_blocks(
    a: Sequence[int], alo: int, ahi: int, b: Sequence[int], blo: int, bhi: int
) -> list[Block]:
    """An exact diff of two small regions from a longest-common-subsequence table."""
    sa = a[alo:ahi]
    sb = b[blo:bhi]
    n, m = len(sa), len(sb)
    table = [[0] * (m + 1) for _ in range(n + 1)]  # table[i][j]: LCS length of sa[i:], sb[j:]
    for i in range(n - 1, -1, -1):
        row, below, x = table[i], table[i + 1], sa[i]
        for j in range(m - 1, -1, -1):
            if x == sb[j]:
                row[j] = below[j + 1] + 1
            else:
                row[j] = below[j] if below[j] >= row[j + 1] else row[j + 1]
    blocks: list[Block] = []
    i = j = 0
    si = sj = -1  # start of the open block, if any
    while i < n or j < m:
        if i < n and j < m and sa[i] == sb[j]:
            if si >= 0:
                blocks.append((alo + si, alo + i, blo + sj, blo + j))
                si = -1
            i += 1
            j += 1
            continue
        if si < 0:
            si, sj = i, j
        if j >= m or (i < n and table[i + 1][j] >= table[i][j + 1]):
            i += 1
        else:
            j += 1
    if si >= 0:
        blocks.append((alo + si, alo + n, blo + sj, blo + m))
    return blocks


def _merge(blocks: list[Block]) -> list[Block]:
    """Merge touching blocks (sorted input) into one."""
    out: list[Block] = []
    for blk in blocks:
        if out and out[-1][1] == blk[0] and out[-1][3] == blk[2]:
            p = out[-1]
            out[-1] = (p[0], blk[1], p[2], blk[3])
        else:
            out.append(blk)
    return out


def _anchors(
    a: Sequence[int], alo: int, ahi: int, b: Sequence[int], blo: int, bhi: int
) -> list[tuple[int, int]]:
    """Patience anchors: lines unique to both sides, in the longest increasing run.

    With no unique line in common, lines repeated equally often on both sides (preferably at
    most `_MAX_REPEAT` times) are paired in order instead, much as histogram diff uses them.
    """
    sa = a[alo:ahi]
    sb = b[blo:bhi]
    if len(sa) + len(sb) <= 24:
        # Tiny gap: list.count is cheaper than building Counters.
        pairs = [
            (alo + sa.index(x), blo + j)
            for j, x in enumerate(sb)
            if x in sa and sa.count(x) == 1 and sb.count(x) == 1
        ]
        return _increasing(pairs)
    ca = Counter(sa)
    cb = Counter(sb)
    pos_a = {a[i]: i for i in range(alo, ahi) if ca[a[i]] == 1}
    pairs = [(pos_a[x], j) for j in range(blo, bhi) if cb[(x := b[j])] == 1 and x in pos_a]
    if not pairs:
        rep = {x for x, c in cb.items() if 1 < c <= _MAX_REPEAT and ca.get(x) == c}
        if not rep:
            # Still nothing: any line repeated equally often (blank lines, braces) will do.
            rep = {x for x, c in cb.items() if ca.get(x) == c}
        if not rep:
            return []
        occ: dict[int, list[int]] = {}
        for i in range(alo, ahi):
            if a[i] in rep:
                occ.setdefault(a[i], []).append(i)
        seen: Counter[int] = Counter()
        for j in range(blo, bhi):
            x = b[j]
            if x in rep:
                pairs.append((occ[x][seen[x]], j))
                seen[x] += 1
    return _increasing(pairs)


def _increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of `pairs` (ordered by new index) whose old indices increase."""
    if not pairs:
        return []
    # Longest increasing subsequence over the old-side index (patience sorting).
    tails: list[int] = []  # old index at the top of each pile
    tail_idx: list[int] = []  # pair index at the top of each pile
    back: list[int] = [-1] * len(pairs)
    for p, (i, _j) in enumerate(pairs):
        pile = bisect.bisect_left(tails, i)
        if pile > 0:
            back[p] = tail_idx[pile - 1]
        if pile == len(tails):
            tails.append(i)
            tail_idx.append(p)
        else:
            tails[pile] = i
            tail_idx[pile] = p
    out: list[tuple[int, int]] = []
    p = tail_idx[-1]
    while p != -1:
        out.append(pairs[p])
        p = back[p]
    out.reverse()
    return out


def diff_blocks(a: Sequence[int], b: Sequence[int]) -> list[Block]:
    """The non-equal blocks turning sequence `a` into `b`, sorted and non-touching."""
    out: list[Block] = []
    budget = [_WORK_BUDGET]
    stack: list[Block] = [(0, len(a), 0, len(b))]
    while stack:
        alo, ahi, blo, bhi = stack.pop()
        k = _common_run(a, alo, b, blo, min(ahi - alo, bhi - blo)) if alo < ahi and blo < bhi else 0
        alo += k
        blo += k
        k = _common_tail(a, ahi, b, bhi, min(ahi - alo, bhi - blo))
        ahi -= k
        bhi -= k
        if alo == ahi and blo == bhi:
            continue
        if (
            alo == ahi
            or blo == bhi
            or (ahi - alo + bhi - blo <= 64 and set(a[alo:ahi]).isdisjoint(b[blo:bhi]))
        ):
            out.append((alo, ahi, blo, bhi))  # nothing to align inside: one replacement
            continue
        # A tiny region gets an exact diff (patience anchors can be poor there: 001 -> 100);
        # a big region with few changes is Myers' best case (and anchoring it would cost more);
        # otherwise split at anchor lines first, which keeps each Myers run small.
        if (ahi - alo) * (bhi - blo) <= _EXACT_AREA:
            out.extend(_lcs_blocks(a, alo, ahi, b, blo, bhi))
            continue
        if ahi - alo + bhi - blo > 256:
            found = _myers(a, alo, ahi, b, blo, bhi, _TINY_D, budget)
            if found is not None:
                out.extend(found)
                continue
        anchors = _anchors(a, alo, ahi, b, blo, bhi)
        if anchors:
            pi, pj = alo, blo
            for i, j in anchors:
                if i > pi or j > pj:  # consecutive anchors leave nothing in between
                    stack.append((pi, i, pj, j))
                pi, pj = i + 1, j + 1
            stack.append((pi, ahi, pj, bhi))
            continue
        found = None
        if not set(a[alo:ahi]).isdisjoint(b[blo:bhi]):
            found = _myers(a, alo, ahi, b, blo, bhi, _LARGE_D, budget)
        # Nothing in common, or too costly to align: one replacement is the reasonable answer.
        out.extend(found if found is not None else [(alo, ahi, blo, bhi)])
    out.sort()
    return _merge(out)


def line_blocks(old_lines: Sequence[str], new_lines: Sequence[str]) -> list[Block]:
    """Non-equal line blocks between two line lists (lines compared exactly, terminators too)."""
    ids: dict[str, int] = {}
    a = [ids.setdefault(line, len(ids)) for line in old_lines]
    b = [ids.setdefault(line, len(ids)) for line in new_lines]
    return diff_blocks(a, b)


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
