"""Which planfirst process works on a plan now: `.planfirst/running/<plan id>` (docs/reliability.md
case 51).

The file says "<pid> <token>" and what the holder does, and the holder keeps an exclusive
`flock` on it for as long as it works: a claim is live exactly while a process holds that lock.
A process that died (SIGKILL, a crash) lets go of it with its last descriptor, so a pid that was
reused by an unrelated process never keeps a plan locked, and a file a repository planted there
(naming pid 1, a symbolic link, a FIFO, a huge file) is never anyone's claim: it is replaced. A
directory in its place is not removed (it is not planfirst's) and the refusal names it.

The new claim is written under a temporary name, locked, then linked into place (`link` fails
when another process got there first), so no other process ever sees it unlocked. A stale claim
is removed only while locked by the remover and only if the path still names the same file.
Where `flock` does not exist (Windows) the pid and start-time check of plan/liveness.py decides.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from planfirst.plan.liveness import owner_alive

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_LIMIT = 4096  # bytes read of a claim: owner and what it does
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_RO = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
# path -> (descriptor holding the lock, owner): the claims this process holds
_HELD: dict[str, tuple[int, str]] = {}


class ClaimError(Exception):
    """Something that is not a claim sits where the claim goes and cannot be replaced."""


def _parse(data: bytes) -> tuple[str, str]:
    owner, _, what = data.decode("utf-8", "replace").partition("\n")
    what = " ".join(what.split())[:200]  # one line: it is shown in a message
    return owner.strip()[:100], what or "working on it"


def holder(path: Path) -> tuple[str, str] | None:
    """(owner, what it does) of the live process that holds the claim at `path`, else None."""
    mine = _HELD.get(str(path))
    if mine is not None:
        with contextlib.suppress(OSError):
            os.lseek(mine[0], 0, os.SEEK_SET)
            return _parse(os.read(mine[0], _LIMIT))
    try:
        fd = os.open(path, _RO)
    except OSError:  # absent, a symbolic link (ELOOP), a directory we may not read
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None  # a FIFO, device or directory is nobody's claim
        data = os.read(fd, _LIMIT)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _parse(data)  # a live process holds it
            except OSError:
                pass  # a file system without locks: fall back to the pid
            else:
                return None  # nobody holds it: stale, whatever pid it names
        owner, what = _parse(data)
        return (owner, what) if owner_alive(owner) else None
    finally:
        os.close(fd)


def _clear(path: Path) -> None:
    """Remove what sits at `path` if it is not a live claim (see `holder`, checked by the caller):
    a stale claim only while this process holds its lock and the path still names it."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise ClaimError(
            f"{path} is a directory, not a claim planfirst wrote; remove it to run this plan"
        )
    if not stat.S_ISREG(st.st_mode) or fcntl is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a link, FIFO or socket: unlinking never touches what it names
        return
    try:
        fd = os.open(path, _RO)
    except FileNotFoundError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # taken meanwhile: the caller looks again
        except OSError:
            pass  # no locks here: the caller decided by the pid
        if os.fstat(fd).st_ino == os.lstat(path).st_ino:
            path.unlink()
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)


def claim(path: Path, owner: str, what: str, check: Callable[[Path], Path]) -> str | None:
    """Claim `path` for `owner`; None when it is ours now, else what the live holder does.
    ClaimError when something that is not a claim is in the way; OSError when the claim
    cannot be written (a read-only workspace: the caller goes on without one)."""
    mine = _HELD.get(str(path))
    if mine is not None:  # held in this process: by this owner, or by another session here
        if mine[1] == owner:
            return None
        held = holder(path)
        return held[1] if held is not None else "working on it"
    path.parent.mkdir(parents=True, exist_ok=True)
    check(path.parent)
    text = f"{owner}\n{' '.join(what.split())[:200]}\n".encode()
    for _ in range(5):
        held = holder(path)
        if held is not None:
            return held[1]
        _clear(path)
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        placed = False
        try:
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, text)
            try:
                os.link(tmp, path)  # tmp is the regular file just made
                placed = True
            except FileExistsError:
                continue  # another process got there first: look at its claim
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                os.rename(tmp, path)  # no hard links on this file system
                placed = True
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if placed:
                _HELD[str(path)] = (fd, owner)
            else:
                os.close(fd)
        return None
    return "working on it"


def release(path: Path, owner: str) -> None:
    """Give up `owner`'s claim on `path` (nothing when it is not `owner`'s)."""
    mine = _HELD.get(str(path))
    if mine is None or mine[1] != owner:
        return
    del _HELD[str(path)]
    try:
        with contextlib.suppress(FileNotFoundError):
            if os.fstat(mine[0]).st_ino == os.lstat(path).st_ino:
                path.unlink()  # unlinked while still locked: nobody takes a half-released claim
    except OSError:
        pass
    finally:
        os.close(mine[0])
