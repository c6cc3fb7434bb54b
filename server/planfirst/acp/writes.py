"""A step's files written through the ACP client, whole or not at all (docs/reliability.md
case 40).

`fs/write_text_file` writes one file at a time. When the client refuses or fails a write, or a
cancel lands, after some of a step's files were written, those files get their text from before
the step back — through the client first, on disk when the client cannot — and the reason the
step was not applied says so, so the run is recorded truthfully and undo always has the bytes
from before the step.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from planfirst.core.editing.executor import FileChange, ProposedChange
from planfirst.core.workflow import fsio
from planfirst.plan.store import atomic_write

log = logging.getLogger("planfirst.acp")


class Writer(Protocol):
    """What writing through the client needs of the session's host (acp/host.py)."""

    conn: Any
    session_id: str
    buffers: dict[str, str]
    session: Any

    def can_write(self) -> bool: ...
    def can_read(self) -> bool: ...
    def abs_path(self, rel: str) -> str: ...
    async def read_buffer(self, rel: str) -> str | None: ...


async def write_step(host: Writer, change: ProposedChange) -> str | None:
    """Write approved text through `fs/write_text_file` when the client offers it (its
    buffers, unsaved edits included, stay in step); the core then makes the disk match.
    Without it the core writes the disk ithost. Returns why it failed, if it did.

    A step lands whole or not at all (docs/reliability.md case 40): when a write is refused,
    fails or is cancelled after some of the step's files were written, those files get
    their text from before the step back, and the reason says so."""
    if not host.can_write():
        return None
    written: list[FileChange] = []
    failure: str | None = None
    try:
        for f in change.files:
            if f.new is None:
                continue  # ACP has no delete: the core removes the file from disk
            if host.can_read() and f.old is not None:
                now = await host.read_buffer(f.path)
                if now is not None and now != f.old:
                    failure = f"{f.path} changed in the editor while the step was prepared; retry the step"
                    break
            try:
                await host.conn.write_text_file(host.session_id, host.abs_path(f.path), f.new)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                failure = f"the editor could not write {f.path}: {e}"
                written.append(f)  # the client may have written part of it: restore it too
                break
            written.append(f)
            host.buffers[f.path] = f.new
    except asyncio.CancelledError:
        # restore before the cancel goes on (shielded: the cancel must not stop it)
        await asyncio.shield(_restore(host, written))
        raise
    if failure is None:
        return None
    return failure + await _restore(host, written)


async def _restore(host: Writer, written: list[FileChange]) -> str:
    """Give the files a failed step already wrote their text from before the step again:
    through the client first, the disk itself when the client cannot. Returns what to add
    to the reason."""
    if not written:
        return ""
    lost: list[str] = []
    for f in reversed(written):
        if f.old is not None:
            try:
                await host.conn.write_text_file(host.session_id, host.abs_path(f.path), f.old)
                host.buffers[f.path] = f.old
                continue
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("restoring %s through the client failed: %s", f.path, e)
        if not _restore_disk(host, f):
            lost.append(f.path)
    names = ", ".join(f.path for f in written)
    if lost:
        return (
            f"; restoring {', '.join(lost)} failed: check it in the editor "
            "(the step is recorded as not applied)"
        )
    return f"; {names} got its text from before the step back"


def _restore_disk(host: Writer, f: FileChange) -> bool:
    """The disk holds `f`'s text from before the step (a created file removed); False when
    that could not be made so."""
    if host.session is None:
        return False
    guard = host.session.guard
    try:
        now = fsio.read_disk(guard, f.path)
        if now == f.old:
            return True
        if now != f.new:  # neither ours nor the old text: someone else's, left alone
            return False
        target = guard.resolve(f.path)
        if f.old is None:
            target.unlink()
        else:
            data = fsio.BOM + f.old if fsio.has_bom(guard, f.path) else f.old
            atomic_write(target, data, durable=False, keep_mode=True)
        return True
    except Exception as e:
        log.warning("restoring %s on disk failed: %s", f.path, e)
        return False
