"""Incoming LSP messages vetted before pygls sees them (docs/reliability.md cases 20 and 33).

pygls 2.1.1 reads a message body with `stdin.read(Content-Length)`, so one absurd header
(`Content-Length: 99999999999`) makes it allocate the whole length up front and die with
MemoryError. planfirst hands pygls this stdin instead: a body above the cap is read and thrown
away in small chunks (the stream stays in sync) and logged; header lines are read with a length
limit too.

pygls also answers nothing when a body does not parse (invalid UTF-8, a 100,000-digit number,
nesting deeper than Python's recursion limit) or is not a valid JSON-RPC message (a non-string
method, `"jsonrpc": "1.0"`, a batch), even when it carries an id. Each body is therefore parsed
here first; a bad one is replaced by a `$/planfirst/malformed` notification that carries the
key of the answers to send (Parse error or Invalid Request, to the message's id when one can be
read at the top level, else to id null as JSON-RPC prescribes), and `install` registers the
handler that sends them, in stream order, on the event loop. The key is random and single-use,
so a client cannot use the notification to make the server answer ids of its choosing.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from typing import Any, BinaryIO

log = logging.getLogger("planfirst")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # far above any real LSP message planfirst receives
MAX_HEADER_LINE = 8 * 1024
_CHUNK = 1024 * 1024
DROPPED = b'{"jsonrpc": "2.0", "method": "$/planfirst/droppedMessage", "params": null}'
MALFORMED = "$/planfirst/malformed"
PARSE_ERROR, INVALID_REQUEST = -32700, -32600
_PENDING: dict[str, list[dict[str, Any]]] = {}  # single-use random key -> the answers to send
_ID_SCAN_LIMIT = 1024 * 1024  # where the id of an unparseable body is looked for


class CappedStdin:
    """Wraps the binary stdin for pygls' reader: bounded `readline` and `read`."""

    def __init__(self, raw: BinaryIO, cap: int = MAX_MESSAGE_BYTES) -> None:
        self.raw = raw
        self.cap = cap

    def readline(self) -> bytes:
        """One header line, at most MAX_HEADER_LINE bytes (the rest comes as the next line)."""
        return self.raw.readline(MAX_HEADER_LINE)

    def read(self, n: int) -> bytes:
        """A message body; one above the cap is skipped without being held in memory; one that
        pygls could not parse or would not answer is replaced by the answers it needs."""
        if n <= self.cap:
            body = self.raw.read(n)
            body = well_formed(body) if body else body
            answers = vet(body) if body else None
            return body if answers is None else _malformed(answers)
        log.error(
            "dropping an incoming message of %d bytes (Content-Length above the %d byte cap)",
            n,
            self.cap,
        )
        left = n
        head = b""
        while left > 0:
            chunk = self.raw.read(min(left, _CHUNK))
            if not chunk:
                return b""  # EOF: pygls ends its loop as for any closed stdin
            if not head:
                head = chunk
            left -= len(chunk)
        msg_id = top_level_id(head.decode("utf-8", "replace"))
        if msg_id is _NO_ID:
            return DROPPED
        return _malformed(
            [
                _answer(
                    msg_id,
                    INVALID_REQUEST,
                    f"message of {n} bytes is above the {self.cap} byte cap",
                )
            ]
        )


# a JSON escape of a UTF-16 surrogate (`\ud800`): the only way a lone one gets into a message
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(body: bytes) -> bytes:
    """`body` with every lone UTF-16 surrogate in its strings replaced by U+FFFD.

    JSON may escape a lone surrogate (`"\\ud800"`), which no UTF-8 file or HTTP body can hold:
    an editor buffer with one made every model request of a step unencodable, retried as a
    network error ("response stream garbled … try again later"; rt5). U+FFFD is one code unit
    in UTF-16 like the surrogate it replaces, so positions in a document stay where the editor
    has them.
    A body that does not parse is left for `vet` to answer."""
    if not _SURROGATE_ESCAPE.search(body):
        return body
    try:
        msg = json.loads(body.decode("utf-8"))
        fixed, changed = _without_lone_surrogates(msg)
    except (ValueError, RecursionError):
        return body
    if not changed:
        return body
    if isinstance(msg, dict) and isinstance(fixed, dict):
        # the ids are the client's: an answer must carry its id exactly as sent, and a
        # `$/cancelRequest` must name it so (rt6); a lone surrogate in them reaches no model
        if "id" in msg:
            fixed["id"] = msg["id"]
        params = msg.get("params")
        if msg.get("method") == "$/cancelRequest" and isinstance(params, dict) and "id" in params:
            fixed["params"]["id"] = params["id"]
    log.warning("replaced lone UTF-16 surrogates in an incoming message with U+FFFD")
    # ASCII: an id kept with its lone surrogate stays an escape (UTF-8 cannot hold it)
    return json.dumps(fixed).encode("utf-8")


def _without_lone_surrogates(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value):
            return _LONE_SURROGATE.sub("\ufffd", value), True
        return value, False
    if isinstance(value, list):
        items = [_without_lone_surrogates(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        changed = False
        for k, v in value.items():
            key, c1 = _without_lone_surrogates(k)
            out[key], c2 = _without_lone_surrogates(v)
            changed = changed or c1 or c2
        return out, changed
    return value, False


_NO_ID: Any = object()  # the message has no id (a notification): nothing to answer


def vet(body: bytes) -> list[dict[str, Any]] | None:
    """None when pygls can handle `body`; else the error answers it needs (JSON-RPC 2.0 §5.1)."""
    try:
        msg = json.loads(body.decode("utf-8"))
    except (
        ValueError,
        RecursionError,
    ) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        text = body.decode("utf-8", "replace")
        why = "nesting too deep" if isinstance(e, RecursionError) else str(e).split(";")[0][:200]
        msg_id = top_level_id(text)
        log.warning(
            "parse error in an incoming message (id %r): %s",
            None if msg_id is _NO_ID else msg_id,
            why,
        )
        return [_answer(None if msg_id is _NO_ID else msg_id, PARSE_ERROR, why)]
    if isinstance(msg, list):
        ids = [m.get("id") for m in msg if isinstance(m, dict) and "id" in m]
        return [
            _answer(_valid_id(i), INVALID_REQUEST, "batches are not supported") for i in ids
        ] or [_answer(None, INVALID_REQUEST, "batches are not supported")]
    if not isinstance(msg, dict):
        return [_answer(None, INVALID_REQUEST, "a message must be a JSON object")]
    problem = _invalid(msg)
    if problem is None:
        return None
    has_id = "id" in msg
    if not has_id and "method" in msg:
        log.warning("ignoring an invalid notification: %s", problem)
        return []  # a notification is never answered
    log.warning("invalid request (id %r): %s", msg.get("id"), problem)
    return [_answer(_valid_id(msg.get("id")), INVALID_REQUEST, problem)]


def _invalid(msg: dict[str, Any]) -> str | None:
    if msg.get("jsonrpc") != "2.0":
        return '"jsonrpc" must be "2.0"'
    if (
        "id" in msg
        and _valid_id(msg["id"]) is None
        and not ("method" not in msg and msg["id"] is None)
    ):
        return '"id" must be a string or an integer'
    if "method" in msg:
        if not isinstance(msg["method"], str):
            return '"method" must be a string'
        if msg.get("params") is not None and not isinstance(msg["params"], (dict, list)):
            return '"params" must be an object or an array'
        return None
    if "result" not in msg and "error" not in msg:
        return (
            'a message needs "method" (a request or notification) or "result"/"error" (a response)'
        )
    return None


def _valid_id(value: Any) -> str | int | None:
    return (
        value
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
        else None
    )


def _answer(msg_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"id": _valid_id(msg_id), "code": code, "message": f"planfirst: {message}"}


def _malformed(answers: list[dict[str, Any]]) -> bytes:
    if not answers:
        return DROPPED
    key = secrets.token_hex(16)
    _PENDING[key] = answers
    return json.dumps({"jsonrpc": "2.0", "method": MALFORMED, "params": {"key": key}}).encode()


def top_level_id(text: str) -> Any:
    """The value of the top-level "id" member of a JSON object text that may not parse (invalid
    UTF-8 replaced, nesting too deep, a huge number, truncated): a string or an integer, None when
    present but unreadable, `_NO_ID` when absent. A linear scan, bounded in length."""
    text = text[:_ID_SCAN_LIMIT]
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            key = text[i + 1 : j]
            i = j + 1
            if depth == 1 and key == "id":
                k = _skip_space(text, i)
                if k < n and text[k] == ":":
                    try:
                        value, _ = json.JSONDecoder().raw_decode(text, _skip_space(text, k + 1))
                    except (ValueError, RecursionError):
                        return None
                    return _valid_id(value)
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        i += 1
    return _NO_ID


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def install(server: Any) -> None:
    """Register the handler that sends the answers `vet` prepared (on the event loop, in order)."""

    @server.feature(MALFORMED)
    def _send_answers(ls: Any, params: Any) -> None:
        key = params.get("key") if isinstance(params, dict) else getattr(params, "key", None)
        answers = _PENDING.pop(key, None) if isinstance(key, str) else None
        if answers is None:
            log.warning("ignoring a %s notification that planfirst did not make", MALFORMED)
            return
        for a in answers:
            # a plain dict: pygls' own response type drops `"id": null`, which JSON-RPC requires
            ls.protocol._send_data(
                {
                    "jsonrpc": "2.0",
                    "id": a["id"],
                    "error": {"code": a["code"], "message": a["message"]},
                }
            )
