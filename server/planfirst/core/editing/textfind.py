"""Find text in a file ignoring trailing whitespace, in linear time (docs/reliability.md case 29).

The `str_replace` ladder's first loose rung used a regex built from the model's `old_str`
(`line[^\\S\\n]*\\n…`); on a file of repeated lines a long `old_str` made every start position
re-match hundreds of lines. Here both sides have their trailing whitespace removed line by line
and `str.find` (a linear-time substring search) looks for the normalised `old_str`; offsets are
mapped back to the original text.
"""

from __future__ import annotations

from bisect import bisect_right


class _Normalised:
    """A text with trailing whitespace stripped from each line, and the way back."""

    def __init__(self, text: str) -> None:
        lines = text.split("\n")
        self.orig_starts: list[int] = []
        self.norm_starts: list[int] = []
        norm: list[str] = []
        o = n = 0
        for line in lines:
            kept = line.rstrip()
            self.orig_starts.append(o)
            self.norm_starts.append(n)
            norm.append(kept)
            o += len(line) + 1
            n += len(kept) + 1
        self.text = "\n".join(norm)
        self.original = text

    def to_original(self, k: int) -> int:
        i = bisect_right(self.norm_starts, k) - 1
        return self.orig_starts[i] + (k - self.norm_starts[i])


def find_ignoring_trailing_ws(work: str, old: str, limit: int) -> list[tuple[int, int]]:
    """(start, end) in `work` of each place (at most `limit`) where `old` matches when trailing
    whitespace is ignored on every line; partial first and last lines are allowed as in the
    exact match. The end covers trailing whitespace only where `old` itself had some."""
    parts = old.split("\n")
    needle = "\n".join(p.rstrip() for p in parts)
    if not needle:
        return []
    extend = parts[-1] != parts[-1].rstrip()
    hay = _Normalised(work)
    out: list[tuple[int, int]] = []
    pos = hay.text.find(needle)
    while pos != -1 and len(out) < limit:
        start = hay.to_original(pos)
        end = hay.to_original(pos + len(needle))
        if extend:
            while end < len(work) and work[end] != "\n" and work[end].isspace():
                end += 1
        out.append((start, end))
        pos = hay.text.find(needle, pos + 1)
    return out
