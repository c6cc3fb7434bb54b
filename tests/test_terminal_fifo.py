"""`planfirst run`'s editor never blocks on a FIFO in a step file's place (a test or build of an
earlier step can leave one there): the preview refuses the edit, naming the file; the write
never reads or writes one either. Nothing else of the edit is written."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest
from lsprotocol import types

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")


def _unblock(fifo: Path) -> None:
    """Open the FIFO's other end so a reader stuck on it returns (the test then fails, not hangs)."""
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.close(fd)


def _run_bounded(fn, fifo: Path) -> BaseException | None:  # type: ignore[no-untyped-def]
    caught: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as e:
            caught.append(e)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():
        _unblock(fifo)
        t.join(10)
        pytest.fail("the terminal editor blocked on a FIFO")
    return caught[0] if caught else None


def _edit(uri: str, text: str) -> types.WorkspaceEdit:
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                edits=[
                    types.TextEdit(
                        range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                        new_text=text,
                    )
                ],
            )
        ]
    )


def test_preview_of_an_edit_to_a_fifo_is_refused_not_blocked(tmp_path: Path) -> None:
    from planfirst.terminal.editor import TerminalEditor

    root = tmp_path / "ws"
    root.mkdir()
    fifo = root / "mod.py"
    os.mkfifo(fifo)
    ed = TerminalEditor(root, yes=True, out=io.StringIO())
    err = _run_bounded(lambda: ed.preview(_edit(fifo.as_uri(), "x = 1\n")), fifo)
    assert isinstance(err, OSError), err
    assert err.filename == str(fifo) and "not a regular file" in str(err)


def test_write_over_a_fifo_changes_nothing(tmp_path: Path) -> None:
    """A FIFO made in a file's place between the preview and the answer: nothing is written."""
    from planfirst.terminal.editor import TerminalEditor

    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("old a\n")
    fifo = root / "b.py"
    os.mkfifo(fifo)
    ed = TerminalEditor(root, yes=True, out=io.StringIO())
    err = _run_bounded(lambda: ed.write({root / "a.py": "new a\n", fifo: "new b\n"}), fifo)
    assert isinstance(err, OSError), err
    assert (root / "a.py").read_text() == "old a\n"
