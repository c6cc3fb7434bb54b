"""planfirst's own files under the workspace (`.planfirst/`, the plans folder): checked access
and atomic writes (split from plan/store.py).

`.planfirst/` is checked like any path (docs/reliability.md case 30): a `.planfirst` that is a
symbolic link, or a link anywhere on the way to a file planfirst reads or writes below it, is
refused with a message naming the link, so a cloned repository cannot point planfirst's writes
(or reads) outside the workspace. Every file planfirst writes there goes through one helper,
`OwnFiles.write_file`, which also refuses a FIFO, device or directory planted where the file goes;
reads go through `OwnFiles.read_file`, which never follows a link or blocks on a FIFO (case 36).

Every write is atomic (temp file in the same directory, fsync, rename, fsync the directory), so
a killed process leaves either the old file or the new one, never half of each.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; appends are still whole lines
    fcntl = None  # type: ignore[assignment]

from planfirst.errors import PlanfirstError
from planfirst.plan.liveness import alive

# open() flags for planfirst's own files: never follow a link, never block on a FIFO
SAFE_OPEN = (
    getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
)
PLAN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")  # plan (and ACP session) ids


class StoreError(PlanfirstError):
    """A plan file could not be read or written; the message names the file."""

    code = "store"


class UnknownPlan(StoreError):
    """No plan with that id exists in this workspace."""

    code = "unknown_plan"


# A plan file larger than this is refused when loaded (docs/reliability.md case 42): plan.json
# keeps every run's before and after texts, so a long plan on large files can reach megabytes,
# but nothing planfirst writes comes near this.
MAX_FILE_BYTES = 64 << 20
MAX_MD_BYTES = 8 << 20  # plan.md carries no file texts: a few hundred bytes a step


def _too_large(path: Path, size: int, limit: int) -> str:
    return (
        f"{path} is {size / (1 << 20):.1f} MB, over planfirst's limit of {limit >> 20} MB for a "
        "plan file; it was left untouched (a repository may have shipped it to slow planfirst down)"
    )


TEMP_SUFFIX = ".planfirst.tmp"
_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[^.]+" + re.escape(TEMP_SUFFIX) + "$")
_UMASK = os.umask(0o022)  # read once at import (umask can only be read by setting it)
os.umask(_UMASK)


def atomic_write(
    path: Path, data: str, *, durable: bool = True, keep_mode: bool = False, sync_dir: bool = True
) -> None:
    """Write `data` to `path` so that readers see the old or the new file, never a mix.

    `durable` also fsyncs the data and the directory, so the new file survives a power loss
    (`sync_dir` False: the caller fsyncs the directory later, `fsync_dir`).
    `keep_mode` gives the file the permissions it had (a new file: what open() would give it),
    for the user's files; without it the file is private to the user (plan records).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid in the name: a temp file a killed process left is recognised and removed
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        if keep_mode:
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except OSError:  # a new file
                mode = 0o666 & ~_UMASK
            with contextlib.suppress(OSError):
                os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable and sync_dir:
        fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make the renames in `directory` survive a power loss."""
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def remove_orphaned_temps(directory: Path) -> list[Path]:
    """Delete the temp files of atomic writes whose writer process is gone (it was killed
    between creating the temp file and the rename); return what was removed."""
    removed: list[Path] = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _TEMP_NAME.match(p.name)
        if m is None or alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


def _lock_briefly(fd: int, tries: int = 50) -> bool:
    """An exclusive advisory lock on `fd` (released when it is closed), tried for about 50 ms
    without blocking: the caller is the background writer, which a lock held elsewhere must
    never stall. False when it was not had (the caller goes on without it)."""
    for _ in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:  # a filesystem without locks
            return False
    return False


class OwnFiles:
    """Checked reads and writes below a workspace root (PlanStore's base)."""

    root: Path

    def check(self, path: Path) -> Path:
        """`path` (under `.planfirst/` or the plans folder) if it is inside the workspace and no
        component below the workspace root is a symbolic link; else StoreError naming the link.
        Called right before every read and write."""
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            raise StoreError(
                f"{path} is outside the workspace; planfirst never writes there"
            ) from None
        if ".." in parts:
            raise StoreError(f"{path} leaves the workspace ('..'); planfirst never writes there")
        cur = self.root
        for part in parts:
            cur = cur / part
            if cur.is_symlink():
                raise StoreError(
                    f"{cur} is a symbolic link; planfirst keeps its state only in a real .planfirst/ "
                    "directory inside the workspace and never follows a link there (a cloned repository "
                    "could point it anywhere) — remove the link"
                )
        return path

    def write_file(
        self, path: Path, text: str, *, durable: bool = False, sync_dir: bool = True
    ) -> Path:
        """The one way planfirst writes a file of its own (plans, revisions, previews, records;
        docs/reliability.md case 36): `path` is checked (inside the workspace, no symbolic link on
        the way, not a FIFO, device, socket or directory already there), then written atomically.
        A refusal is a StoreError naming the file; nothing is written."""
        self.check(path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StoreError(f"cannot check {path}: {e.strerror or e}") from None
        else:
            if not stat.S_ISREG(st.st_mode):
                raise StoreError(
                    f"{path} is not a regular file (a FIFO, device, socket or directory); "
                    "planfirst does not write over it — remove it"
                )
        atomic_write(path, text, durable=durable, sync_dir=sync_dir)
        return path

    def append_line(self, path: Path, line: str) -> None:
        """Append `line` and a newline to a file of planfirst's own (created if missing), checked
        like `write_file` and opened without following a link or blocking on a FIFO; a file
        whose last line was left unfinished gets the new one on a line of its own. Not atomic
        like a rename: for records whose reader skips a broken line."""
        self.check(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | SAFE_OPEN
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as e:
            raise StoreError(f"cannot write {path}: {e.strerror or e}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise StoreError(
                    f"{path} is not a regular file (a FIFO, device, socket or directory); "
                    "planfirst does not write to it — remove it"
                )
            data = (line + "\n").encode("utf-8")
            if fcntl is not None and _lock_briefly(fd):
                # another process appending meanwhile (a second window's server) would show its
                # line half-written to the check below, which then added a blank line (QA #32)
                st = os.fstat(fd)
            if st.st_size and os.pread(fd, 1, st.st_size - 1) != b"\n":
                data = b"\n" + data
            os.write(fd, data)
        finally:
            os.close(fd)

    def read_file(self, path: Path, limit: int = MAX_FILE_BYTES) -> str:
        """Read a file of planfirst's own without following a link or blocking on a FIFO (opened
        with O_NOFOLLOW | O_NONBLOCK, then checked to be a regular file) and at most `limit`
        bytes; FileNotFoundError when it is absent, StoreError naming the file otherwise."""
        self.check(path)
        flags = os.O_RDONLY | SAFE_OPEN
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise StoreError(f"cannot read {path}: {e.strerror or e}") from None
        try:
            st = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            raise StoreError(f"cannot read {path}: {e.strerror or e}") from None
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            # a FIFO would block the reader forever, a directory cannot be read (case 21)
            raise StoreError(f"{path} is not a regular file; it was left untouched")
        with os.fdopen(fd, "rb") as f:
            if st.st_size > limit:
                raise StoreError(_too_large(path, st.st_size, limit))
            data = f.read(limit + 1)
        if len(data) > limit:
            raise StoreError(_too_large(path, len(data), limit))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StoreError(
                f"{path} is not UTF-8 text ({e.reason}); it was left untouched"
            ) from None
