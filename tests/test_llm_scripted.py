"""The scripted Messages server: script checks, SSE framing, faults, expectations, cache usage."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from planfirst.llm.catalog import CATALOG, cost, lookup
from planfirst.llm.scripted.script import ScriptError, load_script
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.plan.model import Usage
from tests.support.llm_helpers import API_KEY, BIG_CONTEXT, close_models

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
async def _close_models() -> AsyncIterator[None]:
    yield
    await close_models()


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        url + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 2000,
        "messages": [{"role": "user", "content": "hello"}],
    }
    body.update(over)
    return body


def _sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.strip().splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def _client(srv: ScriptedServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key=API_KEY, base_url=srv.base_url, max_retries=0)


# ---------------------------------------------------------------- scripts


def test_load_script_accepts_list_object_and_file(tmp_path: Path) -> None:
    turns = [{"text": "hi"}, {"fault": {"status": 529}}]
    assert load_script(turns) == turns
    assert load_script({"turns": turns}) == turns
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"turns": turns}))
    assert load_script(path) == turns
    assert load_script(str(path)) == turns


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ([{"txt": "typo"}], "unknown keys ['txt']"),
        ([{"fault": "explode"}], "fault 'explode'"),
        ([{"fault": {"retry_after": 1}}], "'fault' must be"),
        ([{"expect": {"toolz": []}, "text": "x"}], "unknown expect keys"),
        ([{"delay": 1}], "give 'text'"),
        ([{"tools": [{"input": {}}]}], "'tools' must be a list"),
        ({"no_turns": []}, "a script is a JSON list"),
        # a misspelt member was ignored before: the models table or the latency silently gone
        ({"turns": [], "model": {"claude-x": {}}}, "unknown script keys ['model']"),
        ({"turns": [], "latncy": True}, "unknown script keys ['latncy']"),
        (["text"], "turn 1: must be an object"),
        # value types (the pydantic models of llm/scripted/script.py): each was accepted before
        # and then misread while serving (a string iterated as characters, str() of a number)
        # or crashed the request handler (sleeping "1" seconds)
        ([{"text": "x", "expect": {"contains": "needle"}}], "turn 1: 'expect.contains'"),
        ([{"text": "x"}, {"text": "y", "delay": "1"}], "turn 2: 'delay'"),
        ([{"text": 5}], "turn 1: 'text'"),
        ([{"fault": {"status": 429, "retry_after": "soon"}}], "'fault.retry_after'"),
        ([{"text": "x", "usage": {"output_tokens": "10"}}], "'usage.output_tokens'"),
    ],
)
def test_bad_scripts_are_refused_with_the_turn(script: Any, words: str) -> None:
    with pytest.raises(ScriptError) as err:
        load_script(script)
    assert words in str(err.value)


def test_added_turns_are_checked_like_loaded_ones() -> None:
    with ScriptedServer([{"text": "first"}]) as srv:
        with pytest.raises(ScriptError, match="turn 3: 'delay_chunks'"):
            srv.add_turns([{"text": "ok"}, {"text": "x", "delay_chunks": "fast"}])
        assert srv.remaining() == 1  # nothing of a refused batch was added


def test_a_bad_models_table_is_refused_with_the_model() -> None:
    with pytest.raises(ScriptError, match="model 'claude-x': 'efforts'"):
        ScriptedServer({"turns": [], "models": {"claude-x": {"efforts": "high"}}})
    with pytest.raises(ScriptError, match="model 'claude-y': 'always_thinks'"):
        ScriptedServer([], models={"claude-y": {"always_thinks": "yes"}})


def test_every_shipped_script_fits_the_format() -> None:
    """The demo's and the editor tests' scripts load (no key or value the models refuse)."""
    root = Path(__file__).resolve().parents[1]
    shipped = [root / "examples" / "scripts" / "demo.json"]
    shipped += sorted((root / "tests" / "editors" / "scripts").glob("*.json"))
    for path in shipped:
        assert load_script(path), path


# ---------------------------------------------------------------- wire format


def test_json_answer_with_tool_use_and_usage() -> None:
    with ScriptedServer([{"text": "ok", "tool": "submit", "input": {"a": 1}}]) as srv:
        status, _, raw = _post(srv.base_url, _body())
    assert status == 200
    msg = json.loads(raw)
    assert msg["stop_reason"] == "tool_use"
    assert [b["type"] for b in msg["content"]] == ["text", "tool_use"]
    assert msg["content"][1]["input"] == {"a": 1}
    assert msg["usage"]["input_tokens"] > 0 and msg["usage"]["output_tokens"] > 0


def test_sse_stream_has_every_event_kind() -> None:
    turn = {
        "thinking": "think",
        "text": "Some text here",
        "tool": "submit",
        "input": {"k": "v" * 50},
    }
    with ScriptedServer([turn]) as srv:
        status, headers, raw = _post(srv.base_url, _body(stream=True))
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = _sse(raw)
    names = [n for n, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == [
        "message_delta",
        "message_stop",
    ]
    deltas = [d["delta"]["type"] for n, d in events if n == "content_block_delta"]
    assert {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"} <= set(deltas)
    fragments = [
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    ]
    assert len(fragments) >= 3 and json.loads("".join(fragments)) == {"k": "v" * 50}
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "tool_use" and final["usage"]["output_tokens"] > 1


def test_stream_cut_never_completes() -> None:
    with ScriptedServer([{"fault": "stream_cut", "text": "a fairly long answer " * 5}]) as srv:
        with httpx2.Client() as client:
            with pytest.raises(httpx2.RemoteProtocolError):
                with client.stream(
                    "POST", srv.base_url + "/v1/messages", json=_body(stream=True)
                ) as resp:
                    assert resp.status_code == 200
                    data = b"".join(resp.iter_bytes())
                    pytest.fail(f"stream completed: {data[-80:]!r}")


def test_stream_error_event_after_200() -> None:
    with ScriptedServer([{"fault": "stream_error"}]) as srv:
        status, _, raw = _post(srv.base_url, _body(stream=True))
    names = [n for n, _ in _sse(raw)]
    assert status == 200 and "error" in names and "message_stop" not in names
    assert dict(_sse(raw))["error"]["error"]["type"] == "overloaded_error"


def test_status_fault_with_retry_after_headers() -> None:
    with ScriptedServer(
        [{"fault": {"status": 429, "retry_after": 7, "retry_after_ms": 7000}}]
    ) as srv:
        status, headers, raw = _post(srv.base_url, _body())
    assert status == 429
    assert headers["retry-after"] == "7" and headers["retry-after-ms"] == "7000"
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"


def test_max_tokens_truncates_tool_input() -> None:
    turn = {"stop_reason": "max_tokens", "tool": "submit", "input": {"text": "x" * 80}}
    with ScriptedServer([turn]) as srv:
        _, _, raw = _post(srv.base_url, _body(stream=True))
    events = _sse(raw)
    fragments = "".join(
        d["delta"].get("partial_json", "") for n, d in events if n == "content_block_delta"
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(fragments)
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"


async def test_the_sdk_reads_the_stream() -> None:
    turn = {"thinking": "t", "text": "hello", "tool": "submit", "input": {"n": [1, 2, 3]}}
    with ScriptedServer([turn]) as srv:
        client = _client(srv)
        async with client.messages.stream(**_body()) as stream:
            snapshots = [e.snapshot for e in [e async for e in stream] if e.type == "input_json"]
            final = await stream.get_final_message()
        await client.close()
    assert final.stop_reason == "tool_use"
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert snapshots[-1] == {"n": [1, 2, 3]} and len(snapshots) >= 3


# ---------------------------------------------------------------- loud failures


def test_expectation_mismatch_is_a_500_and_recorded() -> None:
    turn = {"text": "x", "expect": {"tools": ["submit_plan"], "contains": ["needle"]}}
    with ScriptedServer([turn]) as srv:
        status, _, raw = _post(srv.base_url, _body())
        assert status == 500
        message = json.loads(raw)["error"]["message"]
        assert "turn 1 expectation failed" in message
        assert "'submit_plan' not offered" in message and "'needle'" in message
        assert srv.failures == [message]
        assert srv.remaining() == 1  # the turn stays for a corrected request
        ok, _, _ = _post(
            srv.base_url,
            _body(tools=[{"name": "submit_plan", "input_schema": {}}], system="needle"),
        )
        assert ok == 200 and srv.remaining() == 0


def test_request_after_the_script_ran_out() -> None:
    with ScriptedServer([{"text": "only"}]) as srv:
        assert _post(srv.base_url, _body())[0] == 200
        status, _, raw = _post(srv.base_url, _body())
        assert status == 500 and "ran out" in json.loads(raw)["error"]["message"]
        assert len(srv.failures) == 1 and srv.requests[-1].status == 500


_TOOL = {"name": "t", "input_schema": {"type": "object", "properties": {}}}
_BLOCK = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}


def _assistant_turn(*blocks: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": list(blocks)},
        {"role": "user", "content": "go on"},
    ]


_TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}
_RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}

# (rule, the breach, the same request made valid, words of the API's message). Each rule is the
# live API's: the breach must be refused with its 400 body, the valid twin accepted.
API_RULES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "empty text block in an assistant turn",
        {"messages": _assistant_turn({"type": "text", "text": ""}, {"type": "text", "text": "a"})},
        {"messages": _assistant_turn({"type": "text", "text": "a"})},
        "text content blocks must be non-empty",
    ),
    (
        "whitespace-only text block in a user turn",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": " \n"}]}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
        "non-whitespace text",
    ),
    (
        "tool_use without a tool_result in the next message",
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [_TOOL_USE]},
                {"role": "user", "content": [{"type": "text", "text": "no result"}]},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [_TOOL_USE]},
                {"role": "user", "content": [_RESULT]},
            ]
        },
        "without `tool_result` blocks immediately after",
    ),
    (
        "tool_result answering a later message, not the immediately following one",
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [_TOOL_USE]},
                {"role": "user", "content": [{"type": "text", "text": "wait"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
                {"role": "user", "content": [_RESULT]},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [_TOOL_USE]},
                {"role": "user", "content": [_RESULT]},
            ]
        },
        "`tool_use` ids were found without `tool_result`",
    ),
    (
        "five cache_control blocks",
        {
            "system": [_BLOCK, _BLOCK],
            "messages": [{"role": "user", "content": [_BLOCK, _BLOCK, _BLOCK]}],
        },
        {
            "system": [_BLOCK, _BLOCK],
            "messages": [
                {"role": "user", "content": [_BLOCK, _BLOCK, {"type": "text", "text": "x"}]}
            ],
        },
        "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    ),
    (
        "thinking budget below 1024",
        {"model": "claude-haiku-4-5", "thinking": {"type": "enabled", "budget_tokens": 512}},
        {"model": "claude-haiku-4-5", "thinking": {"type": "enabled", "budget_tokens": 1024}},
        "greater than or equal to 1024",
    ),
    (
        "thinking budget not below max_tokens",
        {"model": "claude-haiku-4-5", "thinking": {"type": "enabled", "budget_tokens": 2000}},
        {"model": "claude-haiku-4-5", "thinking": {"type": "enabled", "budget_tokens": 1999}},
        "`max_tokens` must be greater than `thinking.budget_tokens`",
    ),
    (
        "forced tool_choice 'tool' with thinking on",
        {
            "thinking": {"type": "adaptive"},
            "tools": [_TOOL],
            "tool_choice": {"type": "tool", "name": "t"},
        },
        {"thinking": {"type": "adaptive"}, "tools": [_TOOL], "tool_choice": {"type": "auto"}},
        "Thinking may not be enabled when tool_choice forces tool use.",
    ),
    (
        "forced tool_choice 'any' on a model that always thinks (no thinking parameter)",
        {"model": "claude-opus-5-5", "tools": [_TOOL], "tool_choice": {"type": "any"}},
        {"model": "claude-opus-5-5", "tools": [_TOOL], "tool_choice": {"type": "auto"}},
        "tool_choice forces tool use",
    ),
    (
        "temperature other than 1 with thinking",
        {"thinking": {"type": "adaptive"}, "temperature": 0.2},
        {"thinking": {"type": "adaptive"}, "temperature": 1},
        "`temperature` may only be set to 1 when thinking is enabled",
    ),
    (
        "thinking disabled on a model that always thinks",
        {"model": "claude-opus-5-5", "thinking": {"type": "disabled"}},
        {"model": "claude-opus-5-5", "thinking": {"type": "adaptive"}},
        "thinking.type 'disabled' is not supported",
    ),
    (
        "budget thinking on an adaptive-only model",
        {"model": "claude-opus-5-5", "thinking": {"type": "enabled", "budget_tokens": 1024}},
        {"model": "claude-opus-5-5", "thinking": {"type": "adaptive"}},
        "use 'adaptive'",
    ),
    (
        "effort xhigh on a model without it",
        {"model": "claude-sonnet-4-6", "output_config": {"effort": "xhigh"}},
        {"model": "claude-sonnet-4-6", "output_config": {"effort": "high"}},
        "'xhigh' is not supported by claude-sonnet-4-6",
    ),
    (
        "effort on a model without effort levels",
        {"model": "claude-haiku-4-5", "output_config": {"effort": "high"}},
        {"model": "claude-haiku-4-5"},
        "effort is not supported by claude-haiku-4-5",
    ),
    (
        "max_tokens above the model's output limit",
        {"model": "claude-haiku-4-5", "max_tokens": 64_001},
        {"model": "claude-haiku-4-5", "max_tokens": 64_000},
        "64001 > 64000",
    ),
    (
        "a forged thinking signature",
        {"messages": _assistant_turn({"type": "thinking", "thinking": "x", "signature": "forged"})},
        {"messages": _assistant_turn({"type": "text", "text": "x"})},
        "Invalid `signature`",
    ),
]


@pytest.mark.parametrize(("rule", "bad", "good", "words"), API_RULES, ids=[r[0] for r in API_RULES])
def test_the_scripted_server_refuses_what_the_api_refuses(
    rule: str, bad: dict[str, Any], good: dict[str, Any], words: str
) -> None:
    with ScriptedServer([{"text": "unused"}, {"text": "answered"}]) as srv:
        status, headers, raw = _post(srv.base_url, _body(**bad))
        body = json.loads(raw)
        assert status == 400, (rule, body)
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
        assert words in body["error"]["message"]
        assert body["request_id"] == headers["request-id"] and body["request_id"].startswith("req_")
        assert srv.remaining() == 2 and len(srv.failures) == 1
        # The valid twin is accepted: the refusal is about this rule, not something else.
        status, _, raw = _post(srv.base_url, _body(**good))
        assert status == 200, json.loads(raw)
        assert srv.remaining() == 1


@pytest.mark.parametrize(
    ("model", "status", "words"),
    [
        ("claude-nonexistent-9", 404, "model: claude-nonexistent-9"),
        ("claude-3-haiku", 404, "retired"),
    ],
)
def test_unknown_and_retired_models_are_refused(model: str, status: int, words: str) -> None:
    with ScriptedServer([{"text": "unused"}]) as srv:
        got, _, raw = _post(srv.base_url, _body(model=model))
    body = json.loads(raw)
    assert got == status and body["error"]["type"] == "not_found_error"
    assert words in body["error"]["message"]


def test_a_prompt_over_the_window_is_refused() -> None:
    script = {"turns": [{"text": "unused"}], "models": {"claude-tiny": {"max_input_tokens": 100}}}
    with ScriptedServer(script) as srv:
        status, _, raw = _post(srv.base_url, _body(model="claude-tiny", system="x" * 800))
        assert status == 400 and "prompt is too long" in json.loads(raw)["error"]["message"]
        status, _, _ = _post(srv.base_url, _body(model="claude-tiny", system="x" * 100))
        assert status == 200


# ---------------------------------------------------------------- usage


def _cached_body(instruction: str, model: str = "claude-sonnet-4-6") -> dict[str, Any]:
    return _body(
        model=model,
        system=[{"type": "text", "text": "system", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": BIG_CONTEXT, "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": instruction},
                ],
            }
        ],
    )


def test_cache_write_then_read_on_identical_prefix() -> None:
    with ScriptedServer([{"text": "a"}, {"text": "b"}, {"text": "c"}]) as srv:
        first = json.loads(_post(srv.base_url, _cached_body("step 1"))[2])["usage"]
        second = json.loads(_post(srv.base_url, _cached_body("step 2"))[2])["usage"]
        other = _cached_body("step 3")
        other["messages"][0]["content"][0]["text"] += "changed"
        third = json.loads(_post(srv.base_url, other)[2])["usage"]
    total = len(BIG_CONTEXT) // 4
    assert (
        first["cache_read_input_tokens"] == 0 and first["cache_creation_input_tokens"] > total * 0.9
    )
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0 and second["input_tokens"] < 100
    # A changed context block misses and is written again.
    assert third["cache_read_input_tokens"] == 0 and third["cache_creation_input_tokens"] > 0


def test_a_moved_breakpoint_reads_the_prefix_cached_before_it() -> None:
    # the model layer moves the conversation breakpoint to the newest tool result; like the API,
    # the cache finds the prefix written at the old position within 20 blocks before the new one
    first = _cached_body("step 1")
    first["messages"][0]["content"][0].pop("cache_control")
    first["messages"][0]["content"][1]["cache_control"] = {"type": "ephemeral"}
    second = json.loads(json.dumps(first))
    second["messages"][0]["content"][1].pop("cache_control")
    second["messages"][0]["content"].append(
        {"type": "text", "text": "more", "cache_control": {"type": "ephemeral"}}
    )
    with ScriptedServer([{"text": "a"}, {"text": "b"}]) as srv:
        u1 = json.loads(_post(srv.base_url, first)[2])["usage"]
        u2 = json.loads(_post(srv.base_url, second)[2])["usage"]
    assert u1["cache_creation_input_tokens"] > 0 and u1["cache_read_input_tokens"] == 0
    assert u2["cache_read_input_tokens"] == u1["cache_creation_input_tokens"]
    assert 0 < u2["cache_creation_input_tokens"] < 20  # only the new block is written


def test_prefix_below_the_minimum_is_not_cached() -> None:
    small = _body(
        system=[{"type": "text", "text": "short", "cache_control": {"type": "ephemeral"}}]
    )
    with ScriptedServer([{"text": "a"}, {"text": "b"}]) as srv:
        usages = [json.loads(_post(srv.base_url, small)[2])["usage"] for _ in range(2)]
    assert all(
        u["cache_read_input_tokens"] == 0 and u["cache_creation_input_tokens"] == 0 for u in usages
    )


# ---------------------------------------------------------------- catalog


def test_catalog_prices_and_styles() -> None:
    assert lookup("claude-opus-4-6").thinking == "adaptive"
    assert lookup("claude-sonnet-4-6").thinking == "adaptive"
    assert lookup("claude-sonnet-4-0").thinking == "budget"
    assert lookup("claude-sonnet-4-5-20250929").input_per_mtok == 3.0
    assert lookup("claude-3-5-haiku").thinking == "none"
    assert all(512 <= m.min_cache_tokens <= 4096 for m in CATALOG.values())
    info = lookup("claude-sonnet-4-6")
    assert info.cache_write_price == pytest.approx(3.75) and info.cache_read_price == pytest.approx(
        0.3
    )
    u = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
    )
    assert cost("claude-sonnet-4-6", u) == pytest.approx(3 + 15 + 3.75 + 0.3)
    over = {"claude-sonnet-4-6": {"input": 1, "output": 2, "cache_read": 0.05}}
    assert cost("claude-sonnet-4-6", u, over) == pytest.approx(1 + 2 + 1.25 + 0.05)


def test_unknown_models_are_guessed_conservatively() -> None:
    new = lookup("claude-opus-7")
    old = lookup("claude-2-1")
    assert not new.known and new.thinking == "adaptive" and new.min_cache_tokens == 4096
    assert old.thinking == "budget"
    assert new.input_per_mtok >= max(m.input_per_mtok for m in CATALOG.values())
    assert lookup("claude-opus-7", {"claude-opus-7": {"input": 1, "output": 2}}).known


# ---------------------------------------------------------------- command line


def test_main_serves_a_script_file(tmp_path: Path) -> None:
    script = tmp_path / "demo.json"
    script.write_text(json.dumps({"turns": [{"text": "from the file"}]}))
    code = (
        "import sys; from planfirst.llm.scripted.server import main; sys.exit(main(sys.argv[1:]))"
    )
    with _main_process(code, script) as (proc, url):
        status, _, raw = _post(url, _body())
        assert status == 200 and json.loads(raw)["content"][0]["text"] == "from the file"
    assert proc.returncode == 0


@contextlib.contextmanager
def _main_process(code: str, script: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -c code --script script --port 0` and the address it prints; stopped with
    SIGTERM when the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--script", str(script), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        yield proc, url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_main_exits_cleanly_when_stopped_as_soon_as_it_prints_its_address(
    tmp_path: Path,
) -> None:
    """A client may stop the server the moment it has read the address. The child's SIGTERM
    handler is made slow to install, which widens the window a loaded machine opens by chance:
    the handler must be in place before the address is printed, or the server dies by SIGTERM."""
    script = tmp_path / "demo.json"
    script.write_text(json.dumps({"turns": [{"text": "unused"}]}))
    code = (
        "import signal, sys, time\n"
        "real = signal.signal\n"
        "def slow(*a):\n"
        "    time.sleep(1.0)\n"
        "    return real(*a)\n"
        "signal.signal = slow\n"
        "from planfirst.llm.scripted.server import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    with _main_process(code, script) as (proc, _url):
        pass  # stopped as soon as the address is read
    assert proc.returncode == 0


def test_main_refuses_a_bad_script(tmp_path: Path) -> None:
    from planfirst.llm.scripted.server import main

    bad = tmp_path / "bad.json"
    bad.write_text('[{"oops": 1}]')
    assert main(["--script", str(bad)]) == 2


def test_the_scripted_server_sends_without_waiting_for_acks() -> None:
    """Each connection the scripted server accepts has Nagle's algorithm off (TCP_NODELAY), as
    the real API's servers do: with it on, every streamed answer waited ~40 ms for the client's
    delayed ACK, and the bench's "zero-latency" round trip was that stall (#32)."""
    import socket

    from planfirst.llm.scripted.handler import Handler

    seen: list[int] = []

    class Probe(Handler):
        def handle(self) -> None:
            seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        conn, addr = listener.accept()
        with client, conn:
            Probe(conn, addr, None)  # type: ignore[arg-type]
    assert seen and seen[0] != 0
