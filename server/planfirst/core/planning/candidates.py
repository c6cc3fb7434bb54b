"""Which workspace files a task leads to: files it names, what they import (Python, JS/TS), nearby tests.

Pure functions over walked paths; context.py decides what of it is sent.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Container, Sequence

from planfirst.core.workspace.path_syntax import PathError
from planfirst.core.workspace.paths import WorkspaceGuard

_PY_EXT = (".py", ".pyi")
_JS_EXT = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_JS_RESOLVE = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".d.ts")
_EXTENSIONLESS = frozenset(
    {"Makefile", "Dockerfile", "Justfile", "Procfile", "Gemfile", "Rakefile"}
)


# ---------------------------------------------------------------- finding candidates


_WORD = re.compile(r"[A-Za-z0-9_./@+~-]+")


def files_named_in(
    task: str, walked: Sequence[str], exists: set[str], guard: WorkspaceGuard
) -> list[str]:
    """Workspace files the task text names: full paths, path suffixes or bare file names."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for p in walked:
        by_name[p.rpartition("/")[2]].append(p)
    found: list[str] = []
    for raw in _WORD.findall(task.replace("`", " ")):
        tok = raw.rstrip(".,:;!?-")
        while tok.startswith("./"):
            tok = tok[2:]
        if not tok or ("." not in tok and "/" not in tok and tok not in _EXTENSIONLESS):
            continue
        if tok in exists:
            found.append(tok)
            continue
        if "/" not in tok and tok in by_name:
            found.extend(by_name[tok][:3])
            continue
        if "/" in tok:
            tail = "/" + tok.lstrip("/")
            hits = [p for p in walked if p.endswith(tail)]
            if hits:
                found.extend(hits[:3])
                continue
        # Named but not walkable: a secret or ignored file. Keep it so that the cut is reported.
        try:
            real, rel, _ = guard.locate(tok)
        except PathError:
            continue
        if real.is_file():
            found.append(rel)
    return list(dict.fromkeys(found))


_PY_ANY = re.compile(
    r"^[ \t]*(?:import[ \t]+(?P<plain>[\w. \t,]+)"
    r"|from[ \t]+(?P<dots>\.*)(?P<mod>[\w.]*)[ \t]+import[ \t]+(?P<names>\([^()]*\)|[^\n#;]*))",
    re.MULTILINE,
)
_JS_SPEC = re.compile(
    r"""(?:\bfrom|\bimport|\brequire\s*\(|\bimport\s*\()\s*(['"])(\.{1,2}/[^'"\n]*|\.{1,2})\1"""
)


def python_imports(path: str, text: str, exists: Container[str]) -> list[str]:
    """Workspace files a Python file imports (absolute, `from x import y`, relative), in source order."""
    here = posixpath.dirname(path)
    roots: list[str] = ["", "src", "lib"]
    d = here
    while d:  # the script's own directory and its parents are import roots too
        roots.append(d)
        d = posixpath.dirname(d)
    roots = list(dict.fromkeys(roots))

    def module_files(base: str, dotted: str, names: Sequence[str]) -> list[str]:
        mod = "/".join(p for p in dotted.split(".") if p)
        stem = posixpath.join(base, mod) if mod else base
        # `from pkg import mod` may name submodules; the package itself matters only for the rest.
        subs: list[str] = []
        for n in names:
            sub = posixpath.join(stem, n).lstrip("/")
            for cand in (f"{sub}.py", f"{sub}/__init__.py"):
                if cand in exists:
                    subs.append(cand)
                    break
        out: list[str] = []
        if not names or len(subs) < len(names):
            for cand in (f"{stem}.py", f"{stem}/__init__.py", f"{stem}.pyi"):
                cand = cand.lstrip("/")
                if cand in exists:
                    out.append(cand)
                    break
        return out + subs

    found: list[str] = []
    for m in _PY_ANY.finditer(text):
        if m.group("plain") is not None:
            for part in m.group("plain").split(","):
                words = part.split()
                mod = words[0] if words else ""
                if not re.fullmatch(r"[\w.]+", mod):
                    continue
                for r in roots:
                    hits = module_files(r, mod, ())
                    if hits:
                        found.extend(hits)
                        break
            continue
        dots, mod, names_raw = m.group("dots"), m.group("mod"), m.group("names")
        names = [
            n.split()[0] for n in names_raw.strip("()").replace("\n", ",").split(",") if n.strip()
        ]
        names = [n for n in names if re.fullmatch(r"\w+", n)]
        if dots:
            base = here
            for _ in range(len(dots) - 1):
                base = posixpath.dirname(base)
            found.extend(module_files(base, mod, names))
        else:
            for r in roots:
                hits = module_files(r, mod, names)
                if hits:
                    found.extend(hits)
                    break
    return [f for f in dict.fromkeys(found) if f != path]


def js_imports(path: str, text: str, exists: Container[str]) -> list[str]:
    """Workspace files a JS/TS file imports through relative specifiers (`./x`, `../y`)."""
    here = posixpath.dirname(path)
    found: list[str] = []
    for m in _JS_SPEC.finditer(text):
        spec = m.group(2)
        base = posixpath.normpath(posixpath.join(here, spec))
        if base.startswith("..") or base == ".":
            continue
        cands = [base, *(base + e for e in _JS_RESOLVE), *(f"{base}/index{e}" for e in _JS_RESOLVE)]
        stem, ext = posixpath.splitext(base)
        if ext in (".js", ".jsx", ".mjs", ".cjs"):  # TypeScript ESM imports name the emitted .js
            cands += [stem + e for e in (".ts", ".tsx", ".mts", ".cts")]
        for c in cands:
            if c in exists:
                found.append(c)
                break
    return [f for f in dict.fromkeys(found) if f != path]


def imports_of(path: str, text: str, exists: Container[str]) -> list[str]:
    """Workspace files imported by `path` (Python and JS/TS), one level."""
    if path.endswith(_PY_EXT):
        return python_imports(path, text, exists)
    if path.endswith(_JS_EXT) or path.endswith((".vue", ".svelte")):
        return js_imports(path, text, exists)
    return []


def nearby_tests(path: str, walked: Sequence[str]) -> list[str]:
    """Test files that most likely exercise `path` (same directory first, then tests/ trees)."""
    d, _, name = path.rpartition("/")
    stem, dot, ext = name.partition(".")
    if (
        not dot
        or stem.startswith("test_")
        or stem.endswith("_test")
        or ".test." in name
        or ".spec." in name
    ):
        return []
    names: set[str] = set()
    if ext in ("py", "pyi"):
        names = {f"test_{stem}.py", f"{stem}_test.py"}
    elif ext in ("ts", "tsx", "js", "jsx", "mjs", "cjs", "mts", "cts"):
        names = {
            f"{stem}.{kind}.{e}"
            for kind in ("test", "spec")
            for e in ("ts", "tsx", "js", "jsx", "mjs", "cjs")
        }
    elif ext == "go":
        names = {f"{stem}_test.go"}
    if not names:
        return []
    hits = [p for p in walked if p.rpartition("/")[2] in names]

    def closeness(p: str) -> tuple[int, str]:
        shared = posixpath.commonprefix([p.split("/")[:-1], d.split("/") if d else []])
        return (-len(shared), p)

    return sorted(hits, key=closeness)[:2]
