"""Which test criteria run as commands after the last step (docs/reliability.md case 28).

A criterion is prose for a person unless it is unmistakably a command: it starts with one
backticked command and says nothing after it but that the command succeeds ("`pytest -q`",
"`pytest -q` passes", "`ruff check src` passes (no new warnings)"). Prose that mentions a
command ("Do not run `make deploy` until a maintainer has reviewed …", "`make deploy` must not
run …", "`count --top 2` prints two lines") never runs it. The plan document shows the commands
that will run under the test criteria, so the reviewer approves exactly those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# One backticked span at the very start: the command, with no backtick or newline inside.
_LEADING_COMMAND = re.compile(r"`([^`\n]{1,2000})`")
# What may follow the command: that it succeeds, then a separator and free commentary.
_OUTCOME = re.compile(
    r"(?:should |must |still )?(?:pass(?:es)?|succeeds?|is green|is clean|runs clean(?:ly)?"
    r"|exits? (?:with (?:code |status )?)?0|returns? 0"
    r"|(?:runs|completes|finishes) without (?:errors?|failures?)"
    r"|(?:reports|finds|shows|has|gives) no (?:errors?|failures?|problems?|issues?|warnings?))"
    r"\s*(?:$|[.;,:(—–-])",
    re.IGNORECASE,
)
# The command itself starts like a program name or path: not a flag, not prose punctuation.
_PROGRAM = re.compile(r"^[\w./-]*\w[\w./-]*(?:\s|$)")


def criterion_command(criterion: str) -> str | None:
    """The command a test criterion runs, or None when it is prose for a person."""
    text = criterion.strip()
    m = _LEADING_COMMAND.match(text)
    if m is None:
        return None
    command = m.group(1).strip()
    if not command or command.startswith("-") or not _PROGRAM.match(command):
        return None
    rest = text[m.end() :].strip()
    # Alone (a trailing period at most), or followed by that it succeeds; any other word after
    # the command ("— only after review", "must not run") makes the whole line prose.
    if rest in ("", ".") or _OUTCOME.match(rest) is not None:
        return command
    return None


def criteria_commands(criteria: Iterable[str]) -> list[str]:
    """The commands of the criteria that run, in order (see `criterion_command`)."""
    return [c for c in (criterion_command(t) for t in criteria) if c is not None]
