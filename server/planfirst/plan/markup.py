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


CODE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")


def spans(s: str) -> list[str]:
    """The contents of the code spans in `s`."""
    out = []
    for m in CODE.finditer(s):
        body = m.group(2)
        if len(m.group(1)) > 1 or (body.startswith(" ") and body.endswith(" ") and body.strip()):
            if body.startswith(" ") and body.endswith(" ") and body.strip():
                body = body[1:-1]
        out.append(body)
    return out


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
