"""Workspace file text: reading (the editor's buffer wins over the disk) and making the disk hold
the text the user approved. Every write goes through plan/store.atomic_write."""

from __future__ import annotations

import asyncio
import contextlib

from planfirst.core.contracts import Host, SessionError
from planfirst.core.paths import PathError, WorkspaceGuard
from planfirst.plan.model import Step, StepRun
from planfirst.plan.store import atomic_write


def read_disk(guard: WorkspaceGuard, rel: str) -> str | None:
    """A file's text on disk, or None when it does not exist."""
    path = guard.resolve(rel)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, IsADirectoryError) as e:
        raise SessionError(f"{rel} cannot be edited as text: {e}") from None


def read_current(host: Host, guard: WorkspaceGuard, rel: str) -> str | None:
    """A file's current text: the editor's open document wins over the disk."""
    docs = host.open_documents()
    if rel in docs:
        return docs[rel]
    return read_disk(guard, rel)


def resolve_for_model(guard: WorkspaceGuard, path: str) -> str:
    """A path the model named, relative to the workspace; excluded files are refused."""
    rel = guard.rel(path)
    reason = guard.excluded(rel)
    if reason:
        raise PathError(f"{rel} is excluded ({reason}); planfirst does not read or write it")
    return rel


async def sync_disk(
    guard: WorkspaceGuard, host: Host, after: dict[str, str | None]
) -> dict[str, str | None]:
    """Make the disk hold exactly the text the user approved; return that text per file.

    An editor that saves (the VS Code extension) reports what it saved: its disk text is
    what the user applied, which may differ from the proposal when edits were unticked in
    the preview. For every other file the server writes the proposed text, which the editor
    applied whole (Neovim and most clients never save buffers themselves).
    """
    paths = sorted(after)
    saved = set(await host.save_documents(paths))
    actual: dict[str, str | None] = {}
    for p in paths:
        if p in saved:
            actual[p] = read_disk(guard, p)
            continue
        want = after[p]
        actual[p] = want
        if read_disk(guard, p) == want:
            continue
        target = guard.resolve(p)
        if want is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            continue
        # atomic: a server killed mid-write leaves the old text or the new, never half a file;
        # the file keeps its permissions; no fsync (a crash, not a power loss, is the risk here)
        await asyncio.to_thread(atomic_write, target, want, durable=False, keep_mode=True)
    for p in paths:
        if read_disk(guard, p) != actual[p]:
            raise SessionError(
                f"{p} does not hold the approved text after applying; nothing was validated"
            )
    partial = [p for p in paths if actual[p] != after[p]]
    if partial:
        host.notify(
            f"{', '.join(partial)}: you applied part of the proposed edit; planfirst validates what you applied.",
            "warning",
        )
    return actual


async def resume_disk(guard: WorkspaceGuard, host: Host, step: Step, run: StepRun) -> None:
    """Before validating an applied run after a restart, make the disk hold its approved
    text: a server killed between the editor's apply and the disk sync left the old text
    there (docs/reliability.md case 13). A file that is neither old nor new text is the user's."""
    differs = [p for p, t in run.after.items() if read_disk(guard, p) != t]
    if not differs:
        return
    foreign = [p for p in differs if read_disk(guard, p) != run.before.get(p)]
    if foreign:
        raise SessionError(
            f"step {step.order}: {', '.join(foreign)} changed since the step was applied; "
            "undo the step or edit by hand",
            "conflict",
        )
    await sync_disk(guard, host, run.after)
