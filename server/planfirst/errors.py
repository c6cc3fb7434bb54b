"""The one error base every planfirst failure meant for a person derives from.

`PlanfirstError(message, code)`: `message` is written for the user, `code` is a short stable word
(`auth`, `rate_limit`, `refused`, `store`, `path`, ...) that a face maps once — the language server
into a JSON-RPC error with `data.reason = code`, the ACP agent into a stop reason — and that an
editor branches on (never on the message text). A leaf module: it imports nothing from planfirst,
so core/, plan/ and llm/ can all derive from it.
"""

from __future__ import annotations


class PlanfirstError(Exception):
    """A failure to show the user: `message` for a person, `code` for a program."""

    code: str = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message
