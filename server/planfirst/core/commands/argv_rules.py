"""What an allow-listed program may be asked to do without a question (docs/reliability.md case 27).

An allow-list entry trusts a tool, not every argument and not whatever file in the workspace
carries the tool's name. Three rules, applied after the allow-list check:
- Flags that make a tool run other code need confirmation: `make --eval`/`-E`/`VAR=value`/`-f`,
  `gcc -wrapper`/`-fplugin`/`-B`/`-specs`/`@file`, `npm --script-shell`/`--node-options`,
  `pylint --load-plugins`/`--init-hook`/`--rcfile`, `mypy --config-file` and the like.
- A program found inside the workspace is the tool only when it sits in a virtualenv or
  `node_modules/.bin` that git does not track: `bin/pytest`, or a `.venv/bin/ruff` the repository
  commits, is the repository's own code. The same holds for `node SCRIPT` (only an installed
  package's script) and for `python -m X` where X is a workspace module (the working directory
  comes first on `sys.path`, unless `-I`/`-P` is given).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping

from planfirst.core.commands.process import scrubbed_env

# Per program: flags (exact, or prefixes ending in '=' or attached values) that run other code.
_MAKE_CODE = ("--eval", "-E", "--file", "--makefile", "-f", "--include-dir", "-I")
_CC_CODE = (
    "-wrapper",
    "-fplugin",
    "-B",
    "-specs",
    "--specs",
    "-iplugindir",
    "-fuse-ld",
    "-Xlinker",
)
_NPM_CODE = (
    "--script-shell",
    "--node-options",
    "--userconfig",
    "--globalconfig",
    "--call",
    "-c",
    "--shell",
)
_PYLINT_CODE = ("--load-plugins", "--init-hook", "--rcfile")
_MYPY_CODE = ("--config-file",)
_RULES: dict[str, tuple[str, ...]] = {
    "make": _MAKE_CODE,
    "gmake": _MAKE_CODE,
    "gcc": _CC_CODE,
    "g++": _CC_CODE,
    "cc": _CC_CODE,
    "c++": _CC_CODE,
    "clang": _CC_CODE,
    "clang++": _CC_CODE,
    "npm": _NPM_CODE,
    "yarn": _NPM_CODE,
    "pnpm": _NPM_CODE,
    "npx": _NPM_CODE,
    "pylint": _PYLINT_CODE,
    "mypy": _MYPY_CODE,
}
_CC = frozenset({"gcc", "g++", "cc", "c++", "clang", "clang++"})
_MAKE = frozenset({"make", "gmake"})
# Where an installed tool lives inside a workspace (when git does not track it).
_TOOL_DIRS = (".venv/bin/", "venv/bin/", "env/bin/", "node_modules/.bin/")


def _matches(arg: str, flag: str) -> bool:
    if arg == flag:
        return True
    if flag.startswith("--"):
        return arg.startswith(flag + "=")
    # short flags take their value attached (`-Edef`, `-fplugin=x.so`, `-B/tmp`)
    return len(flag) >= 2 and arg.startswith(flag)


def flag_risk(name: str, args: list[str]) -> str | None:
    """Why these arguments make the allow-listed program `name` run other code, or None."""
    flags = _RULES.get(name)
    if flags is None:
        return None
    for arg in args:
        if arg == "--":
            break
        if name in _CC and arg.startswith("@"):
            return f"'{name} {arg}' reads more options from a file, which may run other programs"
        if name in _CC and arg.startswith("-Wl,") and "plugin" in arg:
            return f"'{name} {arg}' loads a linker plugin"
        if name in _MAKE and "=" in arg and not arg.startswith("-"):
            return f"'{name} {arg}' overrides a make variable, which can name any program to run"
        for flag in flags:
            if name in _MAKE and flag == "-E" and arg.startswith("-") and not arg.startswith("--"):
                # `-E` may be bundled with other short flags (`-sE …`)
                if "E" in arg[1:]:
                    return f"'{name} {arg}' evaluates make code given on the command line"
            if _matches(arg, flag):
                return f"'{name} {arg}' can run code other than {name} itself"
    return None


class Workspace:
    """How a command's program and scripts resolve against one workspace."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        tracked: Callable[[str], bool] | None = None,
    ) -> None:
        self.root = os.path.realpath(os.fspath(root))
        self.path = (env or {}).get("PATH", os.environ.get("PATH", ""))
        self._tracked = tracked or self._git_tracked
        self._cache: dict[str, bool] = {}
        # what git and the probe run with: the command's own environment, without secrets (a
        # workspace's code they may reach gets no more than the command would; rt7)
        self._env = scrubbed_env(env or os.environ)
        self._env.pop("PYTHONSTARTUP", None)
        self._installed_names: dict[tuple[str, tuple[str, ...]], dict[str, str] | None] = {}

    def rel(self, path: str) -> str | None:
        """The real workspace-relative path of `path` (relative to the root), or None outside."""
        real = os.path.realpath(os.path.join(self.root, path))
        if real == self.root:
            return "."
        if real.startswith(self.root + os.sep):
            return os.path.relpath(real, self.root).replace(os.sep, "/")
        return None

    def _git_tracked(self, rel: str) -> bool:
        if rel in self._cache:
            return self._cache[rel]
        # asked at the root, into submodules: a file a submodule commits counts as tracked (the
        # superproject does not list it). Never asked in the file's own folder: a repository
        # that commits HEAD, objects/ and refs/ there makes it a bare repository to git, which
        # then tracks nothing in it (rt6)
        try:
            done = subprocess.run(
                [
                    "git",
                    # a workspace's `.git/config` (an unpacked archive ships one) names no
                    # program for git to run (rt7); `-c` reaches the submodules' git too
                    "-c",
                    "core.fsmonitor=false",
                    "--literal-pathspecs",
                    "-C",
                    self.root,
                    "ls-files",
                    "--recurse-submodules",
                    "-z",
                    "--",
                    rel,
                ],
                capture_output=True,
                timeout=5,
                check=False,
                stdin=subprocess.DEVNULL,
                env=self._env,
            )
            listed = done.stdout.split(b"\0")
            tracked = done.returncode == 0 and os.fsencode(rel) in listed
        except (OSError, subprocess.SubprocessError):
            tracked = False  # no git: nothing is tracked
        self._cache[rel] = tracked
        return tracked

    def _installed(self, rel: str) -> bool:
        """A workspace file that is an installed tool: in a tool directory, not git-tracked."""
        inside_tool_dir = any(rel.startswith(d) or f"/{d}" in f"/{rel}" for d in _TOOL_DIRS) or (
            "node_modules/" in f"/{rel}"
        )
        return inside_tool_dir and not self._tracked(rel)

    def program_risk(self, prog: str) -> str | None:
        """Why argv[0] is not the allow-listed tool it is named after, or None."""
        found = prog if "/" in prog else shutil.which(prog, path=self.path)
        if found is None:
            return None  # not found: it fails to start, nothing runs
        # where it starts from counts as well as where a link leads: a python configures itself
        # from the `pyvenv.cfg` beside the path it was started as (a committed `venv/bin/python`
        # linking the user's interpreter runs the `.pth` files of the committed venv; rt7)
        full = os.path.join(self.root, found)
        started = os.path.join(os.path.realpath(os.path.dirname(full)), os.path.basename(full))
        as_started = (
            os.path.relpath(started, self.root).replace(os.sep, "/")
            if started.startswith(self.root + os.sep)
            else None
        )
        for rel in dict.fromkeys((self.rel(found), as_started)):
            if rel is not None and not self._installed(rel):
                return f"'{prog}' is {rel} in the workspace, not the installed tool"
        return None

    def script_risk(self, launcher: str, script: str) -> str | None:
        """Why `launcher SCRIPT` runs workspace code rather than an installed tool, or None."""
        rel = self.rel(script)
        if rel is None or self._installed(rel):
            return None
        return f"'{launcher} {script}' runs {rel}, a script in the workspace"

    def module_risk(
        self, python: str, module: str, isolated: bool, prog: str | None = None
    ) -> str | None:
        """Why `python -m MODULE` would import a workspace module, or None (`prog`: the
        interpreter as the command names it)."""
        if isolated:
            return None  # -I/-P: the working directory is not put on sys.path
        top = module.split(".")[0]
        if os.path.lexists(os.path.join(self.root, top)):
            return (
                f"'{python} -m {module}' imports {top} from the workspace, not the installed tool"
            )
        found = _root_modules(self.root)
        for cand, name, _ns in found:
            if name == top:
                return f"'{python} -m {module}' imports {cand} from the workspace, not the installed tool"
        # the working directory comes first for every import the tool makes: a root module
        # named like one the interpreter finds on its path (a standard module, a dependency
        # of the tool: mypy_extensions.py for mypy; rt6) replaces it
        installed = self._found_installed(prog or python, tuple(sorted({n for _, n, _ in found})))
        for cand, name, ns in found:
            if name in _NEVER_IMPORTED:
                continue
            kind = name in _STDLIB if installed is None else installed.get(name)
            if kind == "same":  # the very file or folder (a project installed editable): no
                continue  # other code is imported
            if kind and (not ns or kind == "ns"):
                return (
                    f"'{python} -m {module}' would import {cand} from the workspace in place of "
                    f"the installed module {name}"
                )
        return None

    def _found_installed(self, prog: str, names: tuple[str, ...]) -> dict[str, str] | None:
        """Which of `names` the interpreter `prog` finds on its own path ("mod", or "ns" for a
        namespace package), leaving out those no path entry can replace (built-in, frozen,
        loaded at start-up); None when it cannot be asked."""
        if not names:
            return {}
        exe = os.path.join(self.root, prog) if "/" in prog else shutil.which(prog, path=self.path)
        key = (exe or "", names)
        if key in self._installed_names:
            return self._installed_names[key]
        got: dict[str, str] | None = None
        if exe is not None:
            try:
                # the names on stdin: as arguments, a root of enough files made the probe
                # fail to start (E2BIG), leaving only the standard names to count (rt7)
                done = subprocess.run(
                    [exe, "-c", _PROBE],
                    input=b"\0".join(os.fsencode(n) for n in (self.root, *names)),
                    capture_output=True,
                    timeout=10,
                    check=False,
                    cwd=os.path.dirname(exe) or "/",
                    env={**self._env, "PYTHONIOENCODING": "utf-8"},
                )
                if done.returncode == 0:
                    got = {}
                    for line in done.stdout.decode("utf-8", "replace").split("\n"):
                        n, _, rest = line.partition("\t")
                        k, _, tail = rest.partition("\t")
                        if n and k in ("mod", "ns"):  # a path holding a newline: its tail
                            where = tail.split("\t") if tail else []
                            got[n] = "same" if where and self._same_entry(n, where) else k
            except (OSError, subprocess.SubprocessError):
                got = None
        self._installed_names[key] = got
        return got

    def _same_entry(self, name: str, where: list[str]) -> bool:
        """Whether the interpreter found `name` in the workspace root itself (`where`: the
        module's file or its package's folders), what the working directory would import."""
        mine = {os.path.realpath(os.path.join(self.root, name))}
        mine |= {f"{m}{suffix}" for m in mine for suffix in _CODE_SUFFIXES}
        return all(os.path.realpath(w) in mine for w in where)


# Run by the interpreter of a `python -m` command: which names (stdin, after the root) it
# finds on sys.path itself, where a module of the workspace root would be found first
# instead. Left out: the working directory, and the root itself on that path (an editable
# install's `.pth`): a root module found there is the same file, it replaces nothing (rt7).
_PROBE = """
import sys
start = set(sys.modules)
import os
root, *names = os.fsdecode(sys.stdin.buffer.read()).split("\\0")
sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != root]
from importlib.machinery import FrozenImporter, PathFinder
for n in names:
    if n in start or n in sys.builtin_module_names or FrozenImporter.find_spec(n):
        continue
    try:
        spec = PathFinder.find_spec(n)
    except Exception:
        continue
    if spec is not None:
        ns = spec.origin in (None, "namespace")
        where = list(spec.submodule_search_locations or []) or [spec.origin or ""]
        print(n, "ns" if ns else "mod", *where, sep="\t")
"""


# Standard modules a project commonly has a folder of its own for, which no tool imports.
_NEVER_IMPORTED = frozenset({"test", "__main__", "this", "antigravity"})
_STDLIB = frozenset(sys.stdlib_module_names) - _NEVER_IMPORTED
_CODE_SUFFIXES = (".py", ".pyc", ".pyw", ".so", ".pyd")


def _root_modules(root: str) -> list[tuple[str, str, bool]]:
    """(entry, module name, namespace) of what `import NAME` finds in `root` when it is on
    `sys.path`: source, sourceless bytecode (`pytest.pyc`) and extension modules
    (`x.cpython-312-….so`), packages with an `__init__` of any of these kinds, and folders
    without one (a portion of a namespace package of that name, looked in first)."""
    out: list[tuple[str, str, bool]] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return out
    for ent in entries:
        name = ent.name
        try:
            is_dir = ent.is_dir()
        except OSError:
            continue
        if is_dir:
            if name.isidentifier():
                init = _has_init(ent.path)
                out.append((f"{name}/__init__" if init else f"{name}/", name, not init))
        elif name.endswith(_CODE_SUFFIXES):
            mod = name.split(".", 1)[0]
            if mod.isidentifier():
                out.append((name, mod, False))
    return out


def _has_init(folder: str) -> bool:
    try:
        return any(
            e.name.startswith("__init__.") and e.name.endswith(_CODE_SUFFIXES)
            for e in os.scandir(folder)
        )
    except OSError:
        return False


def node_script_ok(script: str) -> bool:
    """Without a workspace to look at: `node SCRIPT` is an installed tool only under node_modules."""
    norm = posixpath.normpath(script)
    return "node_modules" in norm.split("/")
