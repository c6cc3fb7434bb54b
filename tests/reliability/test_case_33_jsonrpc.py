"""docs/reliability.md case 33: every JSON-RPC message that carries an id gets exactly one answer,
malformed ones included (Parse error -32700 or Invalid Request -32600), and the server keeps
serving. Written as raw bytes: no typed client can send these."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.reliability.conftest import Invariants, Ledger, serve
from tests.support.waiting import wait_until

PARSE_ERROR, INVALID_REQUEST = -32700, -32600
LIST = {"command": "planfirst.listPlans", "arguments": [{}]}


def _msg(
    msg_id: Any, method: Any = "workspace/executeCommand", params: Any = LIST, **extra: Any
) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params, **extra}
    ).encode()


# (description, id the ledger expects an answer for, body, expected error code)
MALFORMED: list[tuple[str, Any, bytes, int]] = [
    ("non-string method", "m-int", _msg("m-int", method=5), INVALID_REQUEST),
    ("null method", "m-null", _msg("m-null", method=None), INVALID_REQUEST),
    ("object method", 17, _msg(17, method={"x": 1}), INVALID_REQUEST),
    (
        "100k-digit integer argument",
        "big-int",
        b'{"jsonrpc": "2.0", "id": "big-int", "method": "workspace/executeCommand", "params": '
        b'{"command": "planfirst.retryStep", "arguments": [{"planId": "p", "step": '
        + b"9" * 100_000
        + b"}]}}",
        PARSE_ERROR,
    ),
    (
        "invalid UTF-8",
        "bad-utf8",
        b'{"jsonrpc": "2.0", "id": "bad-utf8", "method": "workspace/executeCommand", "params": '
        b'{"command": "planfirst.generatePlan", "arguments": [{"task": "\xff\xfe\xc3("}]}}',
        PARSE_ERROR,
    ),
    (
        "50k-deep nesting",
        "deep",
        b'{"jsonrpc": "2.0", "id": "deep", "method": "workspace/executeCommand", "params": '
        b'{"command": "planfirst.listPlans", "arguments": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
        PARSE_ERROR,
    ),
    (
        "50k-deep nesting before the id",
        "deep-first",
        b'{"params": '
        + b'{"a": ' * 50_000
        + b"1"
        + b"}" * 50_000
        + b', "jsonrpc": "2.0", "id": "deep-first", "method": "workspace/executeCommand"}',
        PARSE_ERROR,
    ),
    ("truncated JSON", "cut", _msg("cut")[:-7], PARSE_ERROR),
    ("jsonrpc 1.0", "v1", _msg("v1", jsonrpc="1.0"), INVALID_REQUEST),
    (
        "no jsonrpc member",
        "no-version",
        json.dumps({"id": "no-version", "method": "shutdown"}).encode(),
        INVALID_REQUEST,
    ),
    ("string params", "str-params", _msg("str-params", params="everything"), INVALID_REQUEST),
    ("a batch", "in-batch", b"[" + _msg("in-batch") + b"]", INVALID_REQUEST),
    (
        "no method, no result",
        "nothing",
        json.dumps({"jsonrpc": "2.0", "id": "nothing"}).encode(),
        INVALID_REQUEST,
    ),
]


async def _answer(fut: asyncio.Future[Any], what: str) -> tuple[Any, Any]:
    try:
        return await asyncio.wait_for(fut, 15)
    except TimeoutError:
        raise AssertionError(f"no answer within 15 s to {what}") from None


async def _alive(ledger: Ledger, tag: str) -> None:
    fut = ledger.raw_bytes(_msg(tag), tag, "workspace/executeCommand")
    result, error = await _answer(fut, f"the probe {tag}")
    assert error is None and isinstance(result, list), (result, error)


async def test_case_33_every_id_gets_exactly_one_answer(ws: Path, inv: Invariants) -> None:
    async with serve(inv, ws) as (client, _editor, ledger):
        await _alive(ledger, "alive-0")
        for what, msg_id, body, code in MALFORMED:
            fut = ledger.raw_bytes(body, msg_id, f"<{what}>")
            result, error = await _answer(fut, what)
            assert error is not None, f"{what}: answered with a result {result!r}"
            assert error.code == code, f"{what}: {error.code} {error.message}"
            assert error.message.startswith("planfirst:") and "Traceback" not in error.message
            await _alive(ledger, f"alive-after-{msg_id}")
        # malformed without a readable id: one answer to id null each (JSON-RPC 2.0 section 5)
        for body in (
            b"{not json",
            b'"just a string"',
            b"\xff\xfe",
            b'{"jsonrpc": "2.0", "id": true, "method": "x"}',
        ):
            ledger.raw_bytes(body, None, "", null_answer=True)
        # a malformed notification (no id) gets no answer, and a forged answer request is ignored
        ledger.raw_bytes(json.dumps({"jsonrpc": "2.0", "method": 5}).encode(), None, "")
        forged = {
            "jsonrpc": "2.0",
            "method": "$/planfirst/malformed",
            "params": {"key": "0" * 32, "answers": [{"id": "forged", "code": -1, "message": "x"}]},
        }
        ledger.raw_bytes(json.dumps(forged).encode(), None, "")
        await _alive(ledger, "alive-end")
        assert client._server.returncode is None  # type: ignore[union-attr]
        await wait_until(
            lambda: ledger.answers.get(None, 0) >= ledger.null_expected,
            30,
            "the answers to id null",
        )
    logs = "".join(p.read_text(errors="replace") for p in inv.logs if p.exists())
    assert "Traceback" not in logs, "a malformed message reached pygls and raised"
