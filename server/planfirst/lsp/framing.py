"""A size cap on incoming LSP messages (RELIABILITY.md case 20).

pygls 2.1.1 reads a message body with `stdin.read(Content-Length)`, so one absurd header
(`Content-Length: 99999999999`) makes it allocate the whole length up front and die with
MemoryError. planfirst hands pygls this stdin instead: a body above the cap is read and thrown
away in small chunks (the stream stays in sync), logged, and replaced by a harmless `$/`
notification that pygls ignores; header lines are read with a length limit too.
"""

from __future__ import annotations

import logging
from typing import BinaryIO

log = logging.getLogger("planfirst")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # far above any real LSP message planfirst receives
MAX_HEADER_LINE = 8 * 1024
_CHUNK = 1024 * 1024
DROPPED = b'{"jsonrpc": "2.0", "method": "$/planfirst/droppedMessage"}'


class CappedStdin:
    """Wraps the binary stdin for pygls' reader: bounded `readline` and `read`."""

    def __init__(self, raw: BinaryIO, cap: int = MAX_MESSAGE_BYTES) -> None:
        self.raw = raw
        self.cap = cap

    def readline(self) -> bytes:
        """One header line, at most MAX_HEADER_LINE bytes (the rest comes as the next line)."""
        return self.raw.readline(MAX_HEADER_LINE)

    def read(self, n: int) -> bytes:
        """A message body; one above the cap is skipped without being held in memory."""
        if n <= self.cap:
            return self.raw.read(n)
        log.error(
            "dropping an incoming message of %d bytes (Content-Length above the %d byte cap)",
            n,
            self.cap,
        )
        left = n
        while left > 0:
            chunk = self.raw.read(min(left, _CHUNK))
            if not chunk:
                return b""  # EOF: pygls ends its loop as for any closed stdin
            left -= len(chunk)
        return DROPPED
