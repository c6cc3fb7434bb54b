"""The import layers of server/planfirst, read from the source with ast (nothing is imported).

From the bottom: settings, plan/ and llm/; then the core's sub-packages in LAYERS order; then the
faces (lsp/, acp/, terminal, cli). A module may import its own layer and the layers below it,
never one above; the core, plan/ and llm/ never import a face or an editor protocol library; and
no modules import each other in a circle at run time, imports inside functions included.
`if TYPE_CHECKING:` imports count for the layers (a type is a dependency too) but not for the
run-time cycles; the type-level circles that remain are an explicit, shrinking allow-list.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SERVER = Path(__file__).resolve().parents[1] / "server"
CORE = SERVER / "planfirst" / "core"

# The core's sub-packages, lowest first: each may import only itself and the ones before it.
LAYERS = ["workspace", "commands", "problems", "editing", "planning", "workflow"]
# What sits below the core and must never import it.
BELOW_CORE = {"settings", "plan", "llm"}
# The faces: they drive the core; nothing below them imports them.
FACES = {"lsp", "acp", "terminal", "cli", "__main__"}
# Libraries that belong to a face (the editor protocols).
FACE_LIBRARIES = {"pygls", "lsprotocol", "acp"}

# Circles through `if TYPE_CHECKING:` imports only (no run-time cycle). Each is a module that
# takes a whole object from the layer that calls it (the Session, the language server) for its
# type. This list may only shrink: narrowing those parameters removes a circle; a new one fails.
KNOWN_TYPE_CYCLES: list[set[str]] = [
    # functions that save, load or hold the plan take the whole Session; the rest take the
    # narrow WorkspaceAccess (core/workflow/contracts.py) or the one part they use
    {
        "planfirst.core.workflow.budget",
        "planfirst.core.workflow.checks",
        "planfirst.core.workflow.late_apply",
        "planfirst.core.workflow.plans",
        "planfirst.core.workflow.review",
        "planfirst.core.workflow.revisions",
        "planfirst.core.workflow.session",
        "planfirst.core.workflow.stepper",
        "planfirst.core.workflow.undo",
    },
    # walk_files takes the WorkspaceGuard whose walk() calls it
    {"planfirst.core.workspace.paths", "planfirst.core.workspace.walk"},
    # the lsp helpers take the whole PlanfirstServer (resolved client capabilities end it)
    {
        "planfirst.lsp.host",
        "planfirst.lsp.preview",
        "planfirst.lsp.server",
    },
    {"planfirst.lsp.app", "planfirst.lsp.features"},
]


@dataclass(frozen=True)
class Import:
    """One import of a planfirst module (or a library) by a module."""

    target: str  # the dotted module imported (a planfirst module, or a top-level library name)
    line: int
    where: str  # "top", "function" or "type" (under `if TYPE_CHECKING:`)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVER).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(SERVER.rglob("*.py"))}


def _resolve(module: str, names: list[str]) -> list[str]:
    """The planfirst modules `from module import names` loads (submodules named count)."""
    out = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
    while module and module not in MODULES:
        module = module.rpartition(".")[0]
    return [*out, module] if module else out


def _imports(path: Path) -> list[Import]:
    return _imports_in(path.read_text(encoding="utf-8"), str(path))


def _dynamic_target(node: ast.AST) -> str | None:
    """`importlib.import_module("x")` or `__import__("x")` with a literal name: an import too."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    value = node.args[0].value
    return value if name in ("import_module", "__import__") and isinstance(value, str) else None


def _imports_in(source: str, where_from: str) -> list[Import]:
    out: list[Import] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and where == "top":
                inner = "function"
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = "type"
            if isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                if child.module.split(".")[0] == "planfirst":
                    names = [a.name for a in child.names]
                    for target in _resolve(child.module, names):
                        out.append(Import(target, child.lineno, inner))
                else:
                    out.append(Import(child.module.split(".")[0], child.lineno, inner))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "planfirst":
                        for target in _resolve(alias.name, []):
                            out.append(Import(target, child.lineno, inner))
                    else:
                        out.append(Import(alias.name.split(".")[0], child.lineno, inner))
            dynamic = _dynamic_target(child)
            if dynamic is not None:
                top = dynamic.split(".")[0]
                for target in _resolve(dynamic, []) if top == "planfirst" else [top]:
                    out.append(Import(target, getattr(child, "lineno", 0), inner))
            assert not (isinstance(child, ast.ImportFrom) and child.level), (
                f"{where_from}: relative import"
            )
            visit(child, inner)

    visit(ast.parse(source), "top")
    return out


IMPORTS: dict[str, list[Import]] = {m: _imports(p) for m, p in MODULES.items()}


def _area(module: str) -> str:
    """planfirst.core.workflow.session -> "core"; planfirst.lsp.server -> "lsp"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _core_layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "core":
        return LAYERS.index(parts[2])
    return None


def _edges(kinds: set[str]) -> dict[str, set[str]]:
    """module -> the planfirst modules it imports (a package's own __init__ is not an edge)."""
    return {
        m: {
            i.target
            for i in imps
            if i.where in kinds
            and i.target in MODULES
            and i.target != m
            and not m.startswith(i.target + ".")
        }
        for m, imps in IMPORTS.items()
    }


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(edges[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.add(w)
                    if w == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_the_scan_sees_the_code() -> None:
    """The checks below read real imports (an empty scan would pass them all)."""
    assert len(MODULES) > 100
    session = IMPORTS["planfirst.core.workflow.session"]
    assert any(i.target == "planfirst.core.workflow.stepper" and i.where == "top" for i in session)
    assert any(i.where == "function" for imps in IMPORTS.values() for i in imps)
    assert any(i.where == "type" for imps in IMPORTS.values() for i in imps)


def test_every_core_module_is_in_a_layer() -> None:
    flat = sorted(p.name for p in CORE.glob("*.py") if p.name != "__init__.py")
    assert flat == [], f"core modules outside the layer packages: {flat}"
    packages = sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").is_file())
    assert packages == sorted(LAYERS)


def test_no_core_import_goes_up_a_layer() -> None:
    bad = []
    for module, imps in IMPORTS.items():
        mine = _core_layer(module)
        if mine is None:
            continue
        for i in imps:
            theirs = _core_layer(i.target)
            if theirs is not None and theirs > mine:
                bad.append(f"{module}:{i.line} imports {i.target} ({i.where})")
    assert bad == [], "imports up a layer (LAYERS in tests/test_layers.py):\n" + "\n".join(bad)


def test_below_the_core_never_imports_the_core_or_a_face() -> None:
    bad = [
        f"{module}:{i.line} imports {i.target}"
        for module, imps in IMPORTS.items()
        if _area(module) in BELOW_CORE
        for i in imps
        if _area(i.target) in ({"core"} | FACES) and i.target.startswith("planfirst.")
    ]
    assert bad == []


def test_core_plan_and_llm_never_import_a_face_or_its_protocol_library() -> None:
    bad = [
        f"{module}:{i.line} imports {i.target}"
        for module, imps in IMPORTS.items()
        if _area(module) in BELOW_CORE | {"core"}
        for i in imps
        if (i.target.startswith("planfirst.") and _area(i.target) in FACES)
        or i.target in FACE_LIBRARIES
    ]
    assert bad == []


# The protocol faces stay apart: the language server, the ACP agent and the terminal client do not
# import one another (cli.py, the entry point, starts each). Known exceptions, to shrink:
FACE_OF = {"lsp": "lsp", "acp": "acp", "terminal": "terminal"}
KNOWN_FACE_IMPORTS = {
    # JSON-RPC message vetting shared by both protocol faces; it belongs below them
    ("planfirst.acp.framing", "planfirst.lsp.framing"),
}


def test_a_face_does_not_import_another_face() -> None:
    bad = [
        f"{module}:{i.line} imports {i.target}"
        for module, imps in IMPORTS.items()
        if _area(module) in FACE_OF
        for i in imps
        if i.target.startswith("planfirst.")
        and _area(i.target) in FACES
        and FACE_OF.get(_area(i.target)) != FACE_OF[_area(module)]
        and (module, i.target) not in KNOWN_FACE_IMPORTS
    ]
    assert bad == []


def test_no_import_cycle_at_run_time() -> None:
    """Module-level and function-level imports: a local import does not hide a circle."""
    assert _cycles(_edges({"top", "function"})) == []


def test_type_level_cycles_only_shrink() -> None:
    """With `if TYPE_CHECKING:` imports, every circle lies inside one that is allow-listed."""
    new = [
        sorted(c)
        for c in _cycles(_edges({"top", "function", "type"}))
        if not any(c <= known for known in KNOWN_TYPE_CYCLES)
    ]
    assert new == [], "a new import circle (break it; do not extend KNOWN_TYPE_CYCLES)"


def test_the_allow_listed_cycles_are_still_cycles() -> None:
    """A module whose circle was broken leaves KNOWN_TYPE_CYCLES, so the list keeps shrinking."""
    now = set().union(*_cycles(_edges({"top", "function", "type"})))
    stale = sorted(m for known in KNOWN_TYPE_CYCLES for m in known if m not in now)
    assert stale == [], "no longer in an import circle: remove from KNOWN_TYPE_CYCLES"


def test_the_cycle_finder_finds_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(edges) == [{"a", "b", "c"}]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_scan_sees_every_kind_of_import() -> None:
    source = (
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "import pygls.server\n"
        "if TYPE_CHECKING:\n"
        "    from planfirst.lsp.server import PlanfirstServer\n"
        "def f():\n"
        "    from planfirst.core.workflow import session\n"
        "    importlib.import_module('planfirst.acp.agent')\n"
        "    __import__('lsprotocol')\n"
    )
    got = {(i.target, i.where) for i in _imports_in(source, "<test>")}
    assert got >= {
        ("pygls", "top"),
        ("planfirst.lsp.server", "type"),
        ("planfirst.core.workflow.session", "function"),
        ("planfirst.acp.agent", "function"),
        ("lsprotocol", "function"),
    }


# "About 400 lines" (issue 31): a core module past this is split by concern, as #16 did.
MAX_CORE_LINES = 450


def test_no_core_module_is_a_monolith() -> None:
    sizes = {
        p.relative_to(CORE).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for p in CORE.rglob("*.py")
    }
    long = {name: n for name, n in sizes.items() if n > MAX_CORE_LINES}
    assert long == {}, f"split these by concern: {long}"
