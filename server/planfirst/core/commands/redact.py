"""Redact known secret values from command output (docs/reliability.md case 32).

A failing test that prints `.env` content, or a tool that echoes a token it found elsewhere,
must not carry the value into a model request, a plan file or a log. The values known to be
secret are those of the workspace's `.env`-style files and those of the environment variables
scrubbed out of the command environment; every occurrence becomes `[redacted]`.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from planfirst.core.workspace.secrets import is_env_file

REDACTED = "[redacted]"
MIN_LEN = 6  # shorter values ("1", "true", "dev") are everywhere in output and rarely secret
_MAX_ENV_FILE = 256 * 1024
_SKIP_DIRS = frozenset(
    {".git", ".planfirst", "node_modules", ".venv", "venv", "__pycache__", ".tox"}
)
_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(.*?)\s*$")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"`":
        return value[1:-1]
    if " #" in value:  # an unquoted value ends at an inline comment
        value = value.split(" #", 1)[0].rstrip()
    return value


def env_file_values(text: str) -> set[str]:
    """The values assigned in one `.env`-style text (KEY=value, export KEY=value, KEY: value)."""
    out: set[str] = set()
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        m = _ASSIGN.match(line)
        if m:
            value = _unquote(m.group(2))
            if len(value) >= MIN_LEN:
                out.add(value)
    return out


def workspace_env_values(root: str | os.PathLike[str], max_depth: int = 3) -> set[str]:
    """Values of the `.env`-style files in the workspace (a few directory levels deep).

    Every validation run asks; listing the workspace's directories took milliseconds a step on
    10,000 files (#32). So each directory's listing is kept with its stamp, and each env file's
    values with the file's: a directory is listed again only when its stamp changed (a file
    added, removed or renamed in it), an env file read again only when its own did. A stamp
    within RACY_NS of the listing (timestamps are coarser than the clock) could hide a change
    made in the same tick: such a listing or file is not kept. A step that edits files lists
    again just the directories it touched."""
    top = os.fspath(root)
    recent = time.time_ns() - RACY_NS
    kept = _KEPT.get((top, max_depth), {})
    seen: dict[str, _Dir] = {}
    out: set[str] = set()
    stack: list[tuple[str, int]] = [(top, 0)]
    while stack:
        d, depth = stack.pop()
        st = _stamp(d)  # before listing: a change while listing changes it after
        entry = kept.get(d)
        if entry is None or st is None or entry.stamp != st:
            entry = _list(d, depth, max_depth, st, recent)
            if entry is None:
                continue
        files = []
        for path, fst, values in entry.env:
            now = _stamp(path)
            if now is None or now != fst:
                values, now = _read_env(path, recent)
            out |= values
            files.append((path, now, values))
        entry = _Dir(entry.stamp, entry.subdirs, tuple(files))
        if entry.stamp is not None:
            seen[d] = entry
        stack.extend((sub, depth + 1) for sub in entry.subdirs)
    _KEPT[(top, max_depth)] = seen
    return out


RACY_NS = 2_000_000_000  # a stamp this close to the listing may hide a change in the same tick
_Stamp = tuple[int, ...]


@dataclass(frozen=True)
class _Dir:
    stamp: _Stamp | None  # None: not kept (listed within the racy window)
    subdirs: tuple[str, ...]  # the directories listed below it
    env: tuple[tuple[str, _Stamp | None, frozenset[str]], ...]  # env file, its stamp, values


_KEPT: dict[tuple[str, int], dict[str, _Dir]] = {}  # (root, depth) -> directory -> listing


def _stamp(path: str) -> _Stamp | None:
    """(ctime, mtime, size, inode) of `path` (a link followed), None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ctime_ns, st.st_mtime_ns, st.st_size, st.st_ino)


def _list(d: str, depth: int, max_depth: int, st: _Stamp | None, recent: int) -> _Dir | None:
    """One directory's subdirectories to descend into and env files (None: not listable)."""
    try:
        with os.scandir(d) as it:
            entries = list(it)
    except OSError:
        return None
    subdirs: list[str] = []
    env: list[tuple[str, _Stamp | None, frozenset[str]]] = []
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                if depth + 1 < max_depth and e.name not in _SKIP_DIRS:
                    subdirs.append(e.path)
            elif is_env_file(e.name) and (e.is_symlink() or e.is_file()):
                # a link is kept even when it points at nothing readable yet: its target may
                # change without this directory's stamp changing (checked at every read)
                env.append((e.path, None, frozenset()))  # read by the caller
        except OSError:
            continue
    keep = st is not None and st[0] < recent and st[1] < recent
    return _Dir(st if keep else None, tuple(subdirs), tuple(env))


def _read_env(path: str, recent: int) -> tuple[frozenset[str], _Stamp | None]:
    """An env file's values, and its stamp when they may be kept (None: read it again)."""
    st = _stamp(path)  # before reading: a change while reading changes it after
    if st is None or st[2] > _MAX_ENV_FILE:
        return frozenset(), None
    try:  # never blocking on a FIFO or device put where an env file (or its link's target) was
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return frozenset(), None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_ENV_FILE:
            return frozenset(), None
        with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
            fd = -1
            values = frozenset(env_file_values(f.read(_MAX_ENV_FILE + 1)))
    except OSError:
        return frozenset(), None
    finally:
        if fd >= 0:
            os.close(fd)
    return values, (st if st[0] < recent and st[1] < recent else None)


class Redactor:
    """Replaces every known secret value in a text with `[redacted]`."""

    def __init__(self, values: Iterable[str]) -> None:
        keep = sorted({v for v in values if len(v) >= MIN_LEN}, key=len, reverse=True)
        self.values = keep
        self._regex = re.compile("|".join(re.escape(v) for v in keep)) if keep else None
        self.longest = len(keep[0]) if keep else 0

    def __call__(self, text: str) -> str:
        if self._regex is None or not text:
            return text
        return self._regex.sub(REDACTED, text)

    def safe_cut(self, text: str) -> int:
        """A position to split `text` at that splits no secret and leaves every possible
        start of a secret (the last `longest - 1` characters) in the second part."""
        cut = max(0, len(text) - max(0, self.longest - 1))
        if self._regex is not None:
            for m in self._regex.finditer(text, max(0, cut - self.longest)):
                if m.start() < cut < m.end():
                    return m.end()
        return cut

    @classmethod
    def for_commands(
        cls,
        root: str | os.PathLike[str],
        env: Mapping[str, str],
        is_secret_name: Callable[[str], bool],
    ) -> Redactor:
        """The secrets a command run in `root` with base environment `env` must not print:
        the workspace's `.env` values and the variables scrubbed out of `env`."""
        scrubbed = {v for k, v in env.items() if is_secret_name(k)}
        return cls(workspace_env_values(root) | scrubbed)


class RedactingSink:
    """Wraps a streaming output sink: holds back a partial line so that a secret split between
    two chunks is still found, and forwards redacted text."""

    def __init__(self, sink: Callable[[str], None], redact: Redactor) -> None:
        self.sink = sink
        self.redact = redact
        self._pending = ""

    def __call__(self, chunk: str) -> None:
        text = self._pending + chunk
        cut = text.rfind("\n") + 1
        if cut == 0 and len(text) > max(4096, 2 * self.redact.longest):
            # a very long line: hold back only what may be the start of a secret
            cut = self.redact.safe_cut(text)
        self._pending = text[cut:]
        if cut:
            self.sink(self.redact(text[:cut]))

    def flush(self) -> None:
        """Forward whatever is held back."""
        if self._pending:
            text, self._pending = self._pending, ""
            self.sink(self.redact(text))
