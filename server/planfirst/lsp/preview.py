"""planfirst's own preview of a step's edit, for editors that show none.

VS Code shows a real preview of an edit whose change annotation needs confirmation (the user
ticks and applies it); Neovim 0.7 applies such an edit silently, Neovim 0.12 asks "Apply all
changes?" without showing them, eglot asks y/n, Helix and Zed apply at once. For those clients
planfirst shows the change itself before anything is sent: a unified diff document per attempt
(a `planfirst:` virtual document where the client serves them, else a file under
`.planfirst/plans/<id>/` opened with `window/showDocument`), with code lenses "Apply step N" /
"Discard" on it and the same choice asked with `window/showMessageRequest`. `workspace/applyEdit`
is sent only after Apply; Discard leaves everything untouched, like a rejected VS Code preview.

Which clients preview is decided by `planfirst.preview`: "editor" (trust the editor), "planfirst"
(always show planfirst's own), "auto" (the default: the editor's preview for clients known to show
one for annotated edits, planfirst's for every other).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from planfirst.core.editing.executor import ProposedChange
from planfirst.lsp import pygls_compat
from planfirst.lsp.callbacks import logged
from planfirst.plan.visible import encode

if TYPE_CHECKING:
    from planfirst.lsp.server import PlanfirstServer

log = logging.getLogger("planfirst")

# clientInfo names (lower case, substrings) of clients that show a real preview of an edit whose
# change annotation needs confirmation. The VS Code family shows its Refactor Preview; the
# terminal client (`planfirst run`) prints the diff and asks.
PREVIEWING_CLIENTS = (
    "visual studio code",
    "code - oss",
    "vscodium",
    "code-server",
    "cursor",
    "planfirst-terminal",
)

APPLY_COMMAND = "planfirst.applyPreview"
DISCARD_COMMAND = "planfirst.discardPreview"
DISCARD = "Discard"


def editor_previews(server: PlanfirstServer) -> bool:
    """Whether the client shows a real preview of annotated edits (per `planfirst.preview`)."""
    mode = server.settings.preview
    if mode == "editor":
        return True
    if mode == "planfirst":
        return False
    if not server.caps.change_annotations:
        return False  # no annotations, no confirmation: nothing the editor could preview
    name = server.caps.client_name.lower()
    return any(n in name for n in PREVIEWING_CLIENTS)


@dataclass
class Pending:
    """One preview waiting for the user's choice."""

    key: str  # "<plan id>/<document name>"
    plan_id: str
    step: int | None
    attempt: int | None
    uri: str
    text: str
    apply_title: str
    future: asyncio.Future[bool]
    question_id: str | None = None


@dataclass
class Target:
    """What a proposed edit belongs to (for the document's name, title and lenses)."""

    plan_id: str
    step: int | None
    attempt: int | None
    undo: bool = False

    @property
    def name(self) -> str:
        """The document's file name."""
        if self.step is None:
            return f"edit-{uuid.uuid4().hex[:8]}.diff"
        if self.undo:
            return f"undo-step-{self.step}-{self.attempt or 1}.diff"
        return f"step-{self.step}-attempt-{self.attempt or 1}.diff"


def target_of(server: PlanfirstServer) -> Target:
    """The plan, step and attempt the session is applying now (one editing operation at a time
    per workspace, so the busy plan that is executing or undoing is the one)."""
    session = server.session
    if session is None:
        return Target("edits", None, None)
    for pid, doing in session.busy().items():
        if not doing.startswith(("executing", "undoing")):
            continue
        try:
            plan = session.load(pid)
        except Exception:
            return Target(pid, None, None)
        if doing.startswith("undoing"):
            try:
                order = int(doing.rsplit(" ", 1)[-1])
                return Target(pid, order, len(plan.state(order).runs) + 1, undo=True)
            except (ValueError, KeyError):
                return Target(pid, None, None)
        for st in plan.steps:
            if st.status.value == "running" and st.last_run is not None:
                return Target(pid, st.order, st.last_run.attempt)
        return Target(pid, None, None)
    return Target("edits", None, None)


def document_text(
    change: ProposedChange, target: Target, label: str, description: str, apply_title: str
) -> str:
    """The preview document: a short header (lines starting with '#') and the unified diff."""
    what = label or "planfirst edit"
    head = [f"# {what}"]
    if target.step is not None and not target.undo:
        head.append(f"# plan {target.plan_id} · step {target.step} · attempt {target.attempt or 1}")
    elif target.undo:
        head.append(f"# plan {target.plan_id} · undo step {target.step}")
    for line in description.strip().splitlines()[:6]:
        head.append(f"# {line}"[:200])
    files = ", ".join(
        f.path + (" (new)" if f.old is None else " (deleted)" if f.new is None else "")
        for f in change.files
    )
    head.append(f"# files: {files}")
    head.append(
        f"# Nothing is changed until you choose \u201c{apply_title}\u201d (code lens or question); "
        f"\u201c{DISCARD}\u201d leaves every file untouched."
    )
    # bidi and control characters in names, text and the diff itself shown as \u{XXXX}, so the
    # preview cannot read differently from what Apply writes (docs/reliability.md case 43)
    return encode("\n".join(head) + "\n\n" + change.diff)


class Previews:
    """The previews waiting for a choice, their documents and lenses."""

    def __init__(self, server: PlanfirstServer) -> None:
        self.server = server
        self.pending: dict[str, Pending] = {}
        self.texts: dict[str, str] = {}  # virtual document uri -> text (kept after the choice)

    # ---------------------------------------------------------------- documents

    def _uri(self, target: Target, text: str) -> str:
        ls = self.server
        if ls.caps.content_documents:
            uri = f"planfirst:/plans/{target.plan_id}/{target.name}"
            self.texts[uri] = text
            return uri
        session = ls.session
        assert session is not None
        # checked like a plan file: no link, no FIFO, nothing outside (docs/reliability.md case 36)
        path: Path = session.store.write_preview(target.plan_id, target.name, text)
        return path.resolve().as_uri()

    def content(self, uri: str) -> str | None:
        """The text of a virtual preview document."""
        return self.texts.get(uri)

    def lenses(self, uri: str) -> list[types.CodeLens]:
        """Apply / Discard on the first line of a preview still waiting for a choice."""
        for p in self.pending.values():
            if p.uri == uri or _same_file(p.uri, uri):
                rng = types.Range(
                    start=types.Position(line=0, character=0),
                    end=types.Position(line=0, character=0),
                )
                args = [{"planId": p.plan_id, "step": p.step, "attempt": p.attempt}]
                return [
                    types.CodeLens(
                        range=rng,
                        command=types.Command(
                            title=f"\u2713 {p.apply_title}", command=APPLY_COMMAND, arguments=args
                        ),
                    ),
                    types.CodeLens(
                        range=rng,
                        command=types.Command(
                            title=f"\u2717 {DISCARD}", command=DISCARD_COMMAND, arguments=args
                        ),
                    ),
                ]
        return []

    # ---------------------------------------------------------------- choice

    def decide(
        self, apply: bool, plan_id: str | None, step: int | None, attempt: int | None
    ) -> Pending | None:
        """Resolve the matching waiting preview (the newest when nothing is named)."""
        for p in reversed(list(self.pending.values())):
            if plan_id is not None and p.plan_id != plan_id:
                continue
            if step is not None and p.step != step:
                continue
            if attempt is not None and p.attempt != attempt:
                continue
            if not p.future.done():
                p.future.set_result(apply)
            return p
        return None

    async def review(self, change: ProposedChange, label: str, description: str) -> bool:
        """Show the change, wait for Apply (True) or Discard (False)."""
        ls = self.server
        target = target_of(ls)
        apply_title = (
            f"Apply step {target.step}"
            if target.step is not None and not target.undo
            else (f"Apply undo of step {target.step}" if target.undo else "Apply")
        )
        text = document_text(change, target, label, description, apply_title)
        uri = self._uri(target, text)
        loop = asyncio.get_running_loop()
        pending = Pending(
            key=f"{target.plan_id}/{target.name}",
            plan_id=target.plan_id,
            step=target.step,
            attempt=target.attempt,
            uri=uri,
            text=text,
            apply_title=apply_title,
            future=loop.create_future(),
        )
        self.pending[pending.key] = pending
        ask: asyncio.Task[None] | None = None
        try:
            self._refresh(uri)
            shown = await self._show(uri)
            ask = asyncio.ensure_future(self._ask(pending, change, shown))
            return await pending.future
        finally:
            self.pending.pop(pending.key, None)
            if ask is not None and not ask.done():
                ask.cancel()
            self._withdraw_question(pending)
            self._refresh(uri)

    def _refresh(self, uri: str) -> None:
        ls = self.server
        if uri.startswith("planfirst:") and ls.caps.content_documents:
            logged(
                "refreshing the preview document",
                lambda: ls.workspace_text_document_content_refresh(
                    types.TextDocumentContentRefreshParams(uri=uri)
                ),
            )
        if ls.caps.code_lens_refresh:
            logged("refreshing code lenses", lambda: ls.workspace_code_lens_refresh(None))

    async def _show(self, uri: str) -> bool:
        ls = self.server
        if not ls.caps.show_document:
            return False
        try:
            res = await asyncio.wait_for(
                ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True)),
                10,
            )
        except Exception:
            return False
        return bool(res and res.success)

    async def _ask(self, p: Pending, change: ProposedChange, shown: bool) -> None:
        """The same choice as a question; an error answer leaves the lenses and commands."""
        where = (
            "the diff is open in the editor"
            if shown
            else f"the diff is in {_display(p.uri, self.server)}"
        )
        files = encode(", ".join(f.path for f in change.files))[:300]
        what = "the undo" if p.apply_title.startswith("Apply undo") else "the change"
        msg = f"planfirst: {what} to {files} is ready for review; {where}. {p.apply_title}, or {DISCARD} (nothing changes)?"
        p.question_id = f"planfirst-preview-{uuid.uuid4()}"
        params = types.ShowMessageRequestParams(
            type=types.MessageType.Info,
            message=msg,
            actions=[
                types.MessageActionItem(title=p.apply_title),
                types.MessageActionItem(title=DISCARD),
            ],
        )
        try:
            fut = self.server.protocol.send_request(
                types.WINDOW_SHOW_MESSAGE_REQUEST, params, msg_id=p.question_id
            )
            answer = await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # cannot ask: the lenses and planfirst.applyPreview still decide
            log.info("preview question failed (%r); waiting for the lens or command", e)
            self._log(
                f"{p.apply_title}: {where}; apply with the code lens or the planfirst.applyPreview command"
            )
            return
        finally:
            p.question_id = None
        title = getattr(answer, "title", None) if answer is not None else None
        if title is None and isinstance(answer, dict):
            title = answer.get("title")
        if title == p.apply_title:
            if not p.future.done():
                p.future.set_result(True)
        elif title == DISCARD:
            if not p.future.done():
                p.future.set_result(False)
        else:  # dismissed: the preview stays, the lens or command decides
            self._log(
                f"{p.apply_title} is waiting: use the code lens on the diff or planfirst.applyPreview / planfirst.discardPreview"
            )

    def _withdraw_question(self, p: Pending) -> None:
        """Decided through a lens or command: withdraw the open question ($/cancelRequest)."""
        qid = p.question_id
        if qid is None:
            return
        logged(
            "withdrawing the question",
            lambda: pygls_compat.withdraw_request(self.server.protocol, qid),
        )

    def _log(self, text: str) -> None:
        logged(
            "window/logMessage",
            lambda: self.server.window_log_message(
                types.LogMessageParams(type=types.MessageType.Info, message=f"planfirst: {text}")
            ),
        )


def _same_file(a: str, b: str) -> bool:
    from planfirst.lsp import convert

    pa, pb = convert.uri_to_path(a), convert.uri_to_path(b)
    if pa is None or pb is None:
        return False
    with contextlib.suppress(OSError):
        return pa.resolve() == pb.resolve()
    return False


def _display(uri: str, server: PlanfirstServer) -> str:
    from planfirst.lsp import convert

    path = convert.uri_to_path(uri)
    if path is None or server.root is None:
        return uri
    try:
        return path.resolve().relative_to(server.root).as_posix()
    except ValueError:
        return str(path)
