"""pygls quirks worked around, in one place, each with the pygls version it was checked on.

pygls 2.1.1: `TextDocument.lines` is `source.splitlines(True)`, which also ends a line at
\\v, \\f, \\x1c-\\x1e, \\x85, U+2028 and U+2029. LSP counts lines only at \\n, \\r\\n and \\r, so
an incremental `textDocument/didChange` after such a character landed on the wrong line of the
server's copy, and planfirst then wrote that copy to disk (the user's `c = 33` became
`b = 33`; docs/reliability.md, #23 case 11). Documents here split lines as LSP does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pygls.workspace import Workspace
from pygls.workspace.text_document import TextDocument

# a line and its end; the last line may have none. Linear: each alternative is anchored on a
# newline or the end of the text.
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


def fix_workspace(workspace: Any) -> None:
    """Make the workspace pygls built in `initialize` create LSP-line documents (pygls builds
    it inside its own initialize handler, so it cannot be given a subclass up front)."""
    if type(workspace) is Workspace:
        workspace.__class__ = LspWorkspace
