"""QA (orders users really do things in, against this round's fixes): the terminal's preview and
write of a step's files, the validation policy of `python -m pytest` in common project layouts,
and what each face offers on a plan whose every step is done but which is not finished."""

from __future__ import annotations

import io
from pathlib import Path

from planfirst.core.editing.executor import FileChange, ProposedChange
from planfirst.core.workflow import fsio
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.lsp.convert import workspace_edit
from planfirst.terminal.editor import TerminalEditor


def _terminal_step(root: Path, rel: str, new: str) -> str:
    """What `planfirst run` does with a step's edit of `rel`: the server computes the edit
    against the text it reads (fsio.read_disk), the terminal previews it and writes it."""
    old = fsio.read_disk(WorkspaceGuard(root), rel)
    change = ProposedChange(files=[FileChange(rel, old, new)])
    edit = workspace_edit(
        change,
        root,
        label="step 1",
        description="",
        versions={},
        encoding="utf-16",
        annotations=False,
        document_changes=True,
    )
    ed = TerminalEditor(root, yes=True, out=io.StringIO())
    diff, result = ed.preview(edit)
    ed.write(result)
    return diff


def test_terminal_edit_of_the_first_line_of_a_file_with_a_bom(tmp_path: Path) -> None:
    """A step changes `a = 1` to `a = 9` on the first line of a UTF-8 file with a BOM, run from
    `planfirst run`. The server does not count the BOM in positions (editors do not), the
    terminal did: the edit landed one column early and the file read `a =91`."""
    root = tmp_path.resolve()
    (root / "bom.py").write_bytes(b"\xef\xbb\xbfa = 1\nb = 2\n")
    diff = _terminal_step(root, "bom.py", "a = 9\nb = 2\n")
    assert (root / "bom.py").read_bytes() == b"\xef\xbb\xbfa = 9\nb = 2\n"
    assert "+a = 9" in diff.replace("\ufeff", "")
