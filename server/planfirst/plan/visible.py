"""Names and text shown for what they are (docs/reliability.md case 34).

Text that reaches a person (the plan document, hovers, edit previews, the terminal) may come from
the model, a command's output or a file name in the repository. Characters that change how text
*looks* without being seen — bidi controls such as U+202E, zero-width characters, other format
and control characters, line and paragraph separators — are shown as a visible escape
`\\u{202E}`; `decode` reverses `encode` exactly (a literal backslash before `u{` is escaped as
`\\u{5C}`), so a rendered plan still parses back to the same plan.

`name_problems` says why a path is misleading: invisible characters, letters from another script
that look like Latin ones (`pаy.py` with a Cyrillic `а`), or compatibility forms (fullwidth
letters) that normalise to something else. Plan review flags those, and a name that differs from
an existing file's only in case.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_KEEP = frozenset("\n\t")
_TOKEN = re.compile(r"\\u\{([0-9A-F]{1,6})\}")


def invisible(c: str) -> bool:
    """A character that changes how text looks or reads without being seen itself."""
    return c not in _KEEP and unicodedata.category(c) in _INVISIBLE_CATEGORIES


# What `encode` has to look at: anything but printable ASCII, newline and tab (a backslash only
# before "u{"). Plan text is mostly ASCII, so the per-character category check runs on a few
# characters instead of every one (the plan document is encoded at every save).
_CANDIDATE = re.compile(r"[^\x20-\x7e\n\t]|\\(?=u\{)")


def _escape(m: re.Match[str]) -> str:
    c = m.group(0)
    return f"\\u{{{ord(c):X}}}" if c == "\\" or invisible(c) else c


def encode(text: str) -> str:
    """`text` with every invisible character as a visible `\\u{XXXX}` escape (reversible)."""
    return _CANDIDATE.sub(_escape, text)


def for_terminal(text: str, keep: tuple[str, ...] = (), *, one_line: bool = False) -> str:
    """`text` safe to print on a terminal (docs/reliability.md case 43): every control character
    (ESC, so no escape sequence — OSC 52 writes the clipboard — BEL, C0 and C1 controls, DEL) and
    every invisible or direction-changing character shown as `\\u{XXXX}`. The exact sequences in
    `keep` (planfirst's own colours) are left as they are. `one_line`: newlines and tabs are
    escaped too, so a row of a listing stays one row (a title cannot forge the next plan's line,
    case 50)."""
    if one_line:
        return for_terminal(text, keep).replace("\n", "\\u{A}").replace("\t", "\\u{9}")
    if not keep or not any(k and k in text for k in keep):
        return _shown(text)
    mine = re.compile("|".join(re.escape(k) for k in sorted(set(keep), key=len, reverse=True) if k))
    out: list[str] = []
    pos = 0
    for m in mine.finditer(text):
        out.append(_shown(text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_shown(text[pos:]))
    return "".join(out)


_NOT_PLAIN = re.compile(r"[^\x20-\x7e\n\t]")


def _shown(text: str) -> str:
    """Like `encode`, for display only: a backslash stays as it is, so text that was encoded
    already (a plan document) is printed unchanged."""
    return _NOT_PLAIN.sub(
        lambda m: f"\\u{{{ord(m.group(0)):X}}}" if invisible(m.group(0)) else m.group(0), text
    )


def decode(text: str) -> str:
    """Undo `encode` (a newline escape is left as written: it would change the document's lines)."""

    def one(m: re.Match[str]) -> str:
        cp = int(m.group(1), 16)
        if cp > 0x10FFFF or cp == 0x0A or 0xD800 <= cp <= 0xDFFF:
            return m.group(0)
        return chr(cp)

    return _TOKEN.sub(one, text) if "\\u{" in text else text


# Letters of other scripts that render like Latin letters in common fonts (Cyrillic, Greek,
# Armenian, Cherokee): a name made only of these and ASCII can pass for an ASCII name.
LOOKALIKES = frozenset(
    "аеорсухіјѕԁԛԝһӏԍвкмнтАВЕКМНОРСТУХІЈЅԌӀ"  # Cyrillic
    "αβεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"  # Greek
    "օսցհոաԁ"  # Armenian
    "ᎪᏴᏟᎠᎬᏀᎻᏆᎫᏦᏞᎷᏒᏚᎢᏙᏔ"  # Cherokee
)


def name_problems(path: str) -> list[str]:
    """Why `path` could mislead a reader (empty when it is plain)."""
    out: list[str] = []
    hidden = sorted({f"U+{ord(c):04X}" for c in path if invisible(c)})
    if hidden:
        out.append(f"contains invisible or direction-changing characters ({', '.join(hidden)})")
    for part in path.split("/"):
        alike = [c for c in part if c in LOOKALIKES]
        if alike and all(c.isascii() or c in LOOKALIKES or not c.isalpha() for c in part):
            names = sorted(
                {f"{c} U+{ord(c):04X} {unicodedata.name(c, '?').lower()}" for c in alike}
            )
            out.append(
                f"{encode(part)!r} uses letters that look Latin but are not: {', '.join(names[:4])}"
            )
        folded = unicodedata.normalize("NFKC", part)
        if folded != part and not hidden:
            out.append(
                f"{encode(part)!r} contains compatibility characters that read as {folded!r}"
            )
    return out
