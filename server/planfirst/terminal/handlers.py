"""What the server asks of the terminal, and what it tells it: edits to preview and apply,
yes/no questions, messages, the log, progress and problems (each printed through the editor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from planfirst.core.workspace.path_syntax import PathError
from planfirst.plan.visible import encode, for_terminal
from planfirst.terminal.editor import TerminalEditor
from planfirst.terminal.style import BOLD, CYAN, DIM, RED, RESET, YELLOW, colour_diff


def register(c: LanguageClient, ed: TerminalEditor) -> None:
    """Register the terminal's answers to the server's requests and notifications on `c`."""

    @c.feature(types.WORKSPACE_APPLY_EDIT)
    async def apply(
        ls: LanguageClient, params: types.ApplyWorkspaceEditParams
    ) -> types.ApplyWorkspaceEditResult:
        try:
            diff, result = ed.preview(params.edit)
        except PathError as e:
            ed.say(f"{RED}refused an edit: {e}{RESET}")
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason=str(e))
        except (OSError, UnicodeDecodeError) as e:  # a file became a directory, unreadable…
            why = f"cannot read {_name(ed, e)}: {_why(e)}"
            ed.say(f"{RED}refused an edit: {why}{RESET}")
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason=why)
        ed.say(f"\n{BOLD}{params.label or 'Proposed edit'}{RESET}")
        # bidi and invisible characters in names and text shown as \u{XXXX} (case 34)
        ed.say(colour_diff(encode(diff)) if diff else "(no textual change)")
        if await ed.ask("Apply this edit?"):
            try:
                ed.write(result)
            except OSError as e:  # nothing of it stays on disk (TerminalEditor.write)
                why = f"cannot write {_name(ed, e)}: {_why(e)}; no file of this edit was changed"
                ed.say(f"{RED}{why}{RESET}")
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason=why)
            return types.ApplyWorkspaceEditResult(applied=True)
        return types.ApplyWorkspaceEditResult(
            applied=False, failure_reason="declined in the terminal"
        )

    @c.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    async def question(
        ls: LanguageClient, params: types.ShowMessageRequestParams
    ) -> types.MessageActionItem | None:
        titles = [a.title for a in params.actions or []]
        if titles[:2] == ["Yes", "No"]:
            # command confirmations are never auto-approved by --yes: they widen what runs
            if ed.yes:
                ed.say(f"{YELLOW}{params.message}{RESET} → No (--yes does not approve commands)")
                return types.MessageActionItem(title="No")
            ok = await ed.ask(params.message)
            return types.MessageActionItem(title="Yes" if ok else "No")
        return None

    @c.feature(types.WINDOW_SHOW_MESSAGE)
    def message(ls: LanguageClient, params: types.ShowMessageParams) -> None:
        colour = {types.MessageType.Error: RED, types.MessageType.Warning: YELLOW}.get(
            params.type, CYAN
        )
        ed.say(f"{colour}{params.message}{RESET}")

    @c.feature(types.WINDOW_LOG_MESSAGE)
    def log(ls: LanguageClient, params: types.LogMessageParams) -> None:
        if params.type != types.MessageType.Log:
            return
        for line in params.message.splitlines() or [""]:
            if line.startswith("$ "):
                ed.say(f"{BOLD}{line}{RESET}")
            else:
                ed.say(f"{DIM}  │ {line}{RESET}")
            ed.last_log = line

    @c.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def create(ls: LanguageClient, params: types.WorkDoneProgressCreateParams) -> None:
        return None

    @c.feature(types.PROGRESS)
    def progress(ls: LanguageClient, params: types.ProgressParams) -> None:
        v = params.value
        msg = getattr(v, "message", None) or (v.get("message") if isinstance(v, dict) else None)
        kind = getattr(v, "kind", None) or (v.get("kind") if isinstance(v, dict) else None)
        if kind == "end":
            ed.clear_progress()
        elif msg:
            ed.show_progress(msg)

    @c.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def diagnostics(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        if not params.uri.startswith("file:"):
            return  # plan-review findings are in the printed plan already
        try:
            rel = ed.guard.rel(params.uri)
        except PathError:
            rel = params.uri
        for d in params.diagnostics[:10]:
            ed.say(
                f"{RED}  {rel}:{d.range.start.line + 1}: {d.message.splitlines()[0][:160]}{RESET}"
            )

    for method in (
        "planfirst/status",
        types.WORKSPACE_TEXT_DOCUMENT_CONTENT_REFRESH,
        types.WORKSPACE_CODE_LENS_REFRESH,
    ):

        @c.feature(method)
        def ignore(ls: LanguageClient, params: Any) -> None:
            return None


def _name(ed: TerminalEditor, e: OSError | UnicodeDecodeError) -> str:
    """The workspace-relative name of the file an error is about (escaped for the terminal)."""
    name = getattr(e, "filename", None)
    if not name:
        return "a file of the edit"
    p = Path(str(name))
    rel = p.relative_to(ed.root).as_posix() if p.is_relative_to(ed.root) else p.name
    return for_terminal(rel, one_line=True)


def _why(e: OSError | UnicodeDecodeError) -> str:
    if isinstance(e, UnicodeDecodeError):
        return "not UTF-8 text"
    return e.strerror or type(e).__name__
