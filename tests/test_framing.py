"""Incoming message vetting (docs/reliability.md cases 20 and 33): never raises, answers every
readable id, leaves valid messages to pygls untouched."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from planfirst.lsp.framing import _NO_ID, DROPPED, MALFORMED, CappedStdin, top_level_id, vet

VALID = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
    {"jsonrpc": "2.0", "id": "a", "method": "shutdown", "params": None},
    {"jsonrpc": "2.0", "id": "a", "method": "shutdown"},
    {"jsonrpc": "2.0", "method": "initialized", "params": {}},
    {"jsonrpc": "2.0", "id": 3, "result": None},
    {"jsonrpc": "2.0", "id": None, "error": {"code": 1, "message": "x"}},
]


def test_valid_messages_pass_untouched() -> None:
    for msg in VALID:
        body = json.dumps(msg).encode()
        assert vet(body) is None
        assert CappedStdin(io.BytesIO(body)).read(len(body)) == body


def test_top_level_id_ignores_nested_ids_and_values() -> None:
    assert top_level_id('{"params": {"id": 1}, "method": "id", "id": "top"}') == "top"
    assert top_level_id('{"params": {"id": 1}}') is _NO_ID
    assert top_level_id('{"id": "a\\"b", "x": [') == 'a"b'
    assert top_level_id('{"id": ' + "9" * 5000 + "}") is None
    assert top_level_id('{"id": true}') is None


def test_a_bad_body_becomes_a_malformed_notification() -> None:
    body = b'{"jsonrpc": "2.0", "id": 4, "method": 4}'
    out = json.loads(CappedStdin(io.BytesIO(body)).read(len(body)))
    assert out["method"] == MALFORMED and set(out["params"]) == {"key"}


def test_an_oversized_body_with_an_id_is_answered() -> None:
    body = b'{"jsonrpc": "2.0", "id": "big", "method": "x", "params": "' + b"y" * 5000 + b'"}'
    out = json.loads(CappedStdin(io.BytesIO(body), cap=1000).read(len(body)))
    assert out["method"] == MALFORMED
    notification = b'{"jsonrpc": "2.0", "method": "x", "params": "' + b"y" * 5000 + b'"}'
    assert CappedStdin(io.BytesIO(notification), cap=1000).read(len(notification)) == DROPPED


@given(st.binary(max_size=300))
def test_vet_never_raises_on_bytes(body: bytes) -> None:
    answers = vet(body)
    assert answers is None or all(a["code"] in (-32700, -32600) for a in answers)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    )
)
def test_any_json_with_a_readable_id_is_answered_with_that_id(value: object) -> None:
    msg = {"jsonrpc": "2.0", "id": "the-id", "method": value}
    answers = vet(json.dumps(msg).encode())
    if isinstance(value, str):
        assert answers is None
    else:
        assert answers is not None and [a["id"] for a in answers] == ["the-id"]
