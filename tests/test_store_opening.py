"""Every face opens a workspace's plan store one way: `core/workspace/opening.py`, the function the
Session uses (#31). The terminal (`planfirst run`/`resume`) reads the plans its server wrote from
the same settings the server reads, so a custom `plansDir`, a refused one and a planted link
come out the same in both."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.workspace.opening import open_store
from planfirst.lsp.app import create_server, start_session
from planfirst.lsp.server import PlanfirstServer
from planfirst.plan.store import PlanStore, StoreError
from planfirst.settings import DEFAULT_PLANS_DIR, Settings, load_settings
from planfirst.terminal.app import Terminal

PACKAGE = Path(__file__).resolve().parents[1] / "server" / "planfirst"
OPENING = PACKAGE / "core" / "workspace" / "opening.py"


class _Writer:
    """Where the in-process server's messages go (window/showMessage kept for the test)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        pass


def _lsp(root: Path, *layers: Any) -> tuple[PlanfirstServer, _Writer]:
    """The language server's session for `root`, its settings pulled as on `initialized` (the
    workspace/configuration layers given)."""
    server = create_server()
    writer = _Writer()
    server.protocol.set_writer(writer)
    server.root = root.resolve()  # as lsp/app.py's _root_of gives it
    server.apply_settings(*layers)
    start_session(server)
    return server, writer


def _terminal(root: Path) -> Terminal:
    return Terminal(argparse.Namespace(workspace=str(root), yes=True, script=None, mode="run"))


def _stores(root: Path) -> tuple[PlanStore, PlanStore]:
    server, _ = _lsp(root)
    assert server.session is not None
    return _terminal(root)._store(), server.session.store


def test_no_face_constructs_a_plan_store_itself() -> None:
    """Only core/workspace/opening.py calls PlanStore(...) (plan/store.py defines it)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in (OPENING, PACKAGE / "plan" / "store.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name == "PlanStore":
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []


def test_the_terminal_and_the_lsp_session_open_the_same_custom_plans_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"  # the workspace named through a link: both resolve it
    link.symlink_to(real, target_is_directory=True)
    monkeypatch.setenv("PLANFIRST_PLANS_DIR", "team/plans/")
    term, lsp = _stores(link)
    assert term.plans_dir == lsp.plans_dir == real / "team" / "plans"
    assert term.root == lsp.root == real
    # a plan the server's store writes is the one the terminal's store reads
    (real / "team" / "plans").mkdir(parents=True)
    assert term.list() == ([], []) == lsp.list()


def test_a_workspace_layer_places_the_lsp_store_where_open_store_does(tmp_path: Path) -> None:
    layer = {"planfirst": {"plansDir": "docs/plans"}}
    server, _ = _lsp(tmp_path, layer)
    assert server.session is not None
    assert server.session.store.plans_dir == tmp_path.resolve() / "docs" / "plans"
    expected = open_store(tmp_path, load_settings(None, layer)[0]).plans_dir
    assert server.session.store.plans_dir == expected
    assert server.session.guard.plans_dir == "docs/plans"  # the guard hides the same folder


@pytest.mark.parametrize("hostile", ["../outside", ".git/plans", ".planfirst/other", "/etc"])
def test_a_hostile_plans_dir_is_refused_the_same_way_in_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: str
) -> None:
    monkeypatch.setenv("PLANFIRST_PLANS_DIR", hostile)
    term, lsp = _stores(tmp_path)
    assert term.plans_dir == lsp.plans_dir == tmp_path.resolve() / DEFAULT_PLANS_DIR
    monkeypatch.delenv("PLANFIRST_PLANS_DIR")
    server, writer = _lsp(tmp_path, {"planfirst": {"plansDir": hostile}})  # from a workspace
    assert server.session is not None
    assert server.session.store.plans_dir == tmp_path.resolve() / DEFAULT_PLANS_DIR
    assert b"plansDir" in b"".join(writer.sent)  # the user is told why


def test_settings_made_without_validation_cannot_open_a_store_outside(tmp_path: Path) -> None:
    """A `Settings` built with model_construct skips the plansDir check; opening refuses it."""
    bad = Settings.model_construct(plans_dir="../outside")
    with pytest.raises(StoreError) as e:
        open_store(tmp_path, bad)
    assert e.value.code == "plans_dir" and "'..'" in e.value.message


def test_a_planted_link_as_plans_dir_is_refused_by_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    (outside / "p1").mkdir(parents=True)
    ws = tmp_path / "ws"
    (ws / "team").mkdir(parents=True)
    (ws / "team" / "plans").symlink_to(outside, target_is_directory=True)
    monkeypatch.setenv("PLANFIRST_PLANS_DIR", "team/plans")
    term, lsp = _stores(ws)
    for store in (term, lsp):
        plans, problems = store.list()
        assert plans == [] and len(problems) == 1
        assert "link" in problems[0].error


def test_a_plans_dir_from_the_editors_workspace_settings_reaches_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`plansDir` set only in the editor's workspace settings (workspace/configuration) was
    invisible to `planfirst run`, `plans` and `diff`, which read the environment: they looked in
    .planfirst/plans and found nothing. The language server records the folder it uses in
    `.planfirst/plans-dir`; a face without an editor reads it when its environment names none."""
    from planfirst.cli import main

    monkeypatch.delenv("PLANFIRST_PLANS_DIR", raising=False)
    layer = {"planfirst": {"plansDir": "docs/plans"}}
    server, _ = _lsp(tmp_path, layer)
    assert server.session is not None
    from tests.support.plan_fixtures import make_plan

    plan = make_plan()
    server.session.store.save(plan)
    assert (tmp_path / ".planfirst" / "plans-dir").read_text() == "docs/plans\n"
    assert _terminal(tmp_path)._store().plans_dir == server.session.store.plans_dir
    assert main(["plans", "--workspace", str(tmp_path)]) == 0
    assert plan.id in capsys.readouterr().out
    # the environment still wins: it is what the user set for this terminal
    monkeypatch.setenv("PLANFIRST_PLANS_DIR", "other/plans")
    assert _terminal(tmp_path)._store().plans_dir == tmp_path.resolve() / "other" / "plans"
    monkeypatch.delenv("PLANFIRST_PLANS_DIR")
    # back to the default in the editor: recorded too
    server.apply_settings({})
    assert (tmp_path / ".planfirst" / "plans-dir").read_text() == f"{DEFAULT_PLANS_DIR}\n"
    assert _terminal(tmp_path)._store().plans_dir == tmp_path.resolve() / DEFAULT_PLANS_DIR


@pytest.mark.parametrize(
    "shipped", ["../outside\n", ".git/plans\n", "x" * 5000, "\x00\n", "docs/plans\n.git\n"]
)
def test_a_shipped_plans_dir_record_is_checked_like_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped: str
) -> None:
    monkeypatch.delenv("PLANFIRST_PLANS_DIR", raising=False)
    (tmp_path / ".planfirst").mkdir()
    (tmp_path / ".planfirst" / "plans-dir").write_text(shipped)
    assert _terminal(tmp_path)._store().plans_dir == tmp_path.resolve() / DEFAULT_PLANS_DIR


def test_a_plans_dir_record_behind_a_link_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLANFIRST_PLANS_DIR", raising=False)
    (tmp_path / ".planfirst").mkdir()
    outside = tmp_path.parent / f"{tmp_path.name}-pointer"
    outside.write_text("docs/plans\n")
    (tmp_path / ".planfirst" / "plans-dir").symlink_to(outside)
    assert _terminal(tmp_path)._store().plans_dir == tmp_path.resolve() / DEFAULT_PLANS_DIR
