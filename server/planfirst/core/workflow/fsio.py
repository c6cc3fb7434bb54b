"""Workspace file text: reading (the editor's buffer wins over the disk) and making the disk hold
the text the user approved. Every write goes through plan/store.atomic_write."""

from __future__ import annotations

import asyncio
import contextlib
import os

from planfirst.core.workflow.contracts import Host, SessionError
from planfirst.core.workflow.replay import confirm_replay
from planfirst.core.workspace.path_syntax import PathError
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.core.workspace.walk import PRUNED_DIRS
from planfirst.plan.model import Step, StepRun
from planfirst.plan.store import atomic_write

BOM = "\ufeff"


def read_disk(guard: WorkspaceGuard, rel: str) -> str | None:
    """A file's text on disk, or None when it does not exist. A UTF-8 byte order mark is not
    part of the text (editors do not show or count it: positions would be one column off);
    writes put it back (`has_bom`)."""
    path = guard.resolve(rel)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise SessionError(f"{rel} is a folder, not a file") from None
    except UnicodeDecodeError:
        raise SessionError(
            f"{rel} is not UTF-8 text (a binary file?); planfirst edits text files only"
        ) from None
    return text[1:] if text.startswith(BOM) else text


def has_bom(guard: WorkspaceGuard, rel: str) -> bool:
    """Whether the file on disk starts with a UTF-8 byte order mark."""
    try:
        with open(guard.resolve(rel), "rb") as f:
            return f.read(3) == BOM.encode()
    except OSError:
        return False


def list_dir(guard: WorkspaceGuard, rel: str) -> list[str] | None:
    """A workspace folder's entries as the model may see them (`name/` for folders; excluded,
    ignored and tool folders left out); None when `rel` ("" is the root) is not a folder."""
    try:
        path = guard.resolve(rel or ".")
    except PathError:
        return None
    if not path.is_dir() or (rel and guard.excluded(rel)):
        return None
    out = []
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return None
    for ent in entries:
        child = f"{rel}/{ent.name}" if rel else ent.name
        if ent.name in PRUNED_DIRS or guard.excluded(child):
            continue
        try:
            is_dir = guard.resolve(child).is_dir()
        except (PathError, OSError):
            continue  # a link out of the workspace is not part of it
        out.append(ent.name + ("/" if is_dir else ""))
    return out


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
    guard: WorkspaceGuard,
    host: Host,
    after: dict[str, str | None],
    before: dict[str, str | None] | None = None,
) -> dict[str, str | None]:
    """Make the disk hold exactly the text the user approved; return that text per file.

    An editor that saves (the VS Code extension) is the only writer: it reports what it saved,
    and the disk then holds what the user applied, which may differ from the proposal when
    edits (or a whole new file) were unticked in the preview; what it did not apply is never
    written. For every other editor the server writes the proposed text, which the editor
    applied whole (Neovim and most clients never save buffers themselves). With `before` (the
    text the edit was made from), a file not open in the editor whose disk holds neither that
    nor the approved text was changed by someone else meanwhile: nothing is written and the
    sync stops with a conflict, so their change is never overwritten (#23 case 5).
    """
    paths = sorted(after)
    saved = set(await host.save_documents(paths))
    editor_writes = host.saves_documents()
    open_docs = host.open_documents()
    disk = {p: read_disk(guard, p) for p in paths}
    if before is not None:
        moved = [
            p
            for p in paths
            if p not in saved and p not in open_docs and disk[p] not in (before.get(p), after[p])
        ]
        if moved:
            raise SessionError(
                f"{', '.join(moved)} changed on disk while the step was being applied; planfirst "
                "wrote nothing and validated nothing. Check the file, then undo or retry the step.",
                "conflict",
            )
    actual: dict[str, str | None] = {}
    for p in paths:
        want = after[p]
        if p in saved or editor_writes or disk[p] == want:
            actual[p] = disk[p]
            continue
        actual[p] = want
        target = guard.resolve(p)
        if want is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            continue
        # atomic: a server killed mid-write leaves the old text or the new, never half a file;
        # the file keeps its permissions (and its BOM); no fsync (a crash, not a power loss, is
        # the risk here)
        data = BOM + want if has_bom(guard, p) else want
        await asyncio.to_thread(atomic_write, target, data, durable=False, keep_mode=True)
    for p in paths:
        if read_disk(guard, p) != actual[p]:
            raise SessionError(
                f"{p} does not hold the approved text after applying; nothing was validated"
            )
    left_out, in_part = partly_applied(before, after, actual)
    if left_out or in_part:
        what = ([f"{', '.join(left_out)} left out"] if left_out else []) + (
            [f"{', '.join(in_part)} applied in part"] if in_part else []
        )
        host.notify(
            f"Partly applied: {'; '.join(what)}. planfirst validates what you applied.",
            "warning",
        )
    return actual


def partly_applied(
    before: dict[str, str | None] | None,
    after: dict[str, str | None],
    actual: dict[str, str | None],
) -> tuple[list[str], list[str]]:
    """(files left out whole, files applied in part) of a proposal `after` when the disk holds
    `actual`: a file that kept its `before` text was left out; any other difference is a part."""
    differ = [p for p in sorted(after) if actual.get(p) != after[p]]
    whole = [p for p in differ if before is not None and p in before and actual.get(p) == before[p]]
    return whole, [p for p in differ if p not in whole]


async def resume_disk(guard: WorkspaceGuard, host: Host, step: Step, run: StepRun) -> None:
    """Before validating an applied run after a restart, make the disk hold its approved
    text: a server killed between the editor's apply and the disk sync left the old text
    there (docs/reliability.md case 13). A file that is neither old nor new text is the user's."""
    what = f"step {step.order}'s stored edit"
    await confirm_replay(guard, host, run.after, [], what)  # checked like model output (case 24)
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
    await confirm_replay(guard, host, differs, differs, what)
    await sync_disk(guard, host, run.after, run.before)
