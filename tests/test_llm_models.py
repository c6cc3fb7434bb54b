"""Model facts from the Models API (and their disk cache), parameters valid for the chosen model,
prompts that fit the window, and a start-up that does not import the SDK. Real SDK, scripted server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from planfirst.llm.anthropic import INTERLEAVED_THINKING_BETA, AnthropicModel
from planfirst.llm.catalog import DEFAULT_EXECUTION_MODEL, DEFAULT_PLANNING_MODEL, lookup
from planfirst.llm.factory import Models
from planfirst.llm.facts import FactsCache, default_cache_path
from planfirst.llm.model import ModelError, ToolSpec
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.settings import Settings
from tests.support.llm_helpers import (
    API_KEY,
    Handler,
    close_models,
    make_model,
    make_settings,
    submit_request,
)

ROOT = Path(__file__).resolve().parents[1]
ANSWER = {"title": "Plan", "count": 3, "tags": ["a"]}
READ_TOOL = ToolSpec(
    name="read_file",
    description="Read a file.",
    input_schema={"type": "object", "properties": {"path": {"type": "string"}}},
)


@pytest.fixture(autouse=True)
async def _close_models() -> AsyncIterator[None]:
    yield
    await close_models()


def _model_calls(srv: ScriptedServer) -> list[str]:
    return [r.path for r in srv.side_requests if r.method == "GET"]


# ---------------------------------------------------------------- the Models API


async def test_unknown_model_is_refused_naming_current_choices() -> None:
    with ScriptedServer([{"tool": "submit_answer", "input": ANSWER}]) as srv:
        with pytest.raises(ModelError) as err:
            await make_model(srv, "claude-nonexistent-9").run(submit_request(), Handler())
        assert _model_calls(srv) == ["/v1/models/claude-nonexistent-9"]
        assert srv.requests == []  # no Messages call was spent on it
    msg = err.value.message
    assert "does not know the model 'claude-nonexistent-9'" in msg
    assert DEFAULT_PLANNING_MODEL in msg and DEFAULT_EXECUTION_MODEL in msg
    assert "[request-id req_scripted_" in msg


async def test_retired_model_is_refused_naming_a_current_choice() -> None:
    with ScriptedServer([{"tool": "submit_answer", "input": ANSWER}]) as srv:
        with pytest.raises(ModelError) as err:
            await make_model(srv, "claude-3-haiku").run(submit_request(), Handler())
        assert srv.requests == [] and srv.remaining() == 1
    assert "'claude-3-haiku' is retired" in err.value.message
    assert "'claude-haiku-5-5'" in err.value.message


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_deprecated_model_warns_and_still_runs() -> None:
    warnings: list[str] = []
    with ScriptedServer([{"tool": "submit_answer", "input": ANSWER}]) as srv:
        model = AnthropicModel(
            "claude-opus-4-5",
            make_settings(),
            api_key=API_KEY,
            base_url=srv.base_url,
            warn=warnings.append,
        )
        try:
            run = await model.run(submit_request(), Handler())
        finally:
            await model.aclose()
    assert run.submitted is not None
    assert len(warnings) == 1
    assert "'claude-opus-4-5' is deprecated and retires on 2027-01-22" in warnings[0]
    assert "'claude-opus-5-5'" in warnings[0]
    assert warnings[0] in run.notes


async def test_a_model_that_always_thinks_gets_no_forced_tool_choice() -> None:
    # Thinking is off for this request, but the model cannot stop thinking: a forced
    # tool_choice would be a 400, so "auto" is sent and a missing submit is re-asked.
    script = {
        "turns": [
            {
                "thinking": "hmm",
                "text": "Here is my answer in prose.",
                "expect": {"tool_choice": "auto"},
            },
            {
                "thinking": "ok",
                "tool": "submit_answer",
                "input": ANSWER,
                "expect": {"tool_choice": "auto"},
            },
        ],
        "models": {"claude-thinker-1": {"base": "claude-opus-5-5", "always_thinks": True}},
    }
    with ScriptedServer(script) as srv:
        run = await make_model(srv, "claude-thinker-1").run(
            submit_request(thinking=False), Handler()
        )
        assert srv.failures == []
        assert all("thinking" not in r.body for r in srv.requests)  # "disabled" would be a 400
    assert run.submitted is not None and run.submitted.model_dump() == ANSWER
    assert any("always thinks" in n for n in run.notes)


async def test_facts_come_from_the_models_api_not_the_catalogue() -> None:
    # The catalogue says 128,000 for claude-sonnet-4-6 (its page); the Models API's answer wins.
    script = {
        "turns": [{"tool": "submit_answer", "input": ANSWER}],
        "models": {"claude-sonnet-4-6": {"base": "claude-sonnet-4-6", "max_tokens": 5000}},
    }
    with ScriptedServer(script) as srv:
        await make_model(srv, "claude-sonnet-4-6").run(submit_request(), Handler())
        assert srv.requests[0].body["max_tokens"] == 5000
    assert lookup("claude-sonnet-4-6").max_output_tokens == 128_000


async def test_no_models_api_falls_back_to_the_catalogue() -> None:
    with ScriptedServer([{"tool": "submit_answer", "input": ANSWER}], models_api=False) as srv:
        run = await make_model(srv, "claude-sonnet-4-6").run(submit_request(), Handler())
        assert srv.requests[0].body["max_tokens"] == 32_000  # settings' maxTokens within 64,000
    assert any("facts come from planfirst's catalogue" in n for n in run.notes)


# ---------------------------------------------------------------- the facts cache on disk


async def test_facts_are_cached_on_disk_with_a_ttl(tmp_path: Path) -> None:
    now = [1_000_000.0]
    cache = FactsCache(tmp_path / "facts.json", ttl_s=3600, clock=lambda: now[0])
    script = [{"tool": "submit_answer", "input": ANSWER}] * 3
    with ScriptedServer(script) as srv:

        async def one_run() -> None:
            model = AnthropicModel(
                "claude-sonnet-4-6",
                make_settings(),
                api_key=API_KEY,
                base_url=srv.base_url,
                facts_cache=cache,
            )
            try:
                await model.run(submit_request(), Handler())
            finally:
                await model.aclose()

        await one_run()
        assert len(_model_calls(srv)) == 1
        stored = json.loads((tmp_path / "facts.json").read_text())
        key = FactsCache.key(srv.base_url, "claude-sonnet-4-6")
        assert stored[key]["info"]["id"] == "claude-sonnet-4-6"
        await one_run()  # a new model object (a restarted server): the disk answers
        assert len(_model_calls(srv)) == 1
        now[0] += 3601  # past the TTL: asked again
        await one_run()
        assert len(_model_calls(srv)) == 2


def test_cache_lives_under_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "planfirst" / "model-facts.json"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the spec: absolute paths only
    assert default_cache_path() == Path.home() / ".cache" / "planfirst" / "model-facts.json"


def test_a_corrupt_or_unwritable_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "facts.json"
    path.write_text("{not json")
    cache = FactsCache(path)
    assert cache.get("k") is None
    cache.put("k", {"id": "m"})
    assert cache.get("k") == {"id": "m"}
    blocked = FactsCache(tmp_path / "file" / "facts.json")
    (tmp_path / "file").write_text("a file where a directory should be")
    blocked.put("k", {"id": "m"})  # logged, not raised
    assert blocked.get("k") is None


def test_expired_entries_are_dropped_on_write(tmp_path: Path) -> None:
    now = [0.0]
    cache = FactsCache(tmp_path / "facts.json", ttl_s=10, clock=lambda: now[0])
    cache.put("a", {"id": "a"})
    now[0] = 11.0
    cache.put("b", {"id": "b"})
    assert set(json.loads((tmp_path / "facts.json").read_text())) == {"b"}


async def test_live_models_use_the_disk_cache_and_offline_ones_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache_file = tmp_path / "xdg" / "planfirst" / "model-facts.json"
    with ScriptedServer([{"tool": "submit_answer", "input": ANSWER}]) as srv:
        base_url = srv.base_url
        live = Models(make_settings(anthropic={"apiKey": API_KEY, "baseUrl": base_url}))
        model = live.execution()
        try:
            await model.run(submit_request(), Handler())
        finally:
            await model.aclose()  # type: ignore[attr-defined]
    assert FactsCache.key(base_url, DEFAULT_EXECUTION_MODEL) in json.loads(cache_file.read_text())
    cache_file.unlink()
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"tool": "submit_answer", "input": ANSWER}]))
    offline = Models(make_settings(), script=script)
    try:
        model = offline.execution()
        await model.run(submit_request(), Handler())
        await model.aclose()  # type: ignore[attr-defined]
    finally:
        offline.close()
    assert not cache_file.exists()


# ---------------------------------------------------------------- parameters per model


@pytest.mark.parametrize(
    ("model", "wanted", "sent"),
    [
        ("claude-opus-5-5", "xhigh", "xhigh"),
        ("claude-sonnet-4-6", "xhigh", "high"),  # no xhigh there: the level below it
        ("claude-opus-4-6", "max", "max"),
    ],
)
async def test_effort_only_where_the_model_takes_it(model: str, wanted: str, sent: str) -> None:
    with ScriptedServer([{"tool": "submit_answer", "input": ANSWER}]) as srv:
        run = await make_model(srv, model, thinking={"effort": wanted}).run(
            submit_request(thinking=True), Handler()
        )
        assert srv.failures == []  # the scripted server refuses a level the model lacks
        assert srv.requests[0].body["output_config"] == {"effort": sent}
    assert (wanted != sent) == any("does not take effort" in n for n in run.notes)


async def test_no_effort_on_a_model_without_it() -> None:
    script = {
        "turns": [{"tool": "submit_answer", "input": ANSWER}],
        "models": {"claude-plain-1": {"base": "claude-sonnet-4-6", "efforts": []}},
    }
    with ScriptedServer(script) as srv:
        await make_model(srv, "claude-plain-1").run(submit_request(thinking=True), Handler())
        assert srv.failures == [] and "output_config" not in srv.requests[0].body


async def test_submit_tool_is_strict_only_where_supported() -> None:
    no_strict = {"capabilities": None}  # filled below from the base, without structured outputs
    script: dict[str, Any] = {
        "turns": [{"tool": "submit_answer", "input": ANSWER}] * 2,
        "models": {},
    }
    with ScriptedServer(script) as srv:
        await make_model(srv, "claude-sonnet-4-6").run(submit_request(), Handler())
        info = srv.model_info("claude-sonnet-4-6")
        assert info is not None
        caps = json.loads(json.dumps(info["capabilities"]))
        caps["structured_outputs"] = {"supported": False}
        no_strict["capabilities"] = caps
    strict_tools = [t for t in srv.requests[0].body["tools"] if t["name"] == "submit_answer"]
    assert strict_tools[0]["strict"] is True
    script["models"] = {"claude-loose-1": {"base": "claude-sonnet-4-6", **no_strict}}
    with ScriptedServer(script) as srv:
        await make_model(srv, "claude-loose-1").run(submit_request(), Handler())
        assert srv.failures == []
        tool = next(t for t in srv.requests[0].body["tools"] if t["name"] == "submit_answer")
    assert "strict" not in tool


@pytest.mark.parametrize(
    ("model", "tools", "beta"),
    [
        ("claude-haiku-4-5", True, True),  # budget thinking with a tool loop: the beta helps
        ("claude-haiku-4-5", False, False),  # only the submit tool: nothing to interleave
        ("claude-opus-5-5", True, False),  # adaptive models interleave by default
    ],
)
async def test_interleaved_thinking_beta_only_where_it_helps(
    model: str, tools: bool, beta: bool
) -> None:
    with ScriptedServer([{"tool": "submit_answer", "input": ANSWER}]) as srv:
        request = submit_request(thinking=True, tools=[READ_TOOL] if tools else None)
        await make_model(srv, model, maxTokens=16_000).run(request, Handler())
        assert srv.failures == []
        header = srv.requests[0].headers.get("anthropic-beta", "")
    assert (INTERLEAVED_THINKING_BETA in header) == beta


# ---------------------------------------------------------------- prompts that fit the window

BIG_FILE = (
    '<file path="src/huge.py">\n'
    + "value = compute(value) + 1  # a long line\n" * 800
    + "\n</file>"
)
SMALL = {"claude-small-1": {"base": "claude-sonnet-4-6", "max_input_tokens": 6000}}


@pytest.mark.parametrize("counting", [True, False])
async def test_a_prompt_over_the_window_stops_before_sending(counting: bool) -> None:
    script = {"turns": [{"tool": "submit_answer", "input": ANSWER}], "models": SMALL}
    with ScriptedServer(script, count_tokens=counting) as srv:
        with pytest.raises(ModelError) as err:
            await make_model(srv, "claude-small-1").run(
                submit_request(stable=[BIG_FILE]), Handler()
            )
        assert srv.requests == [] and srv.remaining() == 1  # nothing sent
        counted = [r for r in srv.side_requests if r.path == "/v1/messages/count_tokens"]
        assert len(counted) == 1  # asked (a 404 when the endpoint is missing)
    msg = err.value.message
    assert err.value.kind == "too_big"
    assert "context window of 6,000 tokens" in msg and "file src/huge.py" in msg
    assert ("counted by the token-counting API" in msg) == counting
    assert ("estimated locally" in msg) == (not counting)


async def test_small_prompts_are_not_counted_and_max_tokens_fits_the_window() -> None:
    script = {"turns": [{"tool": "submit_answer", "input": ANSWER}] * 2, "models": SMALL}
    with ScriptedServer(script) as srv:
        await make_model(srv, "claude-small-1").run(submit_request(), Handler())
        assert [r.path for r in srv.side_requests if r.method == "POST"] == []  # far below: no call
        # ~2,700 tokens of prompt: counted, and max_tokens lowered so prompt + answer fit 6,000
        mid = "word " * 2000
        run = await make_model(srv, "claude-small-1").run(submit_request(stable=[mid]), Handler())
        counted = [r for r in srv.side_requests if r.path == "/v1/messages/count_tokens"]
        assert len(counted) == 1
        sent = srv.requests[-1].body["max_tokens"]
    assert 1024 <= sent < 6000
    assert any("max_tokens lowered" in n for n in run.notes)


# ---------------------------------------------------------------- start-up without the SDK


def _frame(obj: dict[str, Any]) -> bytes:
    data = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(data) + data


def test_initialize_does_not_import_the_sdk(tmp_path: Path) -> None:
    """The module set after `initialize` (and a session with the scripted model) has no
    anthropic, httpx2 or jiter: the SDK is imported on the first model call only."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "unused"}]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC")}
    env.update(PLANFIRST_SCRIPT=str(script), PYTHONPROFILEIMPORTTIME="1", HOME=str(tmp_path))
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}},
    }
    stdin = (
        _frame(init)
        + _frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        + _frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        + _frame({"jsonrpc": "2.0", "method": "exit"})
    )
    proc = subprocess.run(
        [sys.executable, "-m", "planfirst", "serve"],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert b'"capabilities"' in proc.stdout, proc.stderr[-2000:]
    imported = {
        line.split("|")[-1].strip()
        for line in proc.stderr.decode(errors="replace").splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "planfirst.lsp.server" in imported and "planfirst.llm.factory" in imported
    sdk = sorted(m for m in imported if m.split(".")[0] in {"anthropic", "httpx2", "jiter"})
    assert sdk == [], sdk


def test_catalogue_defaults_are_current() -> None:
    settings = Settings()
    for name in (settings.planning_model, settings.execution_model):
        info = lookup(name)
        assert info.known and info.lifecycle == "active", name
    assert (settings.planning_model, settings.execution_model) == (
        DEFAULT_PLANNING_MODEL,
        DEFAULT_EXECUTION_MODEL,
    )
