"""The client's capabilities, resolved once at `initialize` into the few answers planfirst needs
(ruff_server's `ResolvedClientCapabilities`): features read `server.caps.show_document`, not
`client_capabilities.window.show_document.support` with its None checks at every use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types


@dataclass(frozen=True)
class ResolvedClientCapabilities:
    """What this client can do, as planfirst uses it."""

    progress: bool = False  # server-initiated window/workDoneProgress
    content_documents: bool = False  # LSP 3.18 workspace/textDocumentContent (planfirst: URIs)
    show_document: bool = False  # window/showDocument
    configuration: bool = False  # workspace/configuration
    code_lens_refresh: bool = False  # workspace/codeLens/refresh
    # applies `documentChanges`: declared, or implied by resource operations (which exist only
    # inside documentChanges; Neovim 0.7 and 0.12 list them and never declare documentChanges)
    document_changes: bool = False
    resource_operations: frozenset[str] = field(default_factory=frozenset)
    change_annotations: bool = False
    # the planfirst VS Code extension: saves documents on `planfirst/saveDocuments`, and takes
    # `planfirst/notice` (a reason to act on) instead of a window/showMessage text
    saves_documents: bool = False
    notices: bool = False
    client_name: str = ""
    # workspace/didChangeWatchedFiles registered by the server (lsp/watch.py)
    watches_files: bool = False
    relative_patterns: bool = False

    @classmethod
    def resolve(
        cls, caps: types.ClientCapabilities | None, info: types.ClientInfo | None = None
    ) -> ResolvedClientCapabilities:
        """Resolve the capabilities a client declared in `initialize`."""
        caps = caps or types.ClientCapabilities()
        window, ws = caps.window, caps.workspace
        edit = ws.workspace_edit if ws else None
        ops = (
            frozenset(
                str(o.value if hasattr(o, "value") else o) for o in (edit.resource_operations or [])
            )
            if edit
            else frozenset()
        )
        watched = ws.did_change_watched_files if ws else None
        exp: Any = caps.experimental
        own: Any = exp.get("planfirst") if isinstance(exp, dict) else None
        own = own if isinstance(own, dict) else {}
        return cls(
            progress=bool(window and window.work_done_progress),
            content_documents=bool(ws and ws.text_document_content is not None),
            show_document=bool(window and window.show_document and window.show_document.support),
            configuration=bool(ws and ws.configuration),
            code_lens_refresh=bool(ws and ws.code_lens and ws.code_lens.refresh_support),
            document_changes=bool(edit and (edit.document_changes or ops)),
            resource_operations=ops,
            change_annotations=bool(edit and edit.change_annotation_support),
            saves_documents=own.get("saveDocuments") is True,
            notices=own.get("notices") is True,
            client_name=(info.name if info else "") or "",
            watches_files=bool(watched and watched.dynamic_registration),
            relative_patterns=bool(watched and watched.relative_pattern_support),
        )
