"""AnthropicModel through the real SDK over HTTP against the scripted Messages server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from planfirst.llm.anthropic import AnthropicModel
from planfirst.llm.catalog import cost
from planfirst.llm.model import TEXT_EDITOR_TOOL, ModelError, ModelRequest, ToolOutcome, ToolSpec
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.plan.model import PlanBody, Usage
from tests.support.llm_helpers import (
    API_KEY,
    BIG_CONTEXT,
    Answer,
    Handler,
    Recorder,
    close_models,
    make_model,
    make_settings,
    submit_request,
    valid_plan,
)

ANSWER = {"title": "Greeting", "count": 3, "tags": ["a", "b", "c"]}

READ_TOOL = ToolSpec(
    name="read_file",
    description="Read a workspace file.",
    input_schema={
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
    },
)
EDITOR_TOOL = ToolSpec(name=TEXT_EDITOR_TOOL, anthropic_type="text_editor_20250728")


@pytest.fixture(autouse=True)
async def _close_models() -> AsyncIterator[None]:
    yield
    await close_models()


def _prefix(body: dict[str, Any]) -> str:
    """The part of a request that must stay byte-identical across calls of one plan."""
    first = [
        {k: v for k, v in b.items() if k != "cache_control"} | {"cc": "cache_control" in b}
        for b in body["messages"][0]["content"]
    ]
    return json.dumps([body["tools"], body["system"], first], sort_keys=True)


# ---------------------------------------------------------------- structured output


async def test_structured_submit_streamed_with_partial_snapshots() -> None:
    with ScriptedServer(
        [
            {
                "text": "Here it is.",
                "tool": "submit_answer",
                "input": ANSWER,
                "expect": {"tools": ["submit_answer"]},
            }
        ]
    ) as srv:
        rec = Recorder()
        run = await make_model(srv).run(submit_request(stable=["ctx A", "ctx B"]), Handler(), rec)
        assert srv.failures == []
        assert srv.remaining() == 0
    assert isinstance(run.submitted, Answer)
    assert run.submitted.model_dump() == ANSWER
    assert run.final_text == "Here it is."
    assert "".join(rec.text) == "Here it is."
    # Partial snapshots grow towards the final input; none is the final one before the end.
    assert len(rec.partials) >= 3
    assert rec.partials[-1] == ANSWER
    assert any(p != ANSWER and p for p in rec.partials)
    body = srv.requests[0].body
    assert body["stream"] is True
    assert body["system"] == [
        {
            "type": "text",
            "text": "You are a careful planner.",
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "ctx A"},
        {"type": "text", "text": "ctx B", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Give the answer."},
    ]
    assert body["tool_choice"] == {"type": "any"}
    # thinking off means off on models that may think by default (and allows "any")
    assert body["thinking"] == {"type": "disabled"}
    assert srv.requests[0].headers["x-stainless-retry-count"] == "0"


async def test_structured_submit_not_streamed() -> None:
    with ScriptedServer(
        [{"tool": "submit_answer", "input": ANSWER, "expect": {"stream": False}}]
    ) as srv:
        run = await make_model(srv, stream=False).run(submit_request(), Handler())
        assert srv.failures == []
    assert isinstance(run.submitted, Answer) and run.submitted.count == 3
    assert run.usage.calls == 1 and run.usage.input_tokens > 0


async def test_plan_body_schema_with_defs() -> None:
    with ScriptedServer([{"tool": "submit_plan", "input": valid_plan()}]) as srv:
        model = make_model(srv, planningModel="claude-opus-4-6")
        run = await model.run(
            submit_request(schema=PlanBody, name="submit_plan", thinking=True), Handler()
        )
        assert srv.failures == []
    assert isinstance(run.submitted, PlanBody)
    assert [s.order for s in run.submitted.steps] == [1, 2]
    schema = srv.requests[0].body["tools"][0]["input_schema"]
    assert "$defs" in schema and schema["additionalProperties"] is False


# ---------------------------------------------------------------- tool loop


async def test_multi_turn_tool_loop_sends_results_back() -> None:
    script = [
        {"text": "Let me look.", "tool": "read_file", "input": {"path": "app.py"}},
        {
            "tools": [
                {"name": "read_file", "input": {"path": "missing.py"}},
                {"name": TEXT_EDITOR_TOOL, "input": {"command": "view", "path": "app.py"}},
            ],
            "expect": {"tool_result_contains": "print('hi')"},
        },
        {
            "tool": "submit_answer",
            "input": ANSWER,
            "expect": {
                "tool_result_contains": ["no such file: missing.py"],
                "tool_result_error": True,
            },
        },
    ]
    handler = Handler()

    async def answer(name: str, tool_input: dict[str, Any]) -> ToolOutcome:
        await handler(name, tool_input)
        if tool_input.get("path") == "missing.py":
            return ToolOutcome("no such file: missing.py", is_error=True)
        return ToolOutcome("print('hi')\n")

    with ScriptedServer(script) as srv:
        model = make_model(srv)
        rec = Recorder()
        run = await model.run(
            submit_request(tools=[READ_TOOL, EDITOR_TOOL], stable=[BIG_CONTEXT]), answer, rec
        )
        assert srv.failures == []
    assert run.submitted is not None and run.turns == 3
    assert handler.calls == [
        ("read_file", {"path": "app.py"}),
        ("read_file", {"path": "missing.py"}),
        (TEXT_EDITOR_TOOL, {"command": "view", "path": "app.py"}),
    ]
    assert [c[0] for c in rec.tool_calls] == ["read_file", "read_file", TEXT_EDITOR_TOOL]
    bodies = [r.body for r in srv.requests]
    # Tools: built-in editor by type, custom ones with schemas, sorted by name, same every call.
    assert [t["name"] for t in bodies[0]["tools"]] == sorted(
        ["read_file", TEXT_EDITOR_TOOL, "submit_answer"]
    )
    assert {"type": "text_editor_20250728", "name": TEXT_EDITOR_TOOL} in bodies[0]["tools"]
    assert len({_prefix(b) for b in bodies}) == 1
    # Tool results answer the right ids; the error flag is sent.
    assistant = bodies[2]["messages"][3]
    results = bodies[2]["messages"][4]["content"]
    ids = [b["id"] for b in assistant["content"] if b["type"] == "tool_use"]
    assert [r["tool_use_id"] for r in results] == ids
    assert results[0]["is_error"] is True and "is_error" not in results[1]
    # Only the newest message carries the moving breakpoint.
    marks = [
        (i, j)
        for i, m in enumerate(bodies[2]["messages"])
        for j, b in enumerate(m["content"])
        if "cache_control" in b
    ]
    assert marks == [(0, 0), (4, 1)]


async def test_text_reply_without_submit() -> None:
    request = ModelRequest(
        purpose="diagnose", system="sys", stable_blocks=["ctx"], instruction="Explain.", tools=[]
    )
    with ScriptedServer([{"text": "All good.", "expect": {"no_tools": True}}]) as srv:
        run = await make_model(srv).run(request, Handler())
        assert srv.failures == []
        assert "tool_choice" not in srv.requests[0].body
    assert run.submitted is None and run.final_text == "All good."


async def test_end_turn_without_submit_is_nudged_then_fails() -> None:
    script = [
        {"text": "I think the plan is fine."},
        {
            "tool": "submit_answer",
            "input": ANSWER,
            "expect": {"contains": ["Call submit_answer now"]},
        },
    ]
    with ScriptedServer(script) as srv:
        run = await make_model(srv).run(submit_request(thinking=True), Handler())
        assert srv.failures == []
    assert run.submitted is not None

    with ScriptedServer([{"text": "no"}, {"text": "still no"}]) as srv:
        with pytest.raises(ModelError) as err:
            await make_model(srv).run(submit_request(thinking=True), Handler())
    assert err.value.kind == "no_submit"
    assert "submit_answer" in err.value.message and "still no" in err.value.message


async def test_max_turns_bounds_the_loop() -> None:
    script = [{"tool": "read_file", "input": {"path": "a.py"}}] * 3
    with ScriptedServer(script) as srv:
        with pytest.raises(ModelError) as err:
            await make_model(srv).run(submit_request(tools=[READ_TOOL], max_turns=2), Handler())
        assert len(srv.requests) == 2
    assert err.value.kind == "max_turns" and "2 turns" in err.value.message


# ---------------------------------------------------------------- faults and retries


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"status": 429, "retry_after": 0}, "rate limited (429)"),
        ({"status": 529}, "overloaded (529)"),
        ({"status": 500}, "server error (500)"),
        ({"status": 503}, "server error (503)"),
        ("stream_error", "overloaded (error event in the stream)"),
        ("stream_cut", "response stream cut midway"),
        ({"status": 409}, "conflict (409)"),
        # x-should-retry overrides the status: a 400 the API asks to retry is retried
        (
            {"status": 400, "headers": {"x-should-retry": "true"}},
            "rejected the request (400); the API asked to retry",
        ),
        # a plain 429 (no spend-limit error code) is a rate limit, whatever its wording says
        ({"status": 429, "message": "spend credit billing quota"}, "rate limited (429)"),
    ],
)
async def test_fault_is_retried_then_succeeds(fault: Any, reason: str) -> None:
    # The faulty turn carries a different (valid) input: it must never be accepted.
    bad = {"title": "PARTIAL", "count": 9}
    script = [
        {"fault": fault, "tool": "submit_answer", "input": bad},
        {"tool": "submit_answer", "input": ANSWER},
    ]
    with ScriptedServer(script) as srv:
        rec = Recorder()
        run = await make_model(srv).run(submit_request(), Handler(), rec)
        assert srv.failures == [] and srv.remaining() == 0
        assert [r.headers["x-stainless-retry-count"] for r in srv.requests] == ["0", "0"]
    assert run.submitted is not None and run.submitted.model_dump() == ANSWER
    assert [(a, r) for a, r, _ in rec.retries] == [(1, reason)]
    # a stream cut (or failed) after message_start was billed: its usage counts too (case 41)
    assert run.usage.calls == (2 if fault in ("stream_cut", "stream_error") else 1)


async def test_retry_after_is_honoured() -> None:
    script = [
        {"fault": {"status": 429, "retry_after_ms": 300}},
        {"tool": "submit_answer", "input": ANSWER},
    ]
    with ScriptedServer(script) as srv:
        rec = Recorder()
        await make_model(srv).run(submit_request(), Handler(), rec)
    assert rec.retries[0][2] == pytest.approx(0.3)


async def test_retry_after_is_not_capped_below_what_the_server_asks() -> None:
    with ScriptedServer([]) as srv:
        model = make_model(srv)
        # Honoured as asked (the old code capped it at 60 s); the deadline check decides.
        assert model._wait(1, 75.0) == 75.0
        assert model._wait(3, 0.25) == 0.25


async def test_retries_exhausted_give_one_clear_error() -> None:
    script = [{"fault": {"status": 529, "message": "Overloaded"}}] * 4 + [{"text": "unused"}]
    with ScriptedServer(script) as srv:
        rec = Recorder()
        with pytest.raises(ModelError) as err:
            await make_model(srv).run(submit_request(), Handler(), rec)
        assert len(srv.requests) == 4 and srv.remaining() == 1
    assert err.value.kind == "overloaded" and err.value.retryable
    assert "overloaded (529) after 4 attempts" in err.value.message
    assert "try again later" in err.value.message
    assert len(rec.retries) == 3


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ({"status": 400, "message": "messages: bad"}, "bad_request", "rejected the request (400)"),
        ({"status": 401, "message": "invalid x-api-key"}, "auth", "ANTHROPIC_API_KEY"),
        ({"status": 403}, "auth", "permission"),
        ({"status": 404, "message": "model: x"}, "bad_request", "planfirst.planningModel"),
        ({"status": 413}, "bad_request", "too large"),
        (
            {"status": 429, "error_code": "enforced_spend_limit_reached"},
            "spend_limit",
            "spend limit reached (429 enforced_spend_limit_reached)",
        ),
        (
            {"status": 429, "error_code": "contract_spend_limit_reached"},
            "spend_limit",
            "contract spend limit",
        ),
        (
            {"status": 402, "error_code": "linked_organization_spend_limit_reached"},
            "spend_limit",
            "linked organization",
        ),
        # x-should-retry overrides the status: a 529 the API says not to retry fails at once
        ({"status": 529, "headers": {"x-should-retry": "false"}}, "overloaded", "not to retry"),
    ],
)
async def test_non_retryable_errors_fail_at_once(
    fault: dict[str, Any], kind: str, words: str
) -> None:
    with ScriptedServer([{"fault": fault}, {"tool": "submit_answer", "input": ANSWER}]) as srv:
        rec = Recorder()
        with pytest.raises(ModelError) as err:
            await make_model(srv).run(submit_request(), Handler(), rec)
        assert len(srv.requests) == 1 and srv.remaining() == 1
    assert err.value.kind == kind and not err.value.retryable
    assert words in err.value.message
    assert "[request-id req_scripted_" in err.value.message  # for support
    assert rec.retries == []


async def test_api_key_never_in_error_messages() -> None:
    echo = {"status": 401, "message": f"invalid x-api-key: {API_KEY}"}
    with ScriptedServer([{"fault": echo}]) as srv:
        model = make_model(srv)
        with pytest.raises(ModelError) as err:
            await model.run(submit_request(), Handler())
        # It was sent (the SDK uses a bearer header), only to 127.0.0.1.
        headers = srv.requests[0].headers
        assert API_KEY in headers.get("x-api-key", "") + headers.get("authorization", "")
    assert API_KEY not in err.value.message and API_KEY not in str(err.value)
    assert "[redacted]" in err.value.message
    assert API_KEY not in repr(model) and API_KEY not in repr(vars(model).get("settings"))


async def test_missing_key_is_a_clear_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ModelError) as err:
        AnthropicModel("claude-sonnet-4-6", make_settings())
    assert err.value.kind == "auth"
    assert (
        "ANTHROPIC_API_KEY" in err.value.message
        and "planfirst.anthropic.apiKey" in err.value.message
    )


async def test_deadline_with_long_retry_after_fails_fast() -> None:
    script = [
        {"fault": {"status": 429, "retry_after": 120}},
        {"tool": "submit_answer", "input": ANSWER},
    ]
    with ScriptedServer(script) as srv:
        model = make_model(srv, anthropic={"deadline": 2.0})
        started = time.monotonic()
        with pytest.raises(ModelError) as err:
            await model.run(submit_request(), Handler())
        assert time.monotonic() - started < 1.5
        assert len(srv.requests) == 1
    assert err.value.kind == "deadline"
    assert "120" in err.value.message and "deadline" in err.value.message


async def test_deadline_cuts_a_slow_answer() -> None:
    with ScriptedServer([{"delay": 3, "tool": "submit_answer", "input": ANSWER}]) as srv:
        model = make_model(srv, anthropic={"deadline": 0.4})
        started = time.monotonic()
        with pytest.raises(ModelError) as err:
            await model.run(submit_request(), Handler())
        assert time.monotonic() - started < 2.0
    assert err.value.kind == "deadline" and "0.4 s deadline" in err.value.message


async def test_request_timeout_is_retried() -> None:
    script = [{"delay": 1.0, "text": "late"}, {"tool": "submit_answer", "input": ANSWER}]
    with ScriptedServer(script) as srv:
        rec = Recorder()
        run = await make_model(srv, anthropic={"requestTimeout": 0.2}).run(
            submit_request(), Handler(), rec
        )
    assert run.submitted is not None
    assert rec.retries and rec.retries[0][1] == "timed out"


async def test_cancellation_propagates_promptly() -> None:
    slow = {"tool": "submit_answer", "input": {"title": "x" * 400, "count": 2}, "delay_chunks": 0.2}
    with ScriptedServer([slow]) as srv:
        rec = Recorder()
        task = asyncio.create_task(make_model(srv).run(submit_request(), Handler(), rec))
        for _ in range(100):
            if rec.partials:
                break
            await asyncio.sleep(0.02)
        assert rec.partials, "the stream never started"
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 0.5


# ---------------------------------------------------------------- output problems


async def test_invalid_submit_is_reasked_with_the_errors() -> None:
    script = [
        {"tool": "submit_answer", "input": {"title": "x", "count": 0, "colour": "red"}},
        {
            "tool": "submit_answer",
            "input": ANSWER,
            "expect": {
                "tool_result_contains": [
                    "count: Input should be greater than or equal to 1",
                    "colour: Extra inputs are not permitted",
                    "call submit_answer again",
                ],
                "tool_result_error": True,
            },
        },
    ]
    with ScriptedServer(script) as srv:
        run = await make_model(srv).run(submit_request(), Handler())
        assert srv.failures == []
    assert run.submitted is not None and run.usage.calls == 2


async def test_plan_invariant_errors_reach_the_model() -> None:
    bad = valid_plan()
    bad["steps"][1]["order"] = 1
    script = [
        {"tool": "submit_plan", "input": bad},
        {
            "tool": "submit_plan",
            "input": valid_plan(),
            "expect": {"tool_result_contains": "order 1 is repeated"},
        },
    ]
    with ScriptedServer(script) as srv:
        run = await make_model(srv).run(
            submit_request(schema=PlanBody, name="submit_plan"), Handler()
        )
        assert srv.failures == []
    assert isinstance(run.submitted, PlanBody)


async def test_invalid_submit_fails_after_max_reasks() -> None:
    bad = {"tool": "submit_answer", "input": {"title": "x", "count": -1}}
    with ScriptedServer([bad, bad, bad, {"tool": "submit_answer", "input": ANSWER}]) as srv:
        with pytest.raises(ModelError) as err:
            await make_model(srv).run(submit_request(max_reasks=2), Handler())
        assert len(srv.requests) == 3 and srv.remaining() == 1
    assert err.value.kind == "invalid_output"
    assert "after 2 re-asks" in err.value.message and "count" in err.value.message


async def test_max_tokens_truncation_retried_with_more_tokens() -> None:
    script = [
        {"stop_reason": "max_tokens", "tool": "submit_answer", "input": ANSWER},
        {"tool": "submit_answer", "input": ANSWER, "expect": {"max_tokens_at_least": 8000}},
    ]
    with ScriptedServer(script) as srv:
        run = await make_model(srv, maxTokens=4000).run(submit_request(), Handler())
        assert srv.failures == []
        assert [r.body["max_tokens"] for r in srv.requests] == [4000, 8000]
        # The truncated answer never entered the conversation.
        assert len(srv.requests[1].body["messages"]) == 1
    assert run.submitted is not None and run.usage.calls == 2
    assert any("max_tokens=4000" in n for n in run.notes)


async def test_max_tokens_at_model_limit_is_a_clear_error() -> None:
    script = [{"stop_reason": "max_tokens", "tool": "submit_answer", "input": ANSWER}]
    with ScriptedServer(script) as srv:
        with pytest.raises(ModelError) as err:
            await make_model(srv, maxTokens=128_000).run(submit_request(), Handler())
    assert err.value.kind == "truncated"
    assert "max_tokens=128000" in err.value.message and "submit_answer" in err.value.message


async def test_refusal_is_reported() -> None:
    with ScriptedServer([{"stop_reason": "refusal", "text": "I can't help with that."}]) as srv:
        with pytest.raises(ModelError) as err:
            await make_model(srv).run(submit_request(), Handler())
    assert err.value.kind == "refusal"


# ---------------------------------------------------------------- thinking


async def test_adaptive_thinking_for_newer_models() -> None:
    script = [
        {
            "thinking": "hmm",
            "tool": "submit_answer",
            "input": ANSWER,
            "expect": {"thinking": "adaptive", "tool_choice": "auto"},
        }
    ]
    with ScriptedServer(script) as srv:
        rec = Recorder()
        await make_model(srv, "claude-opus-4-6", thinking={"effort": "medium"}).run(
            submit_request(thinking=True), Handler(), rec
        )
        assert srv.failures == []
        body = srv.requests[0].body
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "medium"}
    assert "budget_tokens" not in json.dumps(body)
    assert "".join(rec.thinking) == "hmm"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "name", ["claude-haiku-4-5", "claude-haiku-4-5-20251001", "claude-opus-4-5"]
)
async def test_budget_thinking_for_older_models(name: str) -> None:
    script = [
        {
            "tool": "submit_answer",
            "input": ANSWER,
            "expect": {"thinking": "enabled", "tool_choice": "auto"},
        }
    ]
    with ScriptedServer(script) as srv:
        await make_model(srv, name, maxTokens=16_000).run(submit_request(thinking=True), Handler())
        assert srv.failures == []
        thinking = srv.requests[0].body["thinking"]
    assert 1024 <= thinking["budget_tokens"] < 16_000


async def test_budget_from_settings_is_kept_below_max_tokens() -> None:
    with ScriptedServer([{"tool": "submit_answer", "input": ANSWER}]) as srv:
        await make_model(
            srv, "claude-haiku-4-5", maxTokens=4096, thinking={"budgetTokens": 50_000}
        ).run(submit_request(thinking=True), Handler())
        assert srv.requests[0].body["thinking"] == {"type": "enabled", "budget_tokens": 4095}


async def test_thinking_off_by_setting_or_request() -> None:
    script = [
        {
            "tool": "submit_answer",
            "input": ANSWER,
            "expect": {"thinking": "disabled", "tool_choice": "any"},
        }
    ] * 2
    with ScriptedServer(script) as srv:
        await make_model(srv, "claude-opus-4-6", thinking={"enabled": False}).run(
            submit_request(thinking=True), Handler()
        )
        await make_model(srv, "claude-opus-4-6").run(submit_request(thinking=False), Handler())
        assert srv.failures == []


async def test_thinking_blocks_passed_back_unchanged_in_tool_loop() -> None:
    script = [
        {
            "thinking": "I should read app.py first.",
            "tool": "read_file",
            "input": {"path": "app.py"},
        },
        {"thinking": "Now submit.", "tool": "submit_answer", "input": ANSWER},
    ]
    with ScriptedServer(script) as srv:
        await make_model(srv, "claude-opus-4-6").run(
            submit_request(thinking=True, tools=[READ_TOOL]), Handler()
        )
        # The scripted server checks signatures and presence like the real API does.
        assert srv.failures == []
        history = srv.requests[1].body["messages"][1]["content"]
    assert history[0]["type"] == "thinking"
    assert history[0]["thinking"] == "I should read app.py first."
    assert history[0]["signature"].startswith("sig-")


# ---------------------------------------------------------------- usage, cost, caching


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_usage_cost_and_cache_reads_on_identical_prefix() -> None:
    script = [
        {"tool": "read_file", "input": {"path": "a.py"}},
        {"tool": "submit_answer", "input": ANSWER},
        {"tool": "submit_answer", "input": ANSWER},
    ]
    with ScriptedServer(script) as srv:
        model = make_model(srv, "claude-sonnet-4-6")
        first = await model.run(
            submit_request(tools=[READ_TOOL], stable=[BIG_CONTEXT], instruction="Step 1"), Handler()
        )
        second = await model.run(
            submit_request(tools=[READ_TOOL], stable=[BIG_CONTEXT], instruction="Step 2"), Handler()
        )
        assert srv.failures == []
    # First call writes the prefix, the loop's second call reads it back.
    assert first.usage.calls == 2
    assert first.usage.cache_creation_input_tokens > 0
    assert first.usage.cache_read_input_tokens > 0
    # Another step of the same plan: the stable prefix is read, not written again.
    assert second.usage.cache_read_input_tokens > 2000
    assert second.usage.cache_creation_input_tokens == 0
    assert second.prompt_hash == first.prompt_hash
    for run in (first, second):
        u = run.usage
        expected = (
            u.input_tokens * 3.0
            + u.output_tokens * 15.0
            + u.cache_creation_input_tokens * 3.75
            + u.cache_read_input_tokens * 0.3
        ) / 1e6
        assert u.cost_usd == pytest.approx(expected, abs=2e-6)
    assert not any("minimum cacheable" in n for n in first.notes)


async def test_short_prefix_is_noted_and_not_cached() -> None:
    script = [{"tool": "submit_answer", "input": ANSWER}] * 2
    with ScriptedServer(script) as srv:
        model = make_model(srv, "claude-opus-4-6")
        runs = [await model.run(submit_request(), Handler()) for _ in range(2)]
    assert all(r.usage.cache_read_input_tokens == 0 for r in runs)
    assert any(
        "below claude-opus-4-6's minimum cacheable length of 4096" in n for n in runs[0].notes
    )


async def test_price_overrides_and_unknown_models() -> None:
    script = [
        {
            "tool": "submit_answer",
            "input": ANSWER,
            "usage": {"input_tokens": 1000, "output_tokens": 100},
        }
    ] * 2
    # A model the Models API knows but planfirst's price table does not.
    with ScriptedServer({"turns": script, "models": {"claude-future-9": {}}}) as srv:
        priced = await make_model(
            srv, prices={"claude-sonnet-4-6": {"input": 1.0, "output": 2.0}}
        ).run(submit_request(), Handler())
        unknown = await make_model(srv, "claude-future-9").run(submit_request(), Handler())
    assert priced.usage.cost_usd == pytest.approx((1000 * 1.0 + 100 * 2.0) / 1e6)
    assert unknown.usage.cost_usd == pytest.approx((1000 * 15.0 + 100 * 75.0) / 1e6)
    assert any("not in planfirst's catalog" in n for n in unknown.notes)
    assert (
        cost("claude-future-9", Usage(input_tokens=1000, output_tokens=100))
        == unknown.usage.cost_usd
    )


async def test_prompt_hash_tracks_the_stable_prefix() -> None:
    with ScriptedServer([]) as srv:
        model = make_model(srv)
        a = model.prompt_hash(submit_request(stable=["x"], instruction="one"))
        b = model.prompt_hash(submit_request(stable=["x"], instruction="two"))
        c = model.prompt_hash(submit_request(stable=["y"], instruction="one"))
    assert a == b != c
