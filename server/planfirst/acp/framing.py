"""A guard in front of the ACP SDK's reader: only well-formed JSON-RPC objects get through.

agent-client-protocol 0.12.1 skips a line that is not JSON, but a line that is JSON and not an
object (`[1]`, `"x"`) kills its receive loop (the agent exits, unanswered requests and all), and
a line without a newline is buffered without limit. Here each bad line is answered with the
JSON-RPC error it deserves (-32700 parse error, -32600 invalid request) and dropped, and a line
over the cap is discarded as it streams (docs/reliability.md case 20, the LSP side's rule).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

log = logging.getLogger("planfirst.acp")

MAX_LINE = 16 * 1024 * 1024  # bytes; a prompt with embedded files stays far below


def _error(writer: asyncio.StreamWriter, msg_id: Any, code: int, message: str) -> None:
    if not isinstance(msg_id, (str, int)) or isinstance(msg_id, bool):
        msg_id = None
    body = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
    # one synchronous write of a whole line: never interleaved with the SDK's own lines
    writer.write((json.dumps(body) + "\n").encode())


def check(line: bytes) -> tuple[Any, int, str] | None:
    """None when `line` is a JSON-RPC object the SDK can handle, else (id, code, message)."""
    try:
        msg = json.loads(line)
    except ValueError:
        return None, -32700, "Parse error: the line is not JSON"
    if not isinstance(msg, dict):
        return None, -32600, "Invalid Request: a JSON-RPC message must be an object"
    msg_id = msg.get("id")
    if "method" in msg:
        if not isinstance(msg["method"], str):
            return msg_id, -32600, "Invalid Request: 'method' must be a string"
        if "params" in msg and not isinstance(msg["params"], (dict, list, type(None))):
            return msg_id, -32602, "Invalid params: 'params' must be an object"
        return None
    if "id" not in msg:
        return None, -32600, "Invalid Request: neither a request, a notification nor a response"
    return None


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
                _error(writer, None, -32600, f"Invalid Request: message over {MAX_LINE} bytes")
                continue
            if not line.strip():
                continue
            bad = check(line)
            if bad is not None:
                log.warning("dropped a malformed ACP message: %s", bad[2])
                _error(writer, *bad)
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
