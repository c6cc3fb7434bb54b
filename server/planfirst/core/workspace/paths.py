"""The one path gate: every read or write of a workspace file goes through a WorkspaceGuard.

It resolves symlinks and compares real paths component by component (never string prefixes), and
it knows which files must never reach a model: `.git/`, `.planfirst/`, secrets, `.gitignore`d
paths and configured globs (docs/reliability.md cases 1, 6, 16).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath

from planfirst.core.workspace.gitignore import (
    IgnoreFiles,
    IgnoreRules,
    chain_match,
    match_with_parents,
)
from planfirst.core.workspace.path_syntax import PathError, ReadRefused, check_syntax, from_uri
from planfirst.core.workspace.secrets import fold as _fold
from planfirst.core.workspace.secrets import is_secret
from planfirst.core.workspace.walk import walk_files

# ---------------------------------------------------------------- the guard


class WorkspaceGuard:
    """Confines paths to one workspace root and decides what may be shown to a model."""

    def __init__(
        self,
        root: Path | str,
        extra_excludes: Iterable[str] = (),
        *,
        case_insensitive: bool | None = None,
        plans_dir: str = ".planfirst/plans",
    ) -> None:
        given = os.path.abspath(os.fspath(root))
        self.root = Path(os.path.realpath(given))
        if not self.root.is_dir():
            raise PathError(f"workspace root {given} is not a directory")
        self._root_str = str(self.root)
        self._given_str = given
        self.case_insensitive = (
            _detect_case_insensitive(self.root) if case_insensitive is None else case_insensitive
        )
        self._root_parts = self._key_parts(self._root_str)
        self.extra_excludes = list(extra_excludes)
        self._extra = IgnoreRules("", self.extra_excludes, ignore_case=True)
        # the `plansDir` setting: plans kept elsewhere are planfirst's data exactly like
        # .planfirst/ — never in the tree, search results or context (docs/reliability.md case 46)
        self.plans_dir = plans_dir
        self._plans_parts = tuple(_fold(p) for p in plans_dir.split("/") if p and p != ".")
        self._ignore_files = IgnoreFiles(self._root_str, self.case_insensitive)

    def with_excludes(self, globs: Iterable[str]) -> WorkspaceGuard:
        """This guard if it already has `globs`, else a guard on the same root that adds them."""
        new = [g for g in globs if g not in self.extra_excludes]
        if not new:
            return self
        return WorkspaceGuard(
            self.root,
            [*self.extra_excludes, *new],
            case_insensitive=self.case_insensitive,
            plans_dir=self.plans_dir,
        )

    # ------------------------------------------------------------ containment

    def _key_parts(self, path: str) -> tuple[str, ...]:
        parts = PurePosixPath(path).parts
        if self.case_insensitive:
            return tuple(os.path.normcase(p).casefold() for p in parts)
        return parts

    def _contains(self, real: str) -> bool:
        parts = self._key_parts(real)
        n = len(self._root_parts)
        if parts[:n] == self._root_parts:
            return True
        if self.case_insensitive:
            # The file system may spell the root differently (case, Unicode form); ask it.
            cur = real
            while True:
                try:
                    if os.path.samefile(cur, self._root_str):
                        return True
                except OSError:
                    pass
                parent = os.path.dirname(cur)
                if parent == cur:
                    return False
                cur = parent
        return False

    def _candidate(self, path: str) -> tuple[str, str]:
        """(original, lexical absolute path) after syntax checks; URIs are decoded first."""
        if not isinstance(path, str):
            raise PathError(f"path must be a string, not {type(path).__name__}")
        original = path
        if path[:5].lower() == "file:":
            path = from_uri(path)
        check_syntax(original, path)
        if path.startswith("/"):
            return original, os.path.normpath(path)
        return original, os.path.normpath(os.path.join(self._root_str, path))

    def resolve(self, path: str) -> Path:
        """The real path of a workspace file (which need not exist yet); PathError if outside."""
        original, cand = self._candidate(path)
        real = os.path.realpath(cand)
        if not self._contains(real):
            # The messages never echo the root or a symlink's target: models read them too.
            if self._lexical_rel(cand) is not None:
                raise PathError(
                    f"path {original!r} resolves outside the workspace through a symlink"
                )
            raise PathError(f"path {original!r} is outside the workspace")
        return Path(real)

    def _rel_of_real(self, real: str) -> str:
        parts = PurePosixPath(real).parts[len(self._root_parts) :]
        return "/".join(parts) or "."

    def _lexical_rel(self, cand: str) -> str | None:
        for base in (self._root_str, self._given_str):
            parts = PurePosixPath(cand).parts
            bparts = PurePosixPath(base).parts
            if self.case_insensitive:
                same = tuple(p.casefold() for p in parts[: len(bparts)]) == tuple(
                    p.casefold() for p in bparts
                )
            else:
                same = parts[: len(bparts)] == bparts
            if same:
                return "/".join(parts[len(bparts) :]) or "."
        return None

    def rel(self, path: str | Path) -> str:
        """The normalised workspace-relative POSIX path of the real file (PathError outside)."""
        real = self.resolve(os.fspath(path))
        if not self._key_parts(str(real))[: len(self._root_parts)] == self._root_parts:
            # Contained only by samefile (case-insensitive spelling): fall back on the lexical form.
            _, cand = self._candidate(os.fspath(path))
            lex = self._lexical_rel(cand)
            if lex is None:
                raise PathError(f"path {path!s} is outside the workspace")
            return lex
        return self._rel_of_real(str(real))

    def locate(self, path: str | Path) -> tuple[Path, str, str]:
        """(real path, name as given relative to the root, real relative path); PathError outside."""
        real = self.resolve(os.fspath(path))
        real_rel = self.rel(os.fspath(path))
        _, cand = self._candidate(os.fspath(path))
        lex = self._lexical_rel(cand)
        return real, (lex if lex is not None else real_rel), real_rel

    # ------------------------------------------------------------ exclusion

    def rules_for(self, dir_rel: str) -> IgnoreRules | None:
        """The parsed .gitignore of a directory, cached until the file changes."""
        return self._ignore_files.gitignore(dir_rel)

    def info_exclude(self) -> IgnoreRules | None:
        return self._ignore_files.info_exclude()

    def ignore_files_over_limit(self) -> list[str]:
        """Ignore files read so far that are over the limits (everything below them ignored)."""
        return self._ignore_files.over_limit()

    def invalidate(self) -> None:
        """Forget cached ignore rules (they are also re-read whenever a .gitignore changes)."""
        self._ignore_files.clear()

    def _chain(self, dirs: Iterable[str]) -> list[IgnoreRules]:
        # Lowest precedence first: .git/info/exclude, then .gitignore files from the root down.
        chain: list[IgnoreRules] = []
        info = self.info_exclude()
        if info is not None:
            chain.append(info)
        for d in dirs:
            r = self.rules_for(d)
            if r is not None:
                chain.append(r)
        return chain

    def gitignored(self, rel_path: str, is_dir: bool | None = None) -> bool:
        """Whether git would ignore the path (nested .gitignore files, negation, parent rule)."""
        parts = [p for p in rel_path.split("/") if p and p != "."]
        if not parts:
            return False
        if is_dir is None:
            is_dir = os.path.isdir(os.path.join(self._root_str, *parts))
        # A file inside an ignored directory can never be re-included, so check every ancestor.
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            dirs = ["/".join(parts[:k]) for k in range(i)]
            if chain_match(self._chain(dirs), prefix, is_dir if i == len(parts) else True):
                return True
        return False

    def static_reason(self, rel_path: str) -> str | None:
        """Reasons that need no ignore files: planfirst/git state, secrets, configured globs."""
        folded = [_fold(p) for p in rel_path.split("/") if p and p != "."]
        if ".git" in folded:
            return "git internals (.git/)"
        if folded and folded[0] == ".planfirst":
            return "planfirst state (.planfirst/)"
        n = len(self._plans_parts)
        if n and tuple(folded[:n]) == self._plans_parts:
            return f"planfirst's plans (plansDir {self.plans_dir}/)"
        if is_secret(rel_path):
            return "secret"
        if not self._extra.empty and match_with_parents(self._extra, rel_path):
            return "excluded by planfirst.context.exclude"
        return None

    def excluded(self, rel_path: str) -> str | None:
        """Why a workspace-relative path must never be read for a model, or None when it may be."""
        rel_path = rel_path.strip("/")
        if not rel_path or rel_path == ".":
            return None
        reason = self._own_reason(rel_path)
        if reason:
            return reason
        # A symlink (or a symlinked directory on the way) to a secret is that secret, on every
        # read path that asks here (docs/reliability.md case 25).
        target = self._target_rel(rel_path)
        if target is None:
            return "a symlink that points outside the workspace"
        if target != rel_path:
            reason = self._own_reason(target)
            if reason:
                return reason
        return None

    def _own_reason(self, rel_path: str) -> str | None:
        return self.static_reason(rel_path) or ("gitignored" if self.gitignored(rel_path) else None)

    def _target_rel(self, rel_path: str) -> str | None:
        """The real relative path a name resolves to (itself when no symlink is involved);
        None when it resolves outside the workspace or cannot be checked."""
        try:
            _, cand = self._candidate(rel_path)
        except PathError:
            return rel_path  # not a path the guard accepts at all: callers refuse it elsewhere
        real = os.path.realpath(cand)
        if real == cand:
            return rel_path
        if not self._contains(real):
            return None
        if self._key_parts(real)[: len(self._root_parts)] != self._root_parts:
            return rel_path  # contained only by samefile (case-insensitive spelling)
        return self._rel_of_real(real)

    def is_secret(self, rel_path: str) -> bool:
        """True when the path names a secret (see module `is_secret`)."""
        return is_secret(rel_path)

    # ------------------------------------------------------------ reading

    def read_text(self, path: str, max_bytes: int) -> tuple[str, str]:
        """(relative path as given, text) of a readable workspace file, else ReadRefused/PathError.

        Checks both the name given and the symlink target against the exclusions, never opens a
        FIFO or device, and refuses binaries and files larger than `max_bytes`.
        """
        real, rel, real_rel = self.locate(path)
        for name in dict.fromkeys((rel, real_rel)):
            reason = self.excluded(name)
            if reason:
                raise ReadRefused(rel, reason)
        # `real` has no symlink left in it, so O_NOFOLLOW only fails if one was swapped in since.
        flags = (
            os.O_RDONLY
            | getattr(os, "O_NONBLOCK", 0)
            | getattr(os, "O_CLOEXEC", 0)
            | getattr(os, "O_NOFOLLOW", 0)
        )
        try:
            fd = os.open(real, flags)
        except FileNotFoundError:
            raise ReadRefused(rel, "not found") from None
        except IsADirectoryError:
            raise ReadRefused(rel, "a directory, not a file") from None
        except PermissionError:
            raise ReadRefused(rel, "unreadable (permission denied)") from None
        except OSError as e:
            raise ReadRefused(rel, f"unreadable ({e.strerror or e})") from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise ReadRefused(rel, "a directory, not a file")
            if not stat.S_ISREG(st.st_mode):
                raise ReadRefused(rel, "not a regular file")
            if st.st_size > max_bytes:
                raise ReadRefused(rel, f"too large ({st.st_size} bytes)")
            chunks: list[bytes] = []
            remaining = max_bytes + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise ReadRefused(rel, f"too large (over {max_bytes} bytes)")
        text = decode_text(data)
        if text is None:
            raise ReadRefused(rel, "binary")
        return rel, text

    # ------------------------------------------------------------ walking (core/workspace/walk.py)

    def walk(
        self, max_files: int | None = None, stop: Callable[[], bool] | None = None
    ) -> Iterator[str]:
        """Workspace files that may be shown, as relative POSIX paths, depth first (core/workspace/walk.py)."""
        return walk_files(self, max_files, stop)

    def link_ok(self, abs_path: str) -> bool:
        """A symlinked file is walked only when it resolves to a regular, allowed file inside."""
        real = os.path.realpath(abs_path)
        if not self._contains(real) or not os.path.isfile(real):
            return False
        return self.static_reason(self._rel_of_real(real)) is None


def decode_text(data: bytes) -> str | None:
    """UTF-8 text of `data`, or None for binaries (a NUL byte in the first 8 KB or invalid UTF-8)."""
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _detect_case_insensitive(root: Path) -> bool:
    """Whether the file system holding `root` folds case (macOS and Windows defaults)."""
    name = root.name
    if name and name.swapcase() != name:
        flipped = root.parent / name.swapcase()
        try:
            return flipped.exists() and os.path.samefile(flipped, root)
        except OSError:
            return False
    return sys.platform in ("darwin", "win32")
