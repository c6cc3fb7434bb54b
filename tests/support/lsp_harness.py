"""End-to-end harness: the real server as a subprocess, driven by a pytest-lsp client that
declares a real editor's capabilities and answers `workspace/applyEdit` like that editor would.

Profiles: "legacy" (an editor with showDocument but without LSP 3.18 content documents),
"vscode" (VS Code 1.100 with the planfirst extension: LSP 3.18 content documents,
showDocument, change annotations, saves on `planfirst/saveDocuments`) and "neovim" (0.7: no
showDocument, no textDocumentContent, no change annotations, never saves buffers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Union
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound
from pytest_lsp import LanguageClient, make_test_lsp_client

from planfirst.core.editing.edits import TextEdit, apply_edits

PROFILES = ("vscode", "neovim")

# Capability profiles recorded from the real editors (tests/e2e/profiles/capture.sh; the VS Code
# one ships with pytest-lsp): clientInfo and capabilities exactly as each editor sends them.
PROFILE_DIR = Path(__file__).resolve().parents[1] / "e2e" / "profiles"
REAL_PROFILES = ("vscode-1.100", "nvim-0.7", "nvim-0.12", "eglot-1.9")
CANNOT_ASK = (
    "<MethodNotFound>"  # Editor.answer: the client answers showMessageRequest with an error
)


def real_profile(profile: str) -> tuple[types.ClientCapabilities, types.ClientInfo | None]:
    """A recorded profile's capabilities and clientInfo."""
    from lsprotocol.converters import get_converter

    data = json.loads((PROFILE_DIR / f"{profile}.json").read_text(encoding="utf-8"))
    conv = get_converter()
    caps = conv.structure(data["capabilities"], types.ClientCapabilities)
    info = conv.structure(data["clientInfo"], types.ClientInfo) if data.get("clientInfo") else None
    return caps, info


def capabilities(profile: str) -> types.ClientCapabilities:
    """Client capabilities as the named editor declares them."""
    vscode = profile == "vscode"
    return types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(
                document_changes=True,
                resource_operations=[
                    types.ResourceOperationKind.Create,
                    types.ResourceOperationKind.Rename,
                    types.ResourceOperationKind.Delete,
                ],
                change_annotation_support=(
                    types.ChangeAnnotationsSupportOptions(groups_on_label=True) if vscode else None
                ),
            ),
            configuration=True,
            code_lens=types.CodeLensWorkspaceClientCapabilities(refresh_support=True)
            if vscode
            else None,
            text_document_content=(
                types.TextDocumentContentClientCapabilities(dynamic_registration=False)
                if vscode
                else None
            ),
        ),
        window=types.WindowClientCapabilities(
            work_done_progress=True,
            show_message=types.ShowMessageRequestClientCapabilities(),
            show_document=types.ShowDocumentClientCapabilities(support=True)
            if profile != "neovim"
            else None,
        ),
        general=types.GeneralClientCapabilities(
            position_encodings=[types.PositionEncodingKind.Utf16]
        ),
        experimental={"planfirst": {"saveDocuments": True, "notices": True}} if vscode else None,
    )


def _uri_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def make_client() -> LanguageClient:
    """pytest-lsp's client with lsprotocol's CodeAction-with-command misparse fixed."""
    client = make_test_lsp_client()
    conv = client.protocol._converter

    def hook(obj: Any, _type: Any) -> Any:
        if isinstance(obj.get("command"), str):
            return conv.structure(obj, types.Command)
        return conv.structure(obj, types.CodeAction)

    conv.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007
    return client


class Editor:
    """What the fake editor did: edits seen, buffers it holds, how it answers."""

    def __init__(self, root: Path, profile: str) -> None:
        self.root = root
        self.profile = profile
        self.accept = True  # answer to the next applyEdit
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.buffers: dict[Path, str] = {}  # text the editor holds after applying (unsaved)
        self.saved: list[str] = []
        self.questions: list[str] = []
        self.answer: str | None = "Yes"  # answer to showMessageRequest
        self.on_question: Callable[[str], None] | None = None  # called first: may set `answer`
        self.statuses: list[dict[str, Any]] = []
        self.registrations: list[types.Registration] = []  # client/registerCapability
        self.notices: list[dict[str, Any]] = []  # planfirst/notice (the VS Code extension's)
        self.refreshed: list[str] = []
        self.init_result: types.InitializeResult | None = None
        self.untick: set[str] = set()  # path suffixes whose edits the user unticks in the preview
        self.answers: list[bool] = []  # answers to the next applyEdits, in order (then `accept`)
        self.hold: asyncio.Event | None = None  # when set, applyEdit is answered only once it fires
        self.bom: set[Path] = set()  # files loaded with a UTF-8 BOM (put back on save)
        self.config_pulls = 0  # workspace/configuration requests answered
        self.saves = True  # False: planfirst/saveDocuments saves nothing (a save that failed)

    def unticked(self, p: Path) -> bool:
        """Whether the user unticks this file in the preview (its creation and its edits)."""
        return any(p.as_posix().endswith(u) for u in self.untick)

    def load(self, p: Path) -> str:
        """A file's text as an editor loads it: the exact bytes decoded (CRLF kept), a UTF-8
        BOM taken off and remembered for the save (VS Code and Neovim both do this)."""
        if not p.exists():
            return ""
        text = p.read_bytes().decode("utf-8")
        if text.startswith("\ufeff"):
            self.bom.add(p)
            text = text[1:]
        return text

    def save(self, p: Path) -> None:
        """Write a buffer to disk byte-exactly (no newline translation; the BOM put back)."""
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes((("\ufeff" if p in self.bom else "") + self.buffers[p]).encode("utf-8"))

    def open_text(self, p: Path) -> str:
        """What the editor sends in didOpen for `p` (loaded from disk, BOM off)."""
        self.buffers[p] = self.load(p)
        return self.buffers[p]

    def apply(self, edit: types.WorkspaceEdit) -> None:
        """Apply a WorkspaceEdit to the buffers, like an editor does (nothing saved)."""
        for ch in edit.document_changes or []:
            if isinstance(ch, types.CreateFile):
                p = _uri_path(ch.uri)
                if not self.unticked(p):
                    self.buffers.setdefault(p, "")
            elif isinstance(ch, types.DeleteFile):
                p = _uri_path(ch.uri)
                if self.unticked(p):
                    continue
                self.buffers.pop(p, None)
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            elif isinstance(ch, types.TextDocumentEdit):
                p = _uri_path(ch.text_document.uri)
                if self.unticked(p):
                    continue
                base = self.buffers.get(p)
                if base is None:
                    base = self.load(p)
                core = [
                    TextEdit(
                        e.range.start.line,
                        e.range.start.character,
                        e.range.end.line,
                        e.range.end.character,
                        e.new_text,
                    )
                    for e in ch.edits
                ]
                self.buffers[p] = apply_edits(base, core, "utf-16")
        for uri, edits in (edit.changes or {}).items():
            p = _uri_path(uri)
            base = self.buffers[p] if p in self.buffers else self.load(p)
            core = [
                TextEdit(
                    e.range.start.line,
                    e.range.start.character,
                    e.range.end.line,
                    e.range.end.character,
                    e.new_text,
                )
                for e in edits
            ]
            self.buffers[p] = apply_edits(base, core, "utf-16")


def write_script(tmp: Path, turns: list[dict[str, Any]]) -> Path:
    """A scripted-model file for the server under test."""
    path = tmp / f"script-{len(list(tmp.glob('script-*.json')))}.json"
    path.write_text(json.dumps({"turns": turns}), encoding="utf-8")
    return path


def server_env(script: Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: no real key, the scripted model when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    if script is not None:
        env["PLANFIRST_SCRIPT"] = str(script)
    env.update(extra or {})
    return env


@contextlib.asynccontextmanager
async def lsp_session(
    root: Path,
    profile: str = "vscode",
    script: Path | None = None,
    *,
    init_options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[LanguageClient, Editor]]:
    """Start `python -I -m planfirst serve` for `root` and initialise it as `profile`."""
    client = make_client()
    editor = Editor(root, profile)

    get_configuration = client.get_configuration

    def counted_get_configuration(*args: Any, **kwargs: Any) -> Any:
        editor.config_pulls += 1
        return get_configuration(*args, **kwargs)

    client.get_configuration = counted_get_configuration  # type: ignore[method-assign]

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    async def on_apply(
        ls: LanguageClient, params: types.ApplyWorkspaceEditParams
    ) -> types.ApplyWorkspaceEditResult:
        editor.edits.append(params)
        if editor.hold is not None:  # the preview stays open until the test answers it
            await editor.hold.wait()
        accept = editor.answers.pop(0) if editor.answers else editor.accept
        if not accept:
            return types.ApplyWorkspaceEditResult(
                applied=False, failure_reason="user rejected the preview"
            )
        editor.apply(params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    @client.feature("planfirst/saveDocuments")
    def on_save(ls: LanguageClient, params: Any) -> dict[str, Any]:
        uris = params.uris if hasattr(params, "uris") else params["uris"]
        # like the extension: a buffer is saved; a file with no buffer is reported when it
        # exists (nothing to save: the disk is the document); one that does not exist cannot
        # be opened, so it is not reported
        saved: list[str] = []
        for uri in uris if editor.saves else []:
            p = _uri_path(uri)
            if p in editor.buffers:
                editor.save(p)
                editor.saved.append(uri)
                saved.append(uri)
            elif p.exists():
                saved.append(uri)
        return {"saved": saved}

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def on_question(
        ls: LanguageClient, params: types.ShowMessageRequestParams
    ) -> types.MessageActionItem | None:
        editor.questions.append(params.message)
        if editor.on_question is not None:
            editor.on_question(params.message)
        if editor.answer == CANNOT_ASK:
            raise JsonRpcMethodNotFound.of(types.WINDOW_SHOW_MESSAGE_REQUEST)
        if editor.answer is None:
            return None
        titles = [a.title for a in params.actions or []]
        pick = (
            editor.answer if editor.answer in titles else (titles[0] if titles else editor.answer)
        )
        return types.MessageActionItem(title=pick)

    @client.feature("planfirst/status")
    def on_status(ls: LanguageClient, params: Any) -> None:
        # pygls hands a custom notification's params over as a namedtuple (no __dict__)
        as_dict = getattr(params, "_asdict", None)
        editor.statuses.append(
            params if isinstance(params, dict) else as_dict() if as_dict else dict(vars(params))
        )

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(ls: LanguageClient, params: types.RegistrationParams) -> None:
        editor.registrations.extend(params.registrations)

    @client.feature("planfirst/notice")
    def on_notice(ls: LanguageClient, params: Any) -> None:
        as_dict = getattr(params, "_asdict", None)
        editor.notices.append(
            params if isinstance(params, dict) else as_dict() if as_dict else dict(vars(params))
        )

    @client.feature(types.WORKSPACE_TEXT_DOCUMENT_CONTENT_REFRESH)
    def on_refresh(ls: LanguageClient, params: types.TextDocumentContentRefreshParams) -> None:
        editor.refreshed.append(params.uri)

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def on_lens_refresh(ls: LanguageClient, params: Any) -> None:
        return None

    if profile.removesuffix("+snippet") in REAL_PROFILES:
        caps, info = real_profile(profile.removesuffix("+snippet"))
        if profile.endswith("+snippet"):  # the README's Emacs snippet: it saves on request
            caps.experimental = {"planfirst": {"saveDocuments": True}}
    else:  # VS Code names itself; the other synthetic profiles send no clientInfo
        caps = capabilities(profile)
        info = (
            types.ClientInfo(name="Visual Studio Code", version="1.100.3")
            if profile == "vscode"
            else None
        )
    await client.start_io(
        sys.executable, "-I", "-m", "planfirst", "serve", env=server_env(script, env), cwd=str(root)
    )
    try:
        editor.init_result = await client.initialize_session(
            types.InitializeParams(
                capabilities=caps,
                client_info=info,
                root_uri=root.resolve().as_uri(),
                workspace_folders=[
                    types.WorkspaceFolder(uri=root.resolve().as_uri(), name=root.name)
                ],
                initialization_options=init_options or {},
            )
        )
        yield client, editor
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 10)
        with contextlib.suppress(Exception):
            await client.stop()


async def command(client: LanguageClient, name: str, args: dict[str, Any] | None = None) -> Any:
    """workspace/executeCommand with ONE object argument."""
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=[args or {}])
    )
