"""lsp/ is wired by one composition root (lsp/app.py), with no run-time import circle, and the
client's capabilities are resolved once at `initialize` (issue #31)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from planfirst.lsp.capabilities import ResolvedClientCapabilities
from tests.support.lsp_harness import capabilities, real_profile

LSP = Path(__file__).resolve().parents[1] / "server" / "planfirst" / "lsp"


def _runtime_imports(path: Path) -> set[str]:
    """planfirst.lsp modules `path` imports when it runs (function-level imports included,
    `if TYPE_CHECKING:` blocks left out)."""
    deps: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module == "planfirst.lsp":
                deps.update(f"planfirst.lsp.{a.name}" for a in node.names)
            elif node.module and node.module.startswith("planfirst.lsp."):
                deps.add(node.module)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return deps


def test_no_runtime_import_circle_in_lsp() -> None:
    graph = {f"planfirst.lsp.{p.stem}": _runtime_imports(p) for p in LSP.glob("*.py")}
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for dep in graph.get(node, ()):
                assert dep != start, "import circle: " + " -> ".join([*path, dep])
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, [*path, dep]))


def test_server_module_imports_no_feature() -> None:
    assert _runtime_imports(LSP / "server.py") <= {
        "planfirst.lsp.pygls_compat",
        "planfirst.lsp.capabilities",
        "planfirst.lsp.callbacks",
        "planfirst.lsp.convert",
    }


def test_resolved_capabilities_of_real_editors() -> None:
    nvim, _ = real_profile("nvim-0.7")
    got = ResolvedClientCapabilities.resolve(nvim)
    # Neovim lists resource operations but never declares documentChanges: implied
    assert got.document_changes and "create" in got.resource_operations
    assert not got.show_document and not got.content_documents and not got.change_annotations
    assert not got.saves_documents and not got.notices
    eglot, _ = real_profile("eglot-1.9")
    e = ResolvedClientCapabilities.resolve(eglot)
    assert not e.progress and not e.show_document
    vs = ResolvedClientCapabilities.resolve(
        capabilities("vscode"),
        None,
    )
    assert vs.content_documents and vs.show_document and vs.change_annotations
    assert vs.saves_documents and vs.notices and vs.code_lens_refresh and vs.progress


@pytest.mark.parametrize(
    "experimental", [None, [], {"planfirst": "yes"}, {"planfirst": {"notices": "true"}}]
)
def test_odd_experimental_capabilities_resolve_to_no(experimental: object) -> None:
    from lsprotocol import types

    got = ResolvedClientCapabilities.resolve(types.ClientCapabilities(experimental=experimental))
    assert not got.saves_documents and not got.notices


def test_a_selection_is_read_with_the_guard_alone(tmp_path: Path) -> None:
    """generatePlan's selection and files need the workspace's path guard, not the Session."""
    from pygls.exceptions import JsonRpcInvalidParams

    from planfirst.core.workspace.path_syntax import PathError
    from planfirst.core.workspace.paths import WorkspaceGuard
    from planfirst.lsp.features import _selection

    guard = WorkspaceGuard(tmp_path)
    uri = (tmp_path / "src" / "a.py").as_uri()
    rng = {"start": {"line": 2, "character": 0}, "end": {"line": 4, "character": 1}}
    selection, files = _selection(guard, {"uri": uri, "range": rng, "files": ["b.py"]})
    assert selection is not None
    assert (selection.path, selection.start_line, selection.end_line) == ("src/a.py", 2, 4)
    assert files == ["b.py"]
    assert _selection(guard, {"uri": uri}) == (None, ["src/a.py"])
    with pytest.raises(PathError):  # outside the workspace: refused by the guard
        _selection(guard, {"files": [str(tmp_path.parent / "elsewhere.py")]})
    backwards = {"start": {"line": 4, "character": 0}, "end": {"line": 2, "character": 0}}
    with pytest.raises(JsonRpcInvalidParams, match="range end is before its start"):
        _selection(guard, {"uri": uri, "range": backwards})
