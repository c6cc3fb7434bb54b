"""What a plan's text says, for the lint rules and the header: does a step name something specific,
is a criterion checkable, does a command's program exist, why an edited file needs care; the
plan's confidence summary.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Iterable
from typing import Any

from planfirst.core.workspace.path_syntax import PathError
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.core.workspace.secrets import is_secret
from planfirst.core.workspace.trust import trust_reason
from planfirst.plan.model import Finding, PlanBody

ERROR, WARNING, INFO = "error", "warning", "info"

_EXTS = (
    "py|pyi|js|jsx|ts|tsx|mjs|cjs|mts|cts|json|toml|yaml|yml|md|rst|txt|cfg|ini|go|rs|java|kt|c|h|"
    "cc|cpp|hpp|cs|rb|php|sh|bash|html|css|scss|sql|lock|vue|svelte|swift|proto|graphql|env|xml|gradle"
)
_SPECIFIC = re.compile(
    "|".join(
        [
            r"`[^`\n]+`",  # a backticked name or command
            r"\b[\w.-]+/[\w./-]*\w",  # a path with a slash
            rf"\b[\w-]+\.(?:{_EXTS})\b",  # a file name with a known extension
            r"\b(?:Makefile|Dockerfile|Justfile|Procfile)\b",
            r"\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b",  # CamelCase
            r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b",  # snake_case
            r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b",  # CONSTANT_CASE
            r"\b[A-Za-z_]\w*\(",  # name(
            r"\b[A-Za-z_]\w+\.[A-Za-z_]\w+",  # module.attr (each part two or more characters)
        ]
    )
)
_CHECKABLE = re.compile(
    r"\b(?:returns?|returned|prints?|printed|pass(?:es|ed)?|exit(?:s|ed)?|exit code|status|raises?|"
    r"raised|throws?|outputs?|shows?|displays?|contains?|equals?|fails?|succeeds?|responds?|"
    r"logs?|emits?|writes?|creates?|exists?|matches|reports?|errors?|warnings?|"
    r"HTTP\s*\d{3}|\d+\s*(?:ms|s|seconds|%))\b|==|!=|<=|>=",
    re.IGNORECASE,
)
SHELL_TOKENS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>&1", "&>", "|&"})
ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Programs whose behaviour is defined by a workspace file: editing that file changes the command.
RUNS_FILE = {
    "make": ("Makefile", "makefile", "GNUmakefile"),
    "npm": ("package.json",),
    "yarn": ("package.json",),
    "pnpm": ("package.json",),
    "tox": ("tox.ini",),
    "nox": ("noxfile.py",),
    "just": ("Justfile", "justfile"),
}
INTERPRETERS = frozenset({"python", "python3", "node", "bash", "sh", "ruby", "perl", "deno", "bun"})


def is_specific(description: str) -> bool:
    """Whether a step description names a file, path, function, class or symbol."""
    return _SPECIFIC.search(description) is not None


def is_checkable(criterion: str) -> bool:
    """Whether a test criterion has a command in backticks or an observable condition."""
    if re.search(r"`[^`\n]+`", criterion):
        return True
    return _CHECKABLE.search(criterion) is not None


def protected_reason(path: str, guard: WorkspaceGuard | None = None) -> str | None:
    """Why the plan's edit to `path` (or to the file it resolves to) needs care, or None."""
    names = [path]
    if guard is not None:
        try:
            names.append(guard.rel(path))  # a symlink is judged by its target too
        except PathError:
            pass
    for name in dict.fromkeys(names):
        if is_secret(name):
            return "may hold secrets"
        why = trust_reason(name)
        if why:
            return why
    return None


def split_argv(cmd: str) -> list[str] | None:
    try:
        return shlex.split(cmd, posix=True)
    except ValueError:
        return None


def program_found(prog: str, guard: WorkspaceGuard | None) -> bool:
    if "/" in prog:
        if os.path.isabs(prog):
            return os.path.isfile(prog) and os.access(prog, os.X_OK)
        if guard is None:
            return True  # cannot tell without a workspace
        try:
            p = guard.resolve(prog)
        except PathError:
            return False
        return p.is_file()
    if shutil.which(prog):
        return True
    if guard is not None:
        for d in ("node_modules/.bin", ".venv/bin", "venv/bin"):
            if (guard.root / d / prog).is_file():
                return True
    return False


def confidence(body: PlanBody, findings: Iterable[Finding], stale_files: int = 0) -> dict[str, Any]:
    """The plan header's confidence summary: specific and validated steps, files, staleness."""
    steps = body.steps
    specific = [s for s in steps if is_specific(s.description)]
    validated = [s for s in steps if s.validation]
    both = [s for s in steps if s in specific and s in validated]
    files = {f.path for f in body.files_to_modify} | {f.path for f in body.files_to_create}
    for s in steps:
        files.update(s.files)
    counts = {ERROR: 0, WARNING: 0, INFO: 0}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    n = len(steps)
    share = round(len(both) / n, 2) if n else 0.0
    return {
        "steps": n,
        "specific": len(specific),
        "validated": len(validated),
        "specific_and_validated": len(both),
        "share": share,
        "files_touched": len(files),
        "stale_files": stale_files,
        "errors": counts[ERROR],
        "warnings": counts[WARNING],
        "info": counts[INFO],
        "summary": (
            f"{len(both)}/{n} steps specific and validated · {len(files)} files touched · "
            f"{stale_files} context files changed since planning"
        ),
    }
