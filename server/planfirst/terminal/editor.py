"""The terminal acting as the editor: it asks, shows progress, previews an edit as a diff and
writes the edits the user accepts (every path through the workspace guard)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import os
import stat
import sys
from pathlib import Path
from typing import Any

from lsprotocol import types

from planfirst.core.editing.edits import TextEdit, apply_edits, unified_diff
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.plan.files import SAFE_OPEN
from planfirst.plan.visible import for_terminal
from planfirst.terminal.style import COLOURS, DIM, RESET, paint


def _path(guard: WorkspaceGuard, uri: str) -> Path:
    """The real path of a workspace file URI, through the guard (PathError outside)."""
    return guard.resolve(uri)


def _regular(fd: int, p: Path) -> None:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a FIFO, a device?)", str(p))


def _read(p: Path) -> bytes | None:
    """A file's bytes (None: missing), never through a link swapped in after the guard resolved
    it and never blocking on a FIFO: anything but a regular file is an OSError naming it (a
    test or build of an earlier step can leave a FIFO in a step file's place)."""
    try:
        fd = os.open(p, os.O_RDONLY | SAFE_OPEN)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        _regular(fd, p)
        return f.read()


_BOM = b"\xef\xbb\xbf"


def _text(p: Path) -> str | None:
    """A file's text as the server reads it (fsio.read_disk): a UTF-8 BOM is not part of it
    (edits do not count it); `write` keeps it."""
    raw = _read(p)
    return None if raw is None else raw.removeprefix(_BOM).decode("utf-8")


def _write(p: Path, data: bytes) -> None:
    """Write a file's new bytes like `_read` reads it (no link followed, no FIFO opened)."""
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | SAFE_OPEN, 0o666)
    with os.fdopen(fd, "wb") as f:
        _regular(fd, p)
        os.ftruncate(fd, 0)
        f.write(data)


class TerminalEditor:
    """The terminal acting as an editor: asks, previews, writes accepted edits to disk."""

    def __init__(self, root: Path, yes: bool, out: Any = None) -> None:
        self.root = root
        self.yes = yes
        self.out = out or sys.stdout
        self.progress_line = ""
        self.last_log = ""
        self.server_log: collections.deque[str] = collections.deque(maxlen=200)
        self._guard: WorkspaceGuard | None = None

    @property
    def guard(self) -> WorkspaceGuard:
        """The path guard of the workspace (every edited path is resolved through it)."""
        if self._guard is None:
            self._guard = WorkspaceGuard(self.root)
        return self._guard

    def say(self, text: str = "") -> None:
        """Print a line (clearing a progress line first). Everything printed passes here: text
        from the repository, the model or a command never sends an escape sequence to the
        terminal; only planfirst's own colours stay (docs/reliability.md case 43)."""
        self.clear_progress()
        print(paint(for_terminal(text, COLOURS)), file=self.out, flush=True)

    def clear_progress(self) -> None:
        """Erase the live progress line, if one is shown."""
        if self.progress_line and self.out.isatty():
            print("\r\033[K", end="", file=self.out, flush=True)
        self.progress_line = ""

    def show_progress(self, message: str) -> None:
        """A live one-line progress display (plain lines when not a terminal)."""
        if message == self.progress_line:
            return
        if (
            not self.out.isatty()
            and self.last_log
            and message.endswith(self.last_log.strip()[:100])
        ):
            return  # the output line was just printed; do not echo it again
        if self.out.isatty():
            shown = for_terminal(message[:110])
            print(paint(f"\r\033[K{DIM}… {shown}{RESET}"), end="", file=self.out, flush=True)
        else:
            print(f"  … {for_terminal(message)}", file=self.out, flush=True)
        self.progress_line = message

    async def ask(self, question: str, *, always: bool = False) -> bool:
        """A yes/no question ('--yes' answers yes unless `always`; no terminal input answers no)."""
        if self.yes and not always:
            self.say(f"{question} [y/N] y (--yes)")
            return True
        self.clear_progress()
        try:
            answer = await asyncio.to_thread(input, f"{for_terminal(question)} [y/N] ")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    def preview(self, edit: types.WorkspaceEdit) -> tuple[str, dict[Path, str | None]]:
        """The diff an edit would make, and the resulting file texts (None: deleted)."""
        result: dict[Path, str | None] = {}
        for ch in edit.document_changes or []:
            if isinstance(ch, types.CreateFile):
                result.setdefault(_path(self.guard, ch.uri), "")
            elif isinstance(ch, types.DeleteFile):
                result[_path(self.guard, ch.uri)] = None
            elif isinstance(ch, types.TextDocumentEdit):
                p = _path(self.guard, ch.text_document.uri)
                base = result.get(p)
                if base is None:
                    base = _text(p) or ""
                edits = [
                    TextEdit(
                        e.range.start.line,
                        e.range.start.character,
                        e.range.end.line,
                        e.range.end.character,
                        e.new_text,
                    )
                    for e in ch.edits
                    if isinstance(e, (types.TextEdit, types.AnnotatedTextEdit))
                ]
                result[p] = apply_edits(base, edits, "utf-16")
        diff = ""
        for p, new in result.items():
            old = _text(p)
            rel = p.relative_to(self.root).as_posix() if p.is_relative_to(self.root) else str(p)
            diff += unified_diff(rel, old, new)
        return diff, result

    def write(self, result: dict[Path, str | None]) -> None:
        """Write the accepted texts (the terminal 'saves' right away), whole or not at all: a
        file that cannot be written (it became a directory meanwhile, a full disk) puts back
        the files written before it and raises that OSError (docs/reliability.md case 40)."""
        before: dict[Path, bytes | None] = {}
        for p in result:  # what each file holds now; a directory in a file's place stops here
            if p.is_dir():
                raise IsADirectoryError(21, "Is a directory", str(p))
            before[p] = _read(p)
        done: list[Path] = []
        made: list[Path] = []  # folders made for new files, removed again on a put-back
        try:
            for p, text in result.items():
                done.append(p)
                if text is None:
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
                    continue
                missing = [d for d in p.parents if not d.exists()]
                p.parent.mkdir(parents=True, exist_ok=True)
                made.extend(missing)  # deepest first
                bom = _BOM if (before[p] or b"").startswith(_BOM) else b""
                _write(p, bom + text.encode("utf-8"))
        except OSError:
            for p in reversed(done):
                old = before[p]
                with contextlib.suppress(OSError):
                    if old is None:
                        p.unlink(missing_ok=True)
                    else:
                        _write(p, old)
            for d in sorted(made, key=lambda d: len(d.parts), reverse=True):
                with contextlib.suppress(OSError):
                    d.rmdir()  # only an empty one
            raise
