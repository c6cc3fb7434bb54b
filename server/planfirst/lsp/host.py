"""The language server as the core's Host: edits, saves, questions, progress, diagnostics."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from planfirst.core.editing.executor import ProposedChange
from planfirst.core.problems.base import Problem
from planfirst.core.workflow.session import ApplyOutcome
from planfirst.core.workspace.path_syntax import PathError
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.lsp import convert, preview
from planfirst.plan.store import StoreError, atomic_write
from planfirst.plan.visible import encode

if TYPE_CHECKING:
    from planfirst.lsp.server import PlanfirstServer

LEVELS = {
    "error": types.MessageType.Error,
    "warning": types.MessageType.Warning,
    "info": types.MessageType.Info,
}


REPORT_GAP_S = 0.05  # progress reports closer than this: only the last is sent
_waiting: set[LspProgress] = set()  # progresses holding a report back for the gap


def flush_progress() -> None:
    """Send every report held back for the gap now: the server is about to wait for the user
    (a review, a question), who must see what it waits for."""
    for progress in list(_waiting):
        progress.send_pending()


class LspProgress:
    """Work-done progress for one command; cancelling it in the editor cancels the command."""

    def __init__(self, ls: PlanfirstServer, title: str) -> None:
        self.ls = ls
        self.title = title
        self.token: str | None = None
        self.last: tuple[str, int | None] | None = None
        self._last_sent = 0.0
        self._pending: tuple[str, int] | None = None  # a report waiting for the gap
        self._timer: asyncio.TimerHandle | None = None

    async def begin(self, task: asyncio.Task[Any] | None) -> None:
        """Create the token and begin (only when the client supports progress)."""
        if not self.ls.caps.progress:
            return
        token = f"planfirst-{uuid.uuid4()}"
        try:
            await asyncio.wait_for(self.ls.work_done_progress.create_async(token), timeout=5)
        except Exception:  # a client that cannot create progress still gets the command done
            return
        self.token = token
        self.ls.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=self.title, cancellable=True, percentage=0)
        )
        fut = self.ls.work_done_progress.tokens.get(token)
        if fut is not None and task is not None:
            loop = asyncio.get_running_loop()

            def on_done(f: Any) -> None:
                if f.cancelled():
                    loop.call_soon_threadsafe(task.cancel)

            fut.add_done_callback(on_done)

    def report(self, message: str, percentage: int | None = None) -> None:
        """Report, at most every REPORT_GAP_S (50 ms): a report that comes sooner waits for the
        rest of the gap and is sent then unless a newer one replaced it — a phase that ends
        before anyone could read it costs no message (#32: a step sent nine, each one a write
        the editor must wake up for). The same message again is not repeated within 0.5 s.
        Every report carries a percentage (the last one when none is given): VS Code drops
        reports without one once the progress began with one."""
        if self.token is None:
            return
        if percentage is None:
            percentage = self.last[1] if self.last and self.last[1] is not None else 0
        now = time.monotonic()
        if (message, percentage) == self.last and now - self._last_sent < 0.5:
            return
        self.last = (message, percentage)
        wait = REPORT_GAP_S - (now - self._last_sent)
        if wait > 0:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop (a synchronous caller): now
                loop = None
            if loop is not None:
                self._pending = (message, percentage)
                _waiting.add(self)
                if self._timer is None:
                    self._timer = loop.call_later(wait, self.send_pending)
                return
        self._drop_pending()  # a report held back is older than this one: never sent after it
        self._send(message, percentage)

    def _drop_pending(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending = None
        _waiting.discard(self)

    def send_pending(self) -> None:
        """Send the report held back for the gap, if any."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        _waiting.discard(self)
        pending, self._pending = self._pending, None
        if pending is not None:
            self._send(*pending)

    def _send(self, message: str, percentage: int) -> None:
        if self.token is None:
            return
        self._last_sent = time.monotonic()
        self.ls.work_done_progress.report(
            self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
        )

    def end(self, message: str) -> None:
        """End the progress (always sent once begun); a report still waiting is dropped."""
        self._drop_pending()
        if self.token is not None:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.token = None


class LspHost:
    """Implements core.session.Host on top of a PlanfirstServer."""

    def __init__(self, ls: PlanfirstServer, root: Path) -> None:
        self.ls = ls
        self.root = root
        self._guard: WorkspaceGuard | None = None
        self._refresh_pending: set[str] = set()

    def _rel(self, uri: str) -> str | None:
        try:  # through the guard: real paths, compared component by component
            return self._guarded().rel(uri) if uri.startswith("file:") else None
        except PathError:
            return None

    def open_documents(self) -> dict[str, str]:
        """Text of every open file document in the workspace (editor buffers win over disk)."""
        out: dict[str, str] = {}
        for uri, doc in list(self.ls.workspace.text_documents.items()):
            rel = self._rel(uri)
            if rel is not None:
                out[rel] = doc.source
        return out

    def _versions(self) -> dict[str, tuple[int | None, str]]:
        out: dict[str, tuple[int | None, str]] = {}
        for uri, doc in list(self.ls.workspace.text_documents.items()):
            rel = self._rel(uri)
            if rel is not None:
                out[rel] = (doc.version, doc.source)
        return out

    def _stale_buffers(self, change: ProposedChange) -> tuple[dict[str, int | None], str | None]:
        """The versions of the open documents the change touches, or why it cannot be sent: a
        document whose text is no longer the text the change was computed from."""
        held = self._versions()
        versions: dict[str, int | None] = {}
        for f in change.files:
            if f.path in held:
                version, text = held[f.path]
                if f.old is not None and text != f.old:
                    return (
                        versions,
                        f"{f.path} changed in the editor while the step was prepared; retry the step",
                    )
                versions[f.path] = version
        return versions, None

    async def apply_change(
        self, change: ProposedChange, label: str, description: str
    ) -> ApplyOutcome:
        """Send ONE workspace/applyEdit. An editor with a real preview (VS Code) previews the
        annotated edit; for every other editor planfirst shows its own preview first and sends
        the edit only after Apply (lsp/preview.py)."""
        flush_progress()  # "waiting for you to review the edit" shows while you do
        versions, stale = self._stale_buffers(change)
        if stale:
            return ApplyOutcome(False, stale)
        caps = self.ls.caps
        ops = caps.resource_operations
        doc_changes = caps.document_changes  # lsp/capabilities.py: implied by resource operations
        creates = [f.path for f in change.files if f.old is None and f.new is not None]
        deletes = any(f.new is None for f in change.files)
        can_create = doc_changes and "create" in ops
        can_delete = doc_changes and "delete" in ops
        own = not preview.editor_previews(self.ls)
        if ((creates and not can_create) or (deletes and not can_delete)) and not own:
            return ApplyOutcome(
                False,
                "the editor cannot create or delete files through LSP (no create/delete resource operations); "
                'with planfirst.preview "auto" or "planfirst" planfirst does it after its own preview',
            )
        annotations = caps.change_annotations
        if own:
            try:
                chosen = await self.ls.previews.review(change, label, description)
            except StoreError as e:  # a link or FIFO planted where the preview goes (case 36)
                return ApplyOutcome(False, f"planfirst's preview could not be written: {e}")
            if not chosen:
                return ApplyOutcome(False, "discarded in planfirst's preview")
            versions, stale = self._stale_buffers(change)  # the user may have typed meanwhile
            if stale:
                return ApplyOutcome(False, stale)
            annotations = False  # reviewed and applied: no second confirmation in the editor
        # an editor that cannot create files gets no edit for them: after Apply in planfirst's
        # preview the server writes each new file whole, so the disk holds the approved text
        # whether or not the editor ever opens or saves it (eglot without the README snippet,
        # #29), and no editor buffer is left holding a text the server wrote under it
        made = [] if can_create else self._write_created(change, creates)
        written = {rel for rel, _, _ in made}
        rest = ProposedChange([f for f in change.files if f.path not in written], change.sent)
        if rest.empty:
            return ApplyOutcome(True)
        edit = convert.workspace_edit(
            rest,
            self.root,
            label=label,
            description=description,
            versions=versions,
            encoding=self.ls.encoding(),
            annotations=annotations,
            document_changes=doc_changes,
            create_files=can_create,
            delete_files=can_delete,
            implicit_final_newline=self._client_name() == "neovim",
        )
        outcome = await self._send(edit, label)
        if outcome.applied:
            await self._buffers_synced(rest)
            return outcome
        for _, path, text in made:  # not applied: the files the server wrote go again (unchanged)
            with contextlib.suppress(OSError, UnicodeDecodeError):
                with open(path, encoding="utf-8", newline="") as f:
                    same = f.read() == text
                if same:
                    path.unlink()
        return outcome

    async def _buffers_synced(self, change: ProposedChange, limit_s: float = 3.0) -> None:
        """Give the editor a moment to report the applied text of the documents it holds (eglot
        sends didChange from an idle timer): the next attempt reads the editor's text."""
        loop = asyncio.get_running_loop()
        end = loop.time() + limit_s
        while loop.time() < end:
            held = self._versions()
            if all(
                held[f.path][1].rstrip("\n") == (f.new or "").rstrip("\n")
                for f in change.files
                if f.path in held
            ):
                return
            await asyncio.sleep(0.05)

    def _client_name(self) -> str:
        info = self.ls.client_info
        return (info.name if info else "").lower()

    def _write_created(
        self, change: ProposedChange, rels: list[str]
    ) -> list[tuple[str, Path, str]]:
        """Write the new files of `change` whole, for an editor that cannot create files (after
        Apply in planfirst's preview); returns (path, real path, text) of each file written. A
        path that exists by now, that the editor holds open or that cannot be written is left to
        the editor's edit (and the disk sync's checks)."""
        made = []
        texts = {f.path: f.new for f in change.files}
        held = self._versions()  # a document the editor holds gets the edit (as before)
        for rel in rels:
            text = texts.get(rel)
            if rel in held:
                continue
            try:
                path = self._guarded().resolve(rel)
            except PathError:
                continue
            if text is None or path.exists():
                continue
            try:
                atomic_write(path, text, durable=False, keep_mode=True)
            except OSError:
                continue
            made.append((rel, path, text))
        return made

    def _guarded(self) -> WorkspaceGuard:
        if self._guard is None:
            self._guard = WorkspaceGuard(self.root)
        return self._guard

    async def _send(self, edit: types.WorkspaceEdit, label: str) -> ApplyOutcome:
        try:
            result = await self.ls.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=encode(label))
            )
        except Exception as e:  # the client errored instead of answering: treat as not applied
            return ApplyOutcome(False, f"the editor could not apply the edit: {e}")
        if result is None or not result.applied:
            return ApplyOutcome(
                False, (result.failure_reason if result else None) or "rejected in the editor"
            )
        return ApplyOutcome(True)

    def saves_documents(self) -> bool:
        """Whether the editor is the only writer of applied documents: it saves them (the VS Code
        extension) and previews the edit itself, where the user may untick part of it (then
        what the user did not apply is never written). An editor that applies planfirst's
        reviewed edit whole (eglot with the README snippet) saves what it can, and the server
        writes what it did not save, so the disk holds the approved text in every client (#29)."""
        return self.ls.client_saves() and preview.editor_previews(self.ls)

    async def save_documents(self, paths: list[str]) -> list[str]:
        """Ask an editor that can save (the VS Code extension) to save the touched documents;
        returns the paths it reports saved (their disk text is what the user applied)."""
        if not self.ls.client_saves():
            return []
        by_uri = {convert.path_to_uri(self.root / p): p for p in paths}
        try:
            answer = await asyncio.wait_for(
                self.ls.protocol.send_request_async(
                    "planfirst/saveDocuments", {"uris": list(by_uri)}
                ),
                15,
            )
        except Exception:  # no answer: the server writes the approved text itself
            return []
        saved = answer.get("saved") if isinstance(answer, dict) else getattr(answer, "saved", None)
        return [by_uri[u] for u in saved or [] if u in by_uri]

    async def confirm(self, question: str) -> bool | None:
        """Ask yes/no with window/showMessageRequest, a base request every client gets (the
        `window.showMessage` capability only describes action items; eglot 1.9 declares no window
        capabilities and answers it). None when the client answers with an error (MethodNotFound):
        it cannot ask."""
        flush_progress()
        try:
            answer = await self.ls.window_show_message_request_async(
                types.ShowMessageRequestParams(
                    type=types.MessageType.Warning,
                    message=f"planfirst: {question}",
                    actions=[
                        types.MessageActionItem(title="Yes"),
                        types.MessageActionItem(title="No"),
                    ],
                )
            )
        except Exception:
            return None
        return bool(answer and answer.title == "Yes")

    def log(self, text: str) -> None:
        """A line in the editor's planfirst output channel."""
        self.ls.window_log_message(types.LogMessageParams(type=types.MessageType.Log, message=text))

    def notify(self, message: str, level: str = "info") -> None:
        """A message the user sees."""
        self.ls.window_show_message(
            types.ShowMessageParams(
                type=LEVELS.get(level, types.MessageType.Info), message=f"planfirst: {message}"
            )
        )

    def publish_problems(self, problems: dict[str, list[Problem]]) -> None:
        """Validation failures as diagnostics on the affected files (empty list clears)."""
        for rel, items in problems.items():
            uri = convert.path_to_uri(self.root / rel)
            doc = self.ls.workspace.text_documents.get(uri)
            self.ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(
                    uri=uri,
                    diagnostics=[convert.diagnostic(p) for p in items],
                    version=doc.version if doc else None,
                )
            )

    def plan_changed(self, plan_id: str) -> None:
        """Refresh the plan document, its code lenses, its diagnostics and the status bar."""
        self.ls.plan_changed(plan_id)

    def plan_started(self, plan_id: str, title: str) -> None:
        """Open the (still empty) plan document so the user watches it being written."""
        self.ls.open_plan_soon(plan_id)
