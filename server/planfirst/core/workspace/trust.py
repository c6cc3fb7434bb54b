"""The one trust policy: which workspace files configure tools, CI, git or editors.

An edit to one of them can make a later command, a git operation or the editor run code, so
plan review flags it and execution asks for its own confirmation before the edit is previewed.
Both ask `trust_reason`, so review flags a file exactly when execution will ask
(docs/reliability.md cases 15 and 31). Names are compared after folding case and Unicode
lookalikes: `.VSCode/tasks.json` and `MAKEFILE` count.
"""

from __future__ import annotations

from planfirst.core.workspace.secrets import fold

# Directories (at any depth: a nested project opened on its own reads its own) whose whole
# content configures something that runs.
TRUST_DIRS = frozenset(
    {
        ".git",  # hooks, config, attributes: git runs them
        ".planfirst",  # planfirst's own state
        ".vscode",  # tasks, launch configs, settings that name executables
        ".idea",
        ".devcontainer",
        ".husky",  # git hooks
        ".zed",
        ".helix",
        ".circleci",
    }
)
# Nested directory paths (folded, '/'-joined) whose content configures something that runs.
TRUST_SUBDIRS = (".github/workflows", ".github/actions")
# File names (folded basenames) that configure a build, a test run, git, a shell or an editor.
TRUST_NAMES = frozenset(
    {
        # build and test tools that allow-listed programs read
        "makefile",
        "gnumakefile",
        "justfile",
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "tox.ini",
        "noxfile.py",
        "pytest.ini",
        "conftest.py",
        "pylintrc",  # load-plugins, init-hook: code that pylint runs
        ".pylintrc",
        "mypy.ini",  # plugins
        ".mypy.ini",
        "package.json",
        ".npmrc",
        ".yarnrc",
        ".yarnrc.yml",
        # CI and hooks
        ".gitlab-ci.yml",
        ".pre-commit-config.yaml",
        ".gitattributes",
        ".gitmodules",
        # shell and editor configuration that runs code when the folder is opened
        ".envrc",
        ".nvim.lua",
        ".nvimrc",
        ".exrc",
        ".lazy.lua",
        ".neoconf.json",
    }
)
# Files identified by their directory and name.
TRUST_PATHS = (".cargo/config.toml", ".cargo/config")


def trust_reason(rel_path: str) -> str | None:
    """Why an edit to this workspace-relative path needs its own confirmation, or None."""
    parts = [fold(p) for p in rel_path.replace("\\", "/").split("/") if p and p != "."]
    if not parts:
        return None
    for d in parts[:-1]:
        if d in TRUST_DIRS:
            return f"{d}/ configures git, the editor or planfirst"
    if parts[-1] in TRUST_DIRS:
        return f"{parts[-1]}/ configures git, the editor or planfirst"
    joined = "/".join(parts)
    for sub in TRUST_SUBDIRS:
        if joined.startswith(sub + "/") or f"/{sub}/" in f"/{joined}":
            return f"{sub}/ configures CI"
    for tp in TRUST_PATHS:
        if joined == tp or joined.endswith("/" + tp):
            return f"{tp} configures a build tool"
    if parts[-1] in TRUST_NAMES:
        return f"{parts[-1]} configures a build, test run, git, a shell or an editor"
    return None


def needs_confirmation(rel_path: str) -> bool:
    """True when an edit to this path needs its own confirmation (see `trust_reason`)."""
    return trust_reason(rel_path) is not None
