"""QA (orders users really do things in, against this round's fixes): the terminal's preview and
write of a step's files, the validation policy of `python -m pytest` in common project layouts,
and what each face offers on a plan whose every step is done but which is not finished."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.commands.argv_rules import Workspace
from planfirst.core.commands.command_policy import CommandPolicy
from planfirst.core.editing.executor import FileChange, ProposedChange
from planfirst.core.workflow import checks, fsio
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.lsp import plan_docs
from planfirst.lsp.convert import workspace_edit
from planfirst.terminal.editor import TerminalEditor
from tests.reliability.test_step_edge_cases import done, edit, plan_turn
from tests.support.disk_full import disk_full
from tests.support.plan_fixtures import DIAGNOSIS, failing_criteria
from tests.test_qa4_orders import SLUG, Start, start  # noqa: F401  (the fixture)
from tests.test_qa6_orders import S1


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


def _policy(root: Path) -> CommandPolicy:
    """The validation policy of a step run in `root` (checks.run_commands)."""
    return CommandPolicy(["python", "pytest"], Workspace(root, checks.command_env(root)))


def test_python_m_pytest_in_a_project_with_a_test_package_runs_without_asking(
    tmp_path: Path,
) -> None:
    """A project keeps its tests in `test/` with an `__init__.py` (a common layout); every step
    validates with `python -m pytest -q`. The standard `test` package (CPython's own regression
    tests) is one no tool imports, yet since the interpreter is asked what it finds, the user was
    asked to confirm the command at every step and again for the test criteria."""
    root = tmp_path.resolve()
    (root / "test").mkdir()
    (root / "test" / "__init__.py").write_text("")
    (root / "test" / "test_app.py").write_text("def test_ok():\n    pass\n")
    decision = _policy(root).decide("python -m pytest -q")
    assert decision.allowed, decision.reason


def test_python_m_pytest_in_a_project_installed_in_its_own_venv_runs_without_asking(
    tmp_path: Path,
) -> None:
    """A project with its package at the root (`mypkg/`), installed editable in its own `.venv`
    (`pip install -e .` with hatchling, poetry, pdm or flit writes a .pth naming the project
    folder). Every `python -m pytest` step asked: the interpreter "finds mypkg installed" — the
    very folder the working directory would import, so nothing is replaced."""
    root = tmp_path.resolve()
    (root / "mypkg").mkdir()
    (root / "mypkg" / "__init__.py").write_text("")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", ".venv"],
        cwd=root,
        check=True,
    )
    (site,) = (root / ".venv").glob("lib/python3*/site-packages")
    (site / "_mypkg.pth").write_text(f"{root}\n")
    decision = _policy(root).decide("python -m pytest -q")
    assert decision.allowed, decision.reason
    # a root module that really replaces one the interpreter has still asks
    (root / "email.py").write_text("")
    assert not _policy(root).decide("python -m pytest -q").allowed


class _Server:
    """What the plan document's code lenses read of the language server."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def plan_id_from_uri(self, uri: str) -> str | None:
        return uri


def _lens_titles(s: Any, plan_id: str) -> list[tuple[str, str]]:
    lenses = plan_docs.code_lenses(_Server(s), plan_id)  # type: ignore[arg-type]
    return [(lens.command.title, lens.command.command) for lens in lenses if lens.command]


async def test_plan_document_offers_to_finish_a_plan_whose_steps_are_all_done(
    start: Start,  # noqa: F811
) -> None:
    """The criteria failed; the user revises only them and approves. The status bar, palette,
    title bar and Plans view offer "Finish the plan: run its test criteria", but the plan
    document's lenses (the only way in Neovim, Emacs, Helix…) offered no Execute at all: just
    Revise, and Undo on the step."""
    s, _ = start(
        [
            failing_criteria(plan_turn([S1])),
            edit("textkit/slug.py", SLUG, '"""URL slugs (one)."""\n'),
            done(),
            DIAGNOSIS,
            plan_turn([S1]),
        ]
    )
    plan = await s.generate("say (one)")
    await s.approve(plan.id)
    await s.execute_next(plan.id)
    failed = _lens_titles(s, plan.id)
    assert ("▶ Finish the plan: run its test criteria", "planfirst.executeNextStep") in failed
    await s.revise(plan.id, "name an existing test file")
    assert not any("Finish" in t for t, _ in _lens_titles(s, plan.id))  # a draft: Approve first
    await s.approve(plan.id)
    titles = _lens_titles(s, plan.id)
    assert titles[0] == ("▶ Finish the plan: run its test criteria", "planfirst.executeNextStep")
    assert (await s.execute_next(plan.id)).status.value == "done"
    assert not any("Finish" in t for t, _ in _lens_titles(s, plan.id))  # done: nothing to run


def test_terminal_write_put_back_removes_the_folders_it_made(tmp_path: Path) -> None:
    """`planfirst run`: a step creates pkg/sub/new.py and rewrites big.py; the disk fills up
    while big.py is written. The write is put back whole ("no file of this edit was changed")
    but pkg/sub/, made for the new file, stayed behind, empty."""
    root = tmp_path.resolve()
    (root / "big.py").write_text("old\n")
    ed = TerminalEditor(root, yes=True, out=io.StringIO())
    with disk_full(1000), pytest.raises(OSError):
        ed.write({root / "pkg" / "sub" / "new.py": "x = 1\n", root / "big.py": "y\n" * 2000})
    assert sorted(p.name for p in root.iterdir()) == ["big.py"]
    assert (root / "big.py").read_text() == "old\n"
