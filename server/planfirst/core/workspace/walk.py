"""Walking the workspace: every file planfirst may show, honouring .gitignore chains, pruned and
excluded directories and symlink rules (docs/reliability.md cases 6 and 16)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from planfirst.core.workspace.gitignore import IgnoreRules, chain_match

if TYPE_CHECKING:  # paths.py imports this module; the guard is only a type here
    from planfirst.core.workspace.paths import WorkspaceGuard

# Directories never walked: version control, planfirst's own state, and tool/dependency caches
# that are huge and never the subject of a plan (RELIABILITY catalogue test 10).
PRUNED_DIRS = frozenset(
    {
        ".git",
        ".planfirst",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
    }
)


def walk_files(
    guard: WorkspaceGuard, max_files: int | None = None, stop: Callable[[], bool] | None = None
) -> Iterator[str]:
    """Workspace files that may be shown, as relative POSIX paths, depth first.

    Names are sorted and a directory's files come before its subdirectories. Excluded and pruned directories are never entered; symlinked directories are not
    followed (loops), and symlinked files are kept only when their target is inside. The walk
    ends when `stop()` says so, asked at every entry, also those it skips (red team rt9: a tree
    of 200k ignored files was walked whole past search_text's deadline).
    """
    root = str(guard.root)
    count = 0
    info = guard.info_exclude()
    base_chain: list[IgnoreRules] = [info] if info is not None else []
    # Stack of (directory rel path, rule chain in force inside it).
    stack: list[tuple[str, list[IgnoreRules]]] = [("", base_chain)]
    while stack:
        dir_rel, parent_chain = stack.pop()
        abs_dir = os.path.join(root, dir_rel) if dir_rel else root
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue  # unreadable directory: skip, never crash
        chain = parent_chain
        if any(e.name == ".gitignore" for e in entries):
            rules = guard.rules_for(dir_rel)
            if rules is not None:
                chain = [*parent_chain, rules]
        subdirs: list[str] = []
        for e in entries:
            if stop is not None and stop():
                return
            name = e.name
            rel = f"{dir_rel}/{name}" if dir_rel else name
            try:
                is_link = e.is_symlink()
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if name in PRUNED_DIRS or guard.static_reason(rel):
                    continue
                if chain and chain_match(chain, rel, True):
                    continue
                subdirs.append(rel)
                continue
            if is_link:
                if not guard.link_ok(e.path):
                    continue
            elif not e.is_file(follow_symlinks=False):
                continue  # FIFOs, sockets, devices
            if guard.static_reason(rel):
                continue
            if chain and chain_match(chain, rel, False):
                continue
            yield rel
            count += 1
            if max_files is not None and count >= max_files:
                return
        # Push in reverse so that the smallest name is visited first.
        for sub in reversed(subdirs):
            stack.append((sub, chain))
