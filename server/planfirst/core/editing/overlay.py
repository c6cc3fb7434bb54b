"""An in-memory overlay of the workspace that executes Anthropic's text editor tool.

The model edits through `str_replace_based_edit_tool` (text_editor_20250728: view, create,
str_replace, insert). Nothing touches the disk: every edit lands in this overlay, and the executor
later turns `changes()` into one previewed workspace edit. `str_replace` matches exactly first,
then through a ladder of looser normalisations, each used only when it finds exactly one place;
every failure comes back as a tool error the model can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from planfirst.core.editing.edit_match import (
    ToolError,
    from_work,
    numbered,
    replace_once,
    split_lines,
    to_work,
)
from planfirst.llm.model import TEXT_EDITOR_TOOL, ToolOutcome
from planfirst.plan.model import normalise_rel_path

COMMANDS = ("view", "create", "str_replace", "insert")
_SNIPPET_CONTEXT = 3  # lines shown around an edit in the success message
_SNIPPET_MAX = 40


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
        # writes refused because of what the workspace holds now (a file the step creates
        # exists, a name that leads out of the step, a folder): why a step made no change
        self.refused: list[str] = []
        self._named = ""  # the path the current tool call gave, as the model wrote it

    # -- public -----------------------------------------------------------------------------

    async def handle(self, name: str, tool_input: dict[str, Any]) -> ToolOutcome:
        """Execute one text editor tool call; usable directly as the model's ToolHandler."""
        command = tool_input.get("command") if isinstance(tool_input, dict) else None
        path = tool_input.get("path", "") if isinstance(tool_input, dict) else ""
        try:
            if name != TEXT_EDITOR_TOOL:
                raise ToolError(
                    f"Unknown tool {name!r}. Edit files with {TEXT_EDITOR_TOOL} "
                    f"(commands: {', '.join(COMMANDS)})."
                )
            if not isinstance(tool_input, dict):
                raise ToolError("The tool input must be an object with a 'command' field.")
            text = self._dispatch(command, tool_input)
        except ToolError as exc:
            self.log.append(f"{command} {path!s}: error: {_first_line(exc)}")
            if isinstance(exc, _Refused) and exc.why not in self.refused:
                self.refused.append(exc.why)
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
            raise ToolError(
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
        raise ToolError(f"Unknown command {command!r}. Use one of: {', '.join(COMMANDS)}.")

    def _text(self, path: str) -> str | None:
        if path in self._current:
            return self._current[path]
        if path not in self._original:
            try:
                self._original[path] = self._read(path)
            except Unreadable as exc:
                raise ToolError(f"{exc}. {self._scope()}") from None
        return self._original[path]

    def _path(self, args: dict[str, Any]) -> str:
        raw = args.get("path")
        if not isinstance(raw, str) or not raw.strip():
            raise ToolError("Missing 'path': give the file's path, e.g. 'src/app.py'.")
        try:
            path = self._resolve(raw)
        except ValueError as exc:
            raise ToolError(f"Invalid path {raw!r}: {exc}") from None
        self._named = raw
        return path

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
            raise _Refused(
                f"{path} already exists, and this step was planned to create it, not to change an "
                f"existing file. {self._scope()} Leave {path} alone or finish the step without it.",
                f"{path} already exists, and this step was planned to create it",
            )
        outside = (
            f"{path} is outside this step. {self._scope()} Make only the changes this step "
            "describes, in those files; other files belong to other steps."
        )
        if not self._names_step_file(self._named):
            # the model strayed to another file by name: its own choice, not the workspace's
            # state, so a step that then ends without a change is still validation's to decide
            raise ToolError(outside)
        raise _Refused(
            outside,
            f"the edit of {path} was refused: it is not a file of this step (a name the step "
            "gives may now be a link to it)",
        )

    def _names_step_file(self, raw: str) -> bool:
        """Does the name the model gave (before links are followed) name a file of the step?"""
        try:
            return normalise_rel_path(raw) in self._allowed | self._may_create
        except ValueError:
            return False

    def _set(self, path: str, text: str) -> None:
        if path not in self._original:
            self._text(path)
        self._current[path] = text

    @staticmethod
    def _str_arg(args: dict[str, Any], key: str, *, required: bool = True) -> str | None:
        value = args.get(key)
        if value is None:
            if required:
                raise ToolError(f"Missing '{key}'.")
            return None
        if not isinstance(value, str):
            raise ToolError(f"'{key}' must be a string, not {type(value).__name__}.")
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
        lines = split_lines(to_work(text)[0])
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
                raise ToolError(
                    "'view_range' must be two integers [start, end]; end -1 means the end."
                )
            start, end = rng
            if not 1 <= start <= len(lines):
                raise ToolError(
                    f"view_range start {start} is outside {path}, which has lines 1-{len(lines)}."
                )
            if end == -1 or end > len(lines):
                end = len(lines)
            if end < start:
                raise ToolError(f"view_range end {end} is before its start {start}.")
        shown_end = min(end, start + self._max_view_lines - 1)
        out = f"Here's the result of running `cat -n` on {path}:\n"
        out += numbered(lines[start - 1 : shown_end], start)
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
            raise ToolError(
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
            raise _Refused(f"{path} is a directory; give a file path.", f"{path} is a folder")
        self._check_writable(path, exists=existing is not None)
        body = file_text.replace("\r\n", "\n")
        eol = to_work(existing)[1] if existing is not None else "\n"
        self._set(path, from_work(body, eol))
        n = len(split_lines(body))
        if existing is None:
            return f"Created {path} ({n} lines)."
        return f"Replaced the whole content of {path} ({n} lines)."

    def _existing(self, path: str) -> str:
        text = self._text(path)
        if text is None:
            hint = " Use create to make it." if path in self._may_create else ""
            raise ToolError(f"{path} does not exist.{hint} {self._scope()}")
        return text

    def _insert(self, args: dict[str, Any]) -> str:
        path = self._path(args)
        text = self._existing(path)
        self._check_writable(path, exists=True)
        line_no = args.get("insert_line")
        if not isinstance(line_no, int) or isinstance(line_no, bool):
            raise ToolError(
                "'insert_line' must be an integer: 0 inserts at the top, N after line N."
            )
        new = self._str_arg(args, "insert_text", required=False)
        if new is None:
            new = self._str_arg(args, "new_str", required=False)
        if new is None:
            raise ToolError("Missing 'insert_text': the text to insert.")
        work, eol = to_work(text)
        lines = split_lines(work)
        if not 0 <= line_no <= len(lines):
            raise ToolError(
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
        self._set(path, from_work(new_work, eol))
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
            raise ToolError(
                "old_str is empty. Quote the exact text to replace; to add text use insert with "
                "insert_line, or create for a new file."
            )
        text = self._existing(path)
        self._check_writable(path, exists=True)
        work, eol = to_work(text)
        if eol != "\n":
            old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
        if old == new:
            raise ToolError("old_str and new_str are identical; nothing would change.")
        new_work, first, last, how = replace_once(path, work, old, new)
        self._set(path, from_work(new_work, eol))
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        msg = f"Edited {path}: the replacement is now {where}."
        if how:
            msg += f" Note: old_str did not match exactly; it matched one place {how}."
        return msg + "\n" + self._snippet(new_work, first, last)

    def _snippet(self, work: str, first: int, last: int) -> str:
        lines = split_lines(work)
        if not lines:
            return "(the file is now empty)"
        a = max(1, first - _SNIPPET_CONTEXT)
        b = min(len(lines), max(last, first) + _SNIPPET_CONTEXT)
        b = min(b, a + _SNIPPET_MAX - 1)
        return f"Lines {a}-{b} now read:\n" + numbered(lines[a - 1 : b], a)


def _first_line(x: object) -> str:
    return str(x).split("\n", 1)[0][:200]


class _Refused(ToolError):
    """A write refused because of what the workspace holds (`why`: said to the user when the
    step ends without a change)."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why
