"""Rewrite imports and references written against the module names before #31 (see MOVES.txt).

    python changes/rewrite_moves.py                 # every tracked *.py and *.md file
    python changes/rewrite_moves.py a.py b.md ...   # just these

Idempotent: new names are left alone, so it can run on a tree that is half moved (after
`git merge main`). It rewrites dotted module names (imports, monkeypatch strings, docs), splits
`from planfirst.core import a, b` and `from planfirst.llm.scripted import ...` by where each
name lives now, fixes `core/<old>.py` and `tests/<helper>.py` paths and the bare
`from llm_helpers import`. Run `ruff check --fix` and `ruff format` after it (import order), then
tests/test_layers.py. Delete this file once every branch has merged main.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MOVES: dict[str, str] = {}  # whole modules
MOVED_NAMES: dict[tuple[str, str], str] = {}  # (module now, name) -> the module it moved to
for line in (HERE / "MOVES.txt").read_text(encoding="utf-8").splitlines():
    m = re.fullmatch(r"([\w.]+) -> ([\w.]+)", line.strip())
    if m and "." in m.group(1):
        old, new = m.groups()
        if old.count(".") <= 2 or old.startswith("tests."):
            MOVES[old] = new
        else:
            module, _, name = old.rpartition(".")
            MOVED_NAMES[(module, name)] = new.rpartition(".")[0]
MOVED_NAMES = {(MOVES.get(m, m), n): new for (m, n), new in MOVED_NAMES.items()}

# What the scripted server's names became (the package split of #31).
SCRIPTED_SCRIPT = {"ScriptError", "load_script", "load_models", "Script", "ScriptSource"}
HELPERS = sorted(o.split(".", 1)[1] for o in MOVES if o.startswith("tests."))
# Modules of the new sub-packages (moved or added since): a name after an old module that is now
# a package (`planfirst.core.planning.context`, `from planfirst.core.problems import board`).
CORE = HERE.parent / "server" / "planfirst" / "core"
NEW_LEAVES = sorted(
    {n.rsplit(".", 1)[1] for n in MOVES.values()} | {p.stem for p in CORE.glob("*/*.py")}
)

_DOTTED = re.compile(
    r"(?<![\w.])("
    + "|".join(re.escape(o) for o in sorted(MOVES, key=len, reverse=True))
    + r")\b(?!\.(?:"
    + "|".join(NEW_LEAVES)
    + r")\b| import (?:"
    + "|".join(NEW_LEAVES)
    + r")\b)"
)
_PATHS = {
    "core/" + o.split(".")[-1] + ".py": "core/" + "/".join(n.split(".")[2:]) + ".py"
    for o, n in MOVES.items()
    if o.startswith("planfirst.core.")
} | {f"tests/{h}.py": f"tests/support/{h}.py" for h in HELPERS}
_PATH_RE = re.compile(
    r"(?<![\w])(" + "|".join(re.escape(p) for p in sorted(_PATHS, key=len, reverse=True)) + r")"
)
_BARE = re.compile(r"^(\s*)from (" + "|".join(HELPERS) + r") import", re.M)


def _split_imports(text: str) -> str:
    """`from planfirst.core import a, b` and `from planfirst.llm.scripted import ...`: one
    import per module each name lives in now."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    lines = text.splitlines(keepends=True)
    edits = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.level == 0):
            continue
        if node.module == "planfirst.core":
            where = {a.name: MOVES.get(f"planfirst.core.{a.name}") for a in node.names}
            if None in where.values():
                continue  # already a sub-package import
        elif node.module == "planfirst.llm.scripted":
            where = {
                a.name: "planfirst.llm.scripted."
                + ("script" if a.name in SCRIPTED_SCRIPT else "server")
                + "."
                + a.name
                for a in node.names
            }
        elif any((MOVES.get(node.module, node.module), a.name) in MOVED_NAMES for a in node.names):
            now = MOVES.get(node.module, node.module)
            where = {a.name: MOVED_NAMES.get((now, a.name), now) + "." + a.name for a in node.names}
        else:
            continue
        groups: dict[str, list[str]] = {}
        for a in node.names:
            target = where[a.name]
            assert target is not None
            package, _, name = target.rpartition(".")
            alias = a.asname or (a.name if name != a.name else None)
            groups.setdefault(package, []).append(
                name + (f" as {alias}" if alias and alias != name else "")
            )
        indent = lines[node.lineno - 1][: node.col_offset]
        new = "".join(
            (indent if i else "") + f"from {pkg} import {', '.join(names)}\n"
            for i, (pkg, names) in enumerate(groups.items())
        )
        edits.append((node.lineno, node.end_lineno or node.lineno, node.col_offset, new))
    for start, end, col, new in sorted(edits, reverse=True):
        lines[start - 1 : end] = [lines[start - 1][:col] + new]
    return "".join(lines)


def rewrite(text: str, python: bool) -> str:
    """The text with every old name and path replaced by its new one."""
    if python:
        text = _split_imports(text)
        text = _BARE.sub(lambda m: f"{m.group(1)}from tests.support.{m.group(2)} import", text)
    text = _DOTTED.sub(lambda m: MOVES[m.group(1)], text)
    return _PATH_RE.sub(lambda m: _PATHS[m.group(1)], text)


def main(argv: list[str]) -> int:
    files = (
        argv
        or subprocess.run(
            ["git", "ls-files", "*.py", "*.md"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    changed = 0
    for name in files:
        path = Path(name)
        if path.resolve() == Path(__file__).resolve() or path.name in ("CHANGELOG.md", "MOVES.txt"):
            continue
        text = path.read_text(encoding="utf-8")
        new = rewrite(text, path.suffix == ".py")
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
            print(f"rewrote {name}")
    print(f"{changed} file(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
