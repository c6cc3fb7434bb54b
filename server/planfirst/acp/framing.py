"""A guard in front of the ACP SDK's reader: only well-formed JSON-RPC objects get through.

agent-client-protocol 0.12.1 skips a line that is not JSON, but a line that is JSON and not an
object (`[1]`, `"x"`) kills its receive loop (the agent exits, unanswered requests and all), and
a line without a newline is buffered without limit. Here each bad line is answered with the
JSON-RPC error it deserves (-32700 parse error, -32600 invalid request; the same `vet` the
language server uses) and dropped, and a line over the cap is discarded as it streams
(docs/reliability.md cases 20 and 33).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from planfirst.lsp.framing import vet

log = logging.getLogger("planfirst.acp")

MAX_LINE = 16 * 1024 * 1024  # bytes; a prompt with embedded files stays far below


def _answer(writer: asyncio.StreamWriter, answer: dict[str, Any]) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": answer["id"],
        "error": {"code": answer["code"], "message": answer["message"]},
    }
    # one synchronous write of a whole line: never interleaved with the SDK's own lines
    writer.write((json.dumps(body) + "\n").encode())


async def pump(
    src: asyncio.StreamReader, dst: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Copy well-formed lines from `src` to `dst` (then EOF); answer the others."""
    try:
        while True:
            try:
                line = await src.readuntil(b"\n")
            except asyncio.IncompleteReadError as e:
                line = e.partial
                if not line.strip():
                    break
            except asyncio.LimitOverrunError:
                await _discard_line(src)
                log.warning("dropped an ACP message over %d bytes", MAX_LINE)
                _answer(
                    writer,
                    {
                        "id": None,
                        "code": -32600,
                        "message": f"planfirst: message over {MAX_LINE} bytes",
                    },
                )
                continue
            if not line.strip():
                continue
            answers = vet(line.strip())
            if answers is not None:  # malformed: answered here (a bad notification is not)
                for answer in answers:
                    _answer(writer, answer)
                continue
            dst.feed_data(line if line.endswith(b"\n") else line + b"\n")
    finally:
        dst.feed_eof()


async def _discard_line(src: asyncio.StreamReader) -> None:
    while True:
        try:
            await src.readuntil(b"\n")
            return
        except asyncio.LimitOverrunError as e:
            await src.readexactly(e.consumed)
        except asyncio.IncompleteReadError:
            return
