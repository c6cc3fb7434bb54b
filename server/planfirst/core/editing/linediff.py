"""The line diff behind minimal edits: which blocks of lines changed between two versions.

Lines are interned to ints; the common prefix and suffix are trimmed, then per region: tiny
regions get an exact LCS table; big ones with few changes get Myers' O(ND) algorithm with a small
D (optimal and fast); otherwise the region is split at anchor lines (unique to both sides, as in
patience diff, or else repeated equally often on both) and the gaps are diffed the same way; a gap
with no anchors gets Myers under a work budget shared by the whole diff, and past that budget
becomes one replacement. So a 20,000-line rewrite stays under 100 ms, where difflib takes seconds.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence

_TINY_D = 8  # first try: nearly free, exact for the common "a few lines changed" case
_EXACT_AREA = 100  # regions up to 10 x 10 lines get an exact LCS table (cheaper than Myers)
_LARGE_D = 400  # last resort inside a gap that has no anchor lines
_WORK_BUDGET = 150_000  # Myers inner-loop steps per diff before gaps become plain replacements
_FLOOR_D = 4  # always affordable, even once the budget is spent
_MAX_REPEAT = 8  # a line repeated up to this often (equally on both sides) may anchor a gap


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
