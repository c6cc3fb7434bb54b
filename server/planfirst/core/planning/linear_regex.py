"""Regular expressions from untrusted sources, matched in linear time (docs/reliability.md case 29).

Python's `re` backtracks: a model's search pattern such as `(?:\\s|\\s)*$x` froze the server for
17 s on a 27-space line, and no syntactic check for "nested quantifiers" catches every such
pattern. google-re2 compiles a pattern to an automaton and matches without backtracking; what it
cannot express (backreferences, lookaround) is refused here and the caller falls back to plain
text. Patterns are short (a search box, not a program): long ones are refused too, since RE2's
automaton for a huge pattern can outgrow its memory budget and fall back to slower matching.
"""

from __future__ import annotations

from typing import Any

import re2

MAX_PATTERN_CHARS = 1_000
_MAX_MEM = 8 << 20  # bytes of automaton per pattern


def _options() -> Any:
    opts = re2.Options()
    opts.log_errors = False  # an unsupported pattern is a normal answer, not a log line
    opts.max_mem = _MAX_MEM
    return opts


_OPTS = _options()


def compile_linear(pattern: str) -> Any | None:
    """A compiled RE2 pattern (`.search(text)`), or None when the pattern is too long or uses
    what RE2 does not support; the caller then treats the pattern as plain text."""
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        return None
    try:
        return re2.compile(pattern, _OPTS)
    except Exception:
        return None
