"""An in-memory overlay of the workspace that executes Anthropic's text editor tool.

The model edits through `str_replace_based_edit_tool` (text_editor_20250728: view, create,
str_replace, insert). Nothing touches the disk: every edit lands in this overlay, and the executor
later turns `changes()` into one previewed workspace edit. `str_replace` matches exactly first,
then through a ladder of looser normalisations, each used only when it finds exactly one place;
every failure comes back as a tool error the model can act on.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from planfirst.core.textfind import find_ignoring_trailing_ws
from planfirst.llm.model import TEXT_EDITOR_TOOL, ToolOutcome
from planfirst.plan.model import normalise_rel_path

COMMANDS = ("view", "create", "str_replace", "insert")
_MAX_MATCHES = 20  # enough to name the places of an ambiguous old_str
_SNIPPET_CONTEXT = 3  # lines shown around an edit in the success message
_SNIPPET_MAX = 40

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


class _ToolError(Exception):
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


def _to_work(text: str) -> tuple[str, str]:
    """The text with "\\n" line breaks for matching, and the break to restore afterwards."""
    if "\r" not in text:
        return text, "\n"
    n_crlf = text.count("\r\n")
    if n_crlf == text.count("\n") == text.count("\r"):
        return text.replace("\r\n", "\n"), "\r\n"
    if "\n" not in text:
        return text.replace("\r", "\n"), "\r"
    return text, "\n"  # mixed line endings: edit as they are, new lines get "\n"


def _from_work(work: str, eol: str) -> str:
    return work if eol == "\n" else work.replace("\n", eol)


def _lines(work: str) -> list[str]:
    """Lines as `cat -n` shows them: a final line break does not start an extra line."""
    if not work:
        return []
    lines = work.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _numbered(lines: list[str], first: int) -> str:
    """`cat -n` style: right-aligned 1-based numbers, a tab, the line."""
    return "\n".join(f"{n:6}\t{line}" for n, line in enumerate(lines, start=first))


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _is_blank(line: str) -> bool:
    return not line.strip()


class Unreadable(Exception):
    """A path the overlay cannot show as text (a folder, a binary file); the message names the
    path (workspace-relative) and why, and goes back to the model as a tool error."""


class Overlay:
    """The workspace as the model sees it during one step: disk or editor text plus its edits."""

    def __init__(
        self,
        read_file: Callable[[str], str | None],
        allowed: Iterable[str],
        may_create: Iterable[str],
        resolve: Callable[[str], str] | None = None,
        *,
        list_dir: Callable[[str], list[str] | None] | None = None,
        max_view_lines: int = 2000,
        created_by_step: Iterable[str] = (),
    ) -> None:
        self._read = read_file
        self._allowed = set(allowed)
        self._may_create = set(may_create)
        # files this step's earlier attempts created (recorded in its runs): the step's own
        self._own = set(created_by_step) & self._may_create
        self._resolve = resolve or normalise_rel_path
        self._list_dir = list_dir
        self._max_view_lines = max_view_lines
        self._original: dict[str, str | None] = {}  # text when first seen; None if missing
        self._current: dict[str, str] = {}  # text after the model's edits (touched files only)
        self.log: list[str] = []  # one line per tool call, for debugging and step logs

    # -- public -----------------------------------------------------------------------------

    async def handle(self, name: str, tool_input: dict[str, Any]) -> ToolOutcome:
        """Execute one text editor tool call; usable directly as the model's ToolHandler."""
        command = tool_input.get("command") if isinstance(tool_input, dict) else None
        path = tool_input.get("path", "") if isinstance(tool_input, dict) else ""
        try:
            if name != TEXT_EDITOR_TOOL:
                raise _ToolError(
                    f"Unknown tool {name!r}. Edit files with {TEXT_EDITOR_TOOL} "
                    f"(commands: {', '.join(COMMANDS)})."
                )
            if not isinstance(tool_input, dict):
                raise _ToolError("The tool input must be an object with a 'command' field.")
            text = self._dispatch(command, tool_input)
        except _ToolError as exc:
            self.log.append(f"{command} {path!s}: error: {_first_line(exc)}")
            return ToolOutcome(str(exc), is_error=True)
        self.log.append(f"{command} {path!s}: ok: {_first_line(text)}")
        return ToolOutcome(text)

    def changes(self) -> dict[str, tuple[str | None, str]]:
        """Path -> (original text or None if created, new text) for files whose text changed."""
        out: dict[str, tuple[str | None, str]] = {}
        for path, text in self._current.items():
            original = self._original.get(path)
            if original is None or original != text:
                out[path] = (original, text)
        return out

    def current_text(self, path: str) -> str | None:
        """The overlay's text of a workspace-relative path (edits included), None if missing."""
        return self._text(path)

    # -- plumbing ---------------------------------------------------------------------------

    def _dispatch(self, command: Any, args: dict[str, Any]) -> str:
        if command == "undo_edit":
            raise _ToolError(
                "undo_edit is not available in this version of the text editor tool. To revert a "
                "change, use str_replace with the current text as old_str and the text you want "
                "back as new_str."
            )
        if command == "view":
            return self._view(args)
        if command == "create":
            return self._create(args)
        if command == "str_replace":
            return self._str_replace(args)
        if command == "insert":
            return self._insert(args)
        raise _ToolError(f"Unknown command {command!r}. Use one of: {', '.join(COMMANDS)}.")

    def _text(self, path: str) -> str | None:
        if path in self._current:
            return self._current[path]
        if path not in self._original:
            try:
                self._original[path] = self._read(path)
            except Unreadable as exc:
                raise _ToolError(f"{exc}. {self._scope()}") from None
        return self._original[path]

    def _path(self, args: dict[str, Any]) -> str:
        raw = args.get("path")
        if not isinstance(raw, str) or not raw.strip():
            raise _ToolError("Missing 'path': give the file's path, e.g. 'src/app.py'.")
        try:
            return self._resolve(raw)
        except ValueError as exc:
            raise _ToolError(f"Invalid path {raw!r}: {exc}") from None

    def _scope(self) -> str:
        modify = ", ".join(sorted(self._allowed | self._own)) or "(none)"
        create = ", ".join(sorted(self._may_create - self._own)) or "(none)"
        return f"This step may modify: {modify}; and create: {create}."

    def _check_writable(self, path: str, exists: bool) -> None:
        created_here = path in self._current and self._original.get(path) is None
        if path in self._allowed:
            return
        if path in self._may_create and (not exists or created_here or path in self._own):
            return
        if path in self._may_create:
            raise _ToolError(
                f"{path} already exists, and this step was planned to create it, not to change an "
                f"existing file. {self._scope()} Leave {path} alone or finish the step without it."
            )
        raise _ToolError(
            f"{path} is outside this step. {self._scope()} Make only the changes this step "
            "describes, in those files; other files belong to other steps."
        )

    def _set(self, path: str, text: str) -> None:
        if path not in self._original:
            self._text(path)
        self._current[path] = text

    @staticmethod
    def _str_arg(args: dict[str, Any], key: str, *, required: bool = True) -> str | None:
        value = args.get(key)
        if value is None:
            if required:
                raise _ToolError(f"Missing '{key}'.")
            return None
        if not isinstance(value, str):
            raise _ToolError(f"'{key}' must be a string, not {type(value).__name__}.")
        return value

    # -- commands ---------------------------------------------------------------------------

    def _view(self, args: dict[str, Any]) -> str:
        raw = args.get("path")
        if (
            self._list_dir is not None
            and isinstance(raw, str)
            and raw.strip() in ("", ".", "/", "./")
        ):
            return self._listing("")
        path = self._path(args)
        if (
            path not in self._current
            and self._list_dir is not None
            and self._list_dir(path) is not None
        ):
            return self._listing(path)  # a folder
        text = self._text(path)
        if text is None:
            return self._listing(path)
        lines = _lines(_to_work(text)[0])
        if not lines:
            return f"{path} is empty."
        start, end = 1, len(lines)
        rng = args.get("view_range")
        if rng is not None:
            if (
                not isinstance(rng, list)
                or len(rng) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in rng)
            ):
                raise _ToolError(
                    "'view_range' must be two integers [start, end]; end -1 means the end."
                )
            start, end = rng
            if not 1 <= start <= len(lines):
                raise _ToolError(
                    f"view_range start {start} is outside {path}, which has lines 1-{len(lines)}."
                )
            if end == -1 or end > len(lines):
                end = len(lines)
            if end < start:
                raise _ToolError(f"view_range end {end} is before its start {start}.")
        shown_end = min(end, start + self._max_view_lines - 1)
        out = f"Here's the result of running `cat -n` on {path}:\n"
        out += _numbered(lines[start - 1 : shown_end], start)
        if shown_end < end:
            out += (
                f"\n[Showing lines {start}-{shown_end} of {len(lines)}; use view_range "
                f"[{shown_end + 1}, -1] to see more.]"
            )
        return out

    def _listing(self, path: str) -> str:
        entries: set[str] = set()
        listed = self._list_dir(path) if self._list_dir is not None else None
        if listed is not None:
            entries.update(listed)
        prefix = f"{path}/" if path else ""
        for p in self._current:
            if p.startswith(prefix):
                rest = p[len(prefix) :]
                entries.add(rest.split("/", 1)[0] + ("/" if "/" in rest else ""))
        if listed is None and not entries:
            raise _ToolError(
                f"{path} does not exist. Use view on an existing file, or create it if this step "
                f"creates it. {self._scope()}"
            )
        shown = path or "."
        return f"Files and directories in {shown}:\n" + "\n".join(sorted(entries))

    def _create(self, args: dict[str, Any]) -> str:
        path = self._path(args)
        file_text = self._str_arg(args, "file_text")
        assert file_text is not None
        existing = self._text(path)
        if existing is None and self._list_dir is not None and self._list_dir(path) is not None:
            raise _ToolError(f"{path} is a directory; give a file path.")
        self._check_writable(path, exists=existing is not None)
        body = file_text.replace("\r\n", "\n")
        eol = _to_work(existing)[1] if existing is not None else "\n"
        self._set(path, _from_work(body, eol))
        n = len(_lines(body))
        if existing is None:
            return f"Created {path} ({n} lines)."
        return f"Replaced the whole content of {path} ({n} lines)."

    def _existing(self, path: str) -> str:
        text = self._text(path)
        if text is None:
            hint = " Use create to make it." if path in self._may_create else ""
            raise _ToolError(f"{path} does not exist.{hint} {self._scope()}")
        return text

    def _insert(self, args: dict[str, Any]) -> str:
        path = self._path(args)
        text = self._existing(path)
        self._check_writable(path, exists=True)
        line_no = args.get("insert_line")
        if not isinstance(line_no, int) or isinstance(line_no, bool):
            raise _ToolError(
                "'insert_line' must be an integer: 0 inserts at the top, N after line N."
            )
        new = self._str_arg(args, "insert_text", required=False)
        if new is None:
            new = self._str_arg(args, "new_str", required=False)
        if new is None:
            raise _ToolError("Missing 'insert_text': the text to insert.")
        work, eol = _to_work(text)
        lines = _lines(work)
        if not 0 <= line_no <= len(lines):
            raise _ToolError(
                f"insert_line {line_no} is outside {path}: use 0 to {len(lines)} "
                f"(the file has {len(lines)} lines)."
            )
        ins = new.replace("\r\n", "\n")
        ins_lines = ins.split("\n")
        if ins.endswith("\n"):
            ins_lines.pop()
        final_eol = work.endswith("\n") if lines else ins.endswith("\n")
        result = lines[:line_no] + ins_lines + lines[line_no:]
        new_work = "\n".join(result) + ("\n" if final_eol and result else "")
        self._set(path, _from_work(new_work, eol))
        first = line_no + 1
        return f"Inserted {len(ins_lines)} lines after line {line_no} of {path}.\n" + self._snippet(
            new_work, first, first + len(ins_lines) - 1
        )

    def _str_replace(self, args: dict[str, Any]) -> str:
        path = self._path(args)
        old = self._str_arg(args, "old_str")
        new = self._str_arg(args, "new_str", required=False) or ""
        assert old is not None
        if old == "":
            raise _ToolError(
                "old_str is empty. Quote the exact text to replace; to add text use insert with "
                "insert_line, or create for a new file."
            )
        text = self._existing(path)
        self._check_writable(path, exists=True)
        work, eol = _to_work(text)
        if eol != "\n":
            old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
        if old == new:
            raise _ToolError("old_str and new_str are identical; nothing would change.")
        new_work, first, last, how = _replace(path, work, old, new)
        self._set(path, _from_work(new_work, eol))
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        msg = f"Edited {path}: the replacement is now {where}."
        if how:
            msg += f" Note: old_str did not match exactly; it matched one place {how}."
        return msg + "\n" + self._snippet(new_work, first, last)

    def _snippet(self, work: str, first: int, last: int) -> str:
        lines = _lines(work)
        if not lines:
            return "(the file is now empty)"
        a = max(1, first - _SNIPPET_CONTEXT)
        b = min(len(lines), max(last, first) + _SNIPPET_CONTEXT)
        b = min(b, a + _SNIPPET_MAX - 1)
        return f"Lines {a}-{b} now read:\n" + _numbered(lines[a - 1 : b], a)


def _first_line(x: object) -> str:
    return str(x).split("\n", 1)[0][:200]


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


def _ambiguous(path: str, lines: list[int], how: str) -> _ToolError:
    where = ", ".join(str(n) for n in lines)
    more = " (and possibly more)" if len(lines) >= _MAX_MATCHES else ""
    return _ToolError(
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


def _replace(path: str, work: str, old: str, new: str) -> tuple[str, int, int, str]:
    """Replace the one place `old` matches in `work`: (new work, first line, last line, how).

    `how` is "" for an exact match, otherwise what the ladder had to ignore. Raises _ToolError
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
    raise _ToolError(_no_match_message(path, work, file_lines, core or old.split("\n")))


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
    lines = _lines(work)
    if not lines:
        return f"{head} {path} is empty; use insert or create to add text. {tail}"
    k = max(1, min(len(old_lines), len(lines)))
    best_i, best = _closest_window(lines, old_lines, k)
    shown = _numbered(lines[best_i : best_i + k], best_i + 1)
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
