"""The str_replace matching ladder: exact first, then looser normalisations, each used only when it
finds exactly one place; line-ending handling and `cat -n` numbering shared with overlay.py.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

from planfirst.core.editing.textfind import find_ignoring_trailing_ws

_MAX_MATCHES = 20  # enough to name the places of an ambiguous old_str

# Rung 4: typographic punctuation a model (or a word processor) may have "corrected".
_PUNCT = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u200a": " ",
        "\u202f": " ",
        "\u200b": "",
        "\ufeff": "",
        "\u2026": "...",
    }
)


class ToolError(Exception):
    """A failed tool call; the message goes back to the model as an error result."""


@dataclass(frozen=True)
class _Rung:
    """One step of the str_replace matching ladder (rungs 2-4 compare whole lines by `key`)."""

    name: str  # what was ignored, for the model and the log
    key: Callable[[str], str]
    reindent: bool  # re-indent new_str by the indentation delta found


def _punct_key(line: str) -> str:
    return line.translate(_PUNCT).strip()


_LINE_RUNGS = (
    _Rung("ignoring trailing whitespace and surrounding blank lines", str.rstrip, False),
    _Rung("ignoring indentation", str.strip, True),
    _Rung(
        "ignoring indentation and Unicode punctuation (quotes, dashes, spaces)", _punct_key, True
    ),
)


def to_work(text: str) -> tuple[str, str]:
    """The text with "\\n" line breaks for matching, and the break to restore afterwards."""
    if "\r" not in text:
        return text, "\n"
    n_crlf = text.count("\r\n")
    if n_crlf == text.count("\n") == text.count("\r"):
        return text.replace("\r\n", "\n"), "\r\n"
    if "\n" not in text:
        return text.replace("\r", "\n"), "\r"
    return text, "\n"  # mixed line endings: edit as they are, new lines get "\n"


def from_work(work: str, eol: str) -> str:
    return work if eol == "\n" else work.replace("\n", eol)


def split_lines(work: str) -> list[str]:
    """Lines as `cat -n` shows them: a final line break does not start an extra line."""
    if not work:
        return []
    lines = work.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def numbered(lines: list[str], first: int) -> str:
    """`cat -n` style: right-aligned 1-based numbers, a tab, the line."""
    return "\n".join(f"{n:6}\t{line}" for n, line in enumerate(lines, start=first))


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _is_blank(line: str) -> bool:
    return not line.strip()


# ---------------------------------------------------------------------------------------------
# The str_replace matching ladder


def _line_of(work: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return work.count("\n", 0, offset) + 1


def _find_all(work: str, old: str) -> list[int]:
    starts: list[int] = []
    i = work.find(old)
    while i != -1 and len(starts) < _MAX_MATCHES:
        starts.append(i)
        i = work.find(old, i + 1)
    return starts


def _ambiguous(path: str, lines: list[int], how: str) -> ToolError:
    where = ", ".join(str(n) for n in lines)
    more = " (and possibly more)" if len(lines) >= _MAX_MATCHES else ""
    return ToolError(
        f"old_str matches {len(lines)} places in {path}{how}, starting at lines {where}{more}. "
        "Include more surrounding lines in old_str so that it matches exactly one place."
    )


def _strip_blank_edges(lines: list[str]) -> tuple[list[str], int, int]:
    lo, hi = 0, len(lines)
    while lo < hi and _is_blank(lines[lo]):
        lo += 1
    while hi > lo and _is_blank(lines[hi - 1]):
        hi -= 1
    return lines[lo:hi], lo, len(lines) - hi


def _reindent(lines: list[str], old_indent: str, file_indent: str) -> list[str]:
    """Shift `lines` by the indentation delta between old_str and the file."""
    if old_indent == file_indent:
        return lines
    unit = "\t" if file_indent.startswith("\t") else " "
    delta = len(file_indent) - len(old_indent)
    out = []
    for line in lines:
        if _is_blank(line):
            out.append(line)
        elif line.startswith(old_indent):
            out.append(file_indent + line[len(old_indent) :])
        elif delta > 0:
            out.append(unit * delta + line)
        else:
            ws = _indent(line)
            out.append(ws[min(len(ws), -delta) :] + line.lstrip())
    return out


def replace_once(path: str, work: str, old: str, new: str) -> tuple[str, int, int, str]:
    """Replace the one place `old` matches in `work`: (new work, first line, last line, how).

    `how` is "" for an exact match, otherwise what the ladder had to ignore. Raises ToolError
    when no rung finds exactly one place.
    """
    new_line_count = new.count("\n")
    # Rung 0: exact.
    starts = _find_all(work, old)
    if len(starts) == 1:
        s = starts[0]
        first = _line_of(work, s)
        return work[:s] + new + work[s + len(old) :], first, first + new_line_count, ""
    if starts:
        raise _ambiguous(path, [_line_of(work, s) for s in starts], "")
    # Rung 1: trailing whitespace ignored, partial lines still allowed.
    matches = find_ignoring_trailing_ws(work, old, _MAX_MATCHES)  # linear time (case 29)
    how = " when ignoring trailing whitespace"
    if len(matches) == 1:
        start, end = matches[0]
        first = _line_of(work, start)
        return work[:start] + new + work[end:], first, first + new_line_count, how[1:]
    if matches:
        raise _ambiguous(path, [_line_of(work, m[0]) for m in matches], how)
    # Rungs 2-4: whole lines compared by a looser key.
    file_lines = work.split("\n")
    core, lead, trail = _strip_blank_edges(old.split("\n"))
    if core:
        for rung in _LINE_RUNGS:
            keys = [rung.key(line) for line in core]
            fkeys = [rung.key(line) for line in file_lines]
            k = len(core)
            found = [
                i
                for i in range(len(file_lines) - k + 1)
                if fkeys[i] == keys[0] and fkeys[i : i + k] == keys
            ][:_MAX_MATCHES]
            if len(found) > 1:
                raise _ambiguous(path, [i + 1 for i in found], f" when {rung.name}")
            if len(found) == 1:
                i = found[0]
                new_lines, _, _ = _strip_new_edges(new.split("\n"), lead, trail)
                if rung.reindent:
                    new_lines = _reindent(new_lines, _indent(core[0]), _indent(file_lines[i]))
                result = file_lines[:i] + new_lines + file_lines[i + k :]
                last = i + max(len(new_lines), 1)
                return "\n".join(result), i + 1, last, f"when {rung.name}"
    raise ToolError(_no_match_message(path, work, file_lines, core or old.split("\n")))


def _strip_new_edges(lines: list[str], lead: int, trail: int) -> tuple[list[str], int, int]:
    """Drop from new_str the blank edge lines that were dropped from old_str (at most)."""
    lo, hi = 0, len(lines)
    while lo < min(lead, hi) and _is_blank(lines[lo]):
        lo += 1
    while hi > lo and len(lines) - hi < trail and _is_blank(lines[hi - 1]):
        hi -= 1
    return lines[lo:hi], lo, len(lines) - hi


def _no_match_message(path: str, work: str, file_lines: list[str], old_lines: list[str]) -> str:
    head = (
        f"No match for old_str in {path}, not even when ignoring trailing whitespace, "
        "surrounding blank lines, indentation and Unicode punctuation."
    )
    tail = (
        "old_str must repeat the file's current text exactly (including your earlier edits in "
        "this step). Use view to check it, then send old_str again."
    )
    lines = split_lines(work)
    if not lines:
        return f"{head} {path} is empty; use insert or create to add text. {tail}"
    k = max(1, min(len(old_lines), len(lines)))
    best_i, best = _closest_window(lines, old_lines, k)
    shown = numbered(lines[best_i : best_i + k], best_i + 1)
    where = f"line {best_i + 1}" if k == 1 else f"lines {best_i + 1}-{best_i + k}"
    pct = round(best * 100)
    if best < 0.4:
        found = f"Nothing in {path} resembles it closely; the nearest is {where} ({pct}% similar):"
    else:
        found = f"The closest text is at {where} ({pct}% similar):"
    return f"{head} {found}\n{shown}\n{tail}"


_TOKEN = re.compile(r"\w+|[^\w\s]")


def _closest_window(lines: list[str], old_lines: list[str], k: int) -> tuple[int, float]:
    """The start of the `k`-line window of `lines` most like `old_lines`, and its similarity.

    Every window is scored by the tokens it shares with old_str (a sliding multiset overlap,
    linear in the file), then the best few are ranked by difflib's ratio, which is too slow to
    run on every window of a large file.
    """
    want: dict[str, int] = {}
    for line in old_lines:
        for tok in _TOKEN.findall(line):
            want[tok] = want.get(tok, 0) + 1
    n_want = sum(want.values())
    toks = [_TOKEN.findall(line) for line in lines]
    have: dict[str, int] = {}
    overlap = 0
    size = 0
    scores: list[tuple[float, int]] = []
    for i in range(len(lines)):
        for tok in toks[i]:
            c = have.get(tok, 0)
            if c < want.get(tok, 0):
                overlap += 1
            have[tok] = c + 1
        size += len(toks[i])
        if i >= k:
            for tok in toks[i - k]:
                c = have[tok] - 1
                have[tok] = c
                if c < want.get(tok, 0):
                    overlap -= 1
            size -= len(toks[i - k])
        if i >= k - 1:
            scores.append((2 * overlap / ((size + n_want) or 1), i - k + 1))
    scores.sort(key=lambda s: (-s[0], s[1]))
    target = "\n".join(line.strip() for line in old_lines)
    sm = difflib.SequenceMatcher(None, autojunk=False)
    sm.set_seq2(target)
    best, best_i = -1.0, 0
    for _, i in scores[:8]:
        sm.set_seq1("\n".join(line.strip() for line in lines[i : i + k]))
        r = sm.ratio()
        if r > best:
            best, best_i = r, i
    return best_i, max(best, 0.0)
