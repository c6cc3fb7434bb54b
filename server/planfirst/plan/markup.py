"""Markdown pieces of the plan document: code spans and blocks that nothing inside can close,
escapes for prose that would read as structure (and their inverses), the step-id comment, and
a line writer. Shared by rendering (plan/render.py, plan/sections.py) and parsing.
"""

from __future__ import annotations

import re


def code(s: str) -> str:
    """A markdown code span that survives backticks inside `s`."""
    runs = [len(m) for m in re.findall(r"`+", s)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or (runs and s.strip() != s) else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def code_block(text: str) -> str:
    """A fenced code block that nothing inside `text` can close: the fence is longer than any
    run of backticks in it (triple backticks in command output stay inside, case 34)."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}\n{text.rstrip(chr(10))}\n{fence}"


_RUN = re.compile(r"`+")


def code_spans(s: str) -> list[tuple[int, int, str]]:
    """The code spans of one line as (start, end, body): a run of backticks up to the next run of
    exactly as many. Linear in the line (a backtracking regex took seconds on a few kilobytes of
    backtick runs in a shipped plan.md, docs/reliability.md cases 29 and 42)."""
    runs = [(m.start(), m.end()) for m in _RUN.finditer(s)]
    closer: list[int | None] = [None] * len(runs)
    later: dict[int, int] = {}  # run length -> index of the next run of that length
    for i in range(len(runs) - 1, -1, -1):
        n = runs[i][1] - runs[i][0]
        closer[i] = later.get(n)
        later[n] = i
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(runs):
        j = closer[i]
        if j is None:  # no run of the same length follows: these backticks are text
            i += 1
            continue
        out.append((runs[i][0], runs[j][1], s[runs[i][1] : runs[j][0]]))
        i = j + 1
    return out


def span_body(body: str) -> str:
    """A code span's text: one space of padding on each side is not part of it."""
    if body.startswith(" ") and body.endswith(" ") and body.strip():
        body = body[1:-1]
    return body


def spans(s: str) -> list[str]:
    """The contents of the code spans in `s`."""
    return [span_body(body) for _a, _b, body in code_spans(s)]


# Prose lines that would read as document structure (server-owned blockquotes and comments,
# headings, a step's file/validation lines) get a markdown backslash escape; parsing removes it.
_STRUCTURAL = (
    ">",
    "<!--",
    "#",
    "- Modify:",
    "- Create:",
    "- Validation:",
    "\\",
    "<<<<<<<",
    "=======",
    "|||||||",
)
# a line git writes into a file it could not merge (`diff3` style adds the ||||||| base line)
CONFLICT = re.compile(r"^(?:<{7}|>{7}|\|{7})(?: |$)|^={7}$")


def escape_comment(text: str) -> str:
    """`\\<!--` for every `<!--`, wherever it starts: an HTML comment opened mid-line would hide
    the rest of the document (Validation lines included) in a markdown preview (case 34). The
    backslash makes the `<` literal in markdown; `unescape_comment` removes exactly the ones added."""
    return text.replace("<!--", "\\<!--")


def unescape_comment(text: str) -> str:
    """Undo escape_comment."""
    return text.replace("\\<!--", "<!--")


def escape_prose(text: str) -> str:
    """Escape the lines of free text that the parser would take for structure, and comments."""
    text = escape_comment(text)
    return "\n".join(
        "\\" + line if line.startswith(_STRUCTURAL) else line for line in text.split("\n")
    )


def unescape_prose(text: str) -> str:
    """Undo escape_prose."""
    return unescape_comment(
        "\n".join(line[1:] if line.startswith("\\") else line for line in text.split("\n"))
    )


STEP_ID_COMMENT = re.compile(r"^<!-- step-id: (\S{1,40}) -->\s*$")


def step_id_comment(step_id: str) -> str:
    """The line below a step's heading that keeps its id through hand edits of plan.md."""
    return f"<!-- step-id: {step_id} -->"


class Writer:
    """Lines of a document being written (`add` splits multi-line strings), and where each
    step's block is in them (0-based, end-inclusive)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.steps: dict[int, tuple[int, int]] = {}

    def add(self, *lines: str) -> None:
        for line in lines:
            self.lines.extend(line.split("\n"))

    @property
    def n(self) -> int:
        return len(self.lines)


def item(w: Writer, text: str) -> None:
    """A bullet whose continuation lines stay inside it."""
    text = escape_comment(text)
    first, *rest = text.split("\n") if text else [""]
    w.add(f"- {first}")
    for line in rest:
        # continuation lines stay indented (blank ones too); one that would read as a sub-bullet
        # is escaped
        w.add("  " + ("\\" + line if line.startswith(("- ", "\\")) else line))
