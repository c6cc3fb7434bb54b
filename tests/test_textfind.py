"""The linear-time trailing-whitespace match agrees with the regex it replaced (case 29)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from planfirst.core.editing.textfind import find_ignoring_trailing_ws


def _regex_matches(work: str, old: str, limit: int) -> list[tuple[int, int]]:
    """The old rung 1: old_str with any trailing whitespace allowed on each line."""
    parts = old.split("\n")
    pieces = []
    for n, part in enumerate(parts):
        body = re.escape(part.rstrip())
        if n < len(parts) - 1:
            pieces.append(body + r"[^\S\n]*\n")
        elif part != part.rstrip():
            pieces.append(body + r"[^\S\n]*")
        else:
            pieces.append(body)
    pattern = re.compile("".join(pieces))
    out, pos = [], 0
    while len(out) < limit:
        m = pattern.search(work, pos)
        if m is None:
            break
        out.append((m.start(), m.end()))
        pos = m.start() + 1
    return out


_TEXT = st.text(alphabet="ab \t\n", max_size=40)


@settings(max_examples=500, deadline=None)
@given(work=_TEXT, old=_TEXT)
def test_same_places_as_the_regex(work: str, old: str) -> None:
    if not old.split("\n")[0].strip():
        # a blank first line let the regex start anywhere in a line's trailing whitespace,
        # which reported one place several times; the linear search reports it once
        return
    assert find_ignoring_trailing_ws(work, old, 5) == _regex_matches(work, old, 5)


def test_repeated_lines_are_linear() -> None:
    work = "a\n" * 200_000
    old = "a\n" * 3_000 + "b"
    assert find_ignoring_trailing_ws(work, old, 5) == []
