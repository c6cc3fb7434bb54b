"""pygls quirks worked around, in one place, each with the pygls version it was checked on.

pygls 2.1.1: `TextDocument.lines` is `source.splitlines(True)`, which also ends a line at
\\v, \\f, \\x1c-\\x1e, \\x85, U+2028 and U+2029. LSP counts lines only at \\n, \\r\\n and \\r, so
an incremental `textDocument/didChange` after such a character landed on the wrong line of the
server's copy, and planfirst then wrote that copy to disk (the user's `c = 33` became
`b = 33`; docs/reliability.md, #23 case 11). Documents here split lines as LSP does.

pygls 2.1.1: a command runs in its own task while the request's future belongs to the generator
that dispatched it, so `$/cancelRequest` never reaches the command: `request_future` finds the
future by the message id (private attributes of the protocol).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import Workspace
from pygls.workspace.text_document import TextDocument

# a line and its end; the last line may have none. Linear: each alternative is anchored on a
# newline or the end of the text.
log = logging.getLogger("planfirst")

_LSP_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def lsp_lines(text: str) -> tuple[str, ...]:
    """`text` split into lines as LSP counts them (only \\n, \\r\\n, \\r end a line), ends kept."""
    return tuple(_LSP_LINE.findall(text))


class LspTextDocument(TextDocument):
    """A pygls TextDocument whose lines (and so its position arithmetic) follow LSP."""

    @property
    def lines(self) -> Sequence[str]:
        return lsp_lines(self.source)


class LspWorkspace(Workspace):
    """A pygls Workspace that creates LspTextDocuments."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LspTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )

    def update_text_document(
        self,
        text_doc: types.VersionedTextDocumentIdentifier,
        change: types.TextDocumentContentChangeEvent,
    ) -> None:
        """pygls 2.1.1 raises KeyError for a didChange of a document that was never opened (or
        already closed), and shows it to the user as "Error in server: KeyError: 'file:///…'":
        the change of a document planfirst does not hold is ignored (rt5)."""
        if unquote(text_doc.uri) not in self._text_documents:
            log.warning("ignoring didChange of %s: it is not open", text_doc.uri[:200])
            return
        super().update_text_document(text_doc, change)


def fix_workspace(workspace: Any) -> None:
    """Make the workspace pygls built in `initialize` create LSP-line documents (pygls builds
    it inside its own initialize handler, so it cannot be given a subclass up front)."""
    if type(workspace) is Workspace:
        workspace.__class__ = LspWorkspace


def request_future(server: Any) -> Any:
    """The future of the request being handled in this context (None when pygls changed)."""
    try:
        msg_id = server.protocol._ctx_msg_id.get()
        return server.protocol._request_futures.get(msg_id) if msg_id is not None else None
    except (AttributeError, LookupError) as e:
        log.warning("pygls internals changed; $/cancelRequest cannot stop commands: %r", e)
        return None


def cancel_pending_requests(protocol: Any, keep: Any) -> None:
    """What pygls 2.1.1's `shutdown` does, over a copy of the pending requests (cancelling one
    removes it from the dictionary pygls iterates), then marks the protocol shut down so that
    `exit` ends the process with 0."""
    for msg_id, future in list(protocol._request_futures.items()):
        if msg_id != keep and not future.done():
            future.cancel()
    protocol._shutdown = True


def withdraw_request(protocol: Any, msg_id: Any) -> None:
    """Stop waiting for the answer to a request planfirst sent, and tell the client
    (`$/cancelRequest`): pygls 2.1.1 has no public way to drop a pending request's future."""
    fut = protocol._request_futures.pop(msg_id, None)
    if fut is not None:
        fut.cancel()
    protocol.notify("$/cancelRequest", types.CancelParams(id=msg_id))
