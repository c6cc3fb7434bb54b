"""Today's models, exactly (#27): every model id the installed SDK lists has catalogue facts and
prices; requests to the default models are accepted with the Models API answering and 404ing
(a gateway); thinking off is sent as each model takes it; the per-model rules are enforced by the
scripted server; refusals and 402s say what they are. Real SDK, scripted loopback server."""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from anthropic.types import ModelParam

from planfirst.llm.catalog import (
    DEFAULT_EXECUTION_MODEL,
    DEFAULT_PLANNING_MODEL,
    cost,
    lookup,
)
from planfirst.llm.model import ModelError, ModelRequest, ToolSpec
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.plan.model import Usage
from tests.support.llm_helpers import Handler, close_models, make_model, submit_request

ANSWER = {"title": "Plan", "count": 3, "tags": ["a"]}
READ = ToolSpec(
    name="read_file",
    description="Read a file.",
    input_schema={"type": "object", "properties": {"path": {"type": "string"}}},
)


@pytest.fixture(autouse=True)
async def _close_models() -> AsyncIterator[None]:
    yield
    await close_models()


def sdk_models() -> list[str]:
    """Every model id literal in the installed SDK's `ModelParam`."""
    out: list[str] = []
    for arg in typing.get_args(ModelParam):
        out.extend(a for a in typing.get_args(arg) if isinstance(a, str))
    return out


# ---------------------------------------------------------------- the catalogue


def test_every_model_the_sdk_lists_has_facts_prices_and_a_source() -> None:
    names = sdk_models()
    assert DEFAULT_PLANNING_MODEL in names and DEFAULT_EXECUTION_MODEL in names
    missing = [n for n in names if not lookup(n).known]
    assert missing == [], f"add these to llm/catalog_rows.py: {missing}"
    for name in names:
        info = lookup(name)
        assert info.source, f"{name}: no source page"
        assert info.input_per_mtok > 0 and info.output_per_mtok > 0, name
        assert 0 < info.cache_read_price < info.input_per_mtok < info.cache_write_price, name
        assert info.cache_write_price <= info.cache_write_1h_price, name
        assert info.thinking_types, name


def test_prices_and_limits_of_the_current_models() -> None:
    def per_mtok(model: str, **tokens: int) -> float:
        return cost(model, Usage(**tokens))

    m = 1_000_000
    assert per_mtok("claude-opus-5-5", cache_read_input_tokens=m) == pytest.approx(0.20)
    assert per_mtok("claude-sonnet-5-5", cache_read_input_tokens=m) == pytest.approx(0.10)
    assert per_mtok("claude-fable-5-1", cache_read_input_tokens=m) == pytest.approx(0.25)
    assert per_mtok("claude-opus-5-5", cache_creation_input_tokens=m) == pytest.approx(5.0)
    assert lookup("claude-opus-5-5").cache_write_1h_price == pytest.approx(8.0)
    # Haiku 5.5 by prompt length: $0.10/$0.50 up to 100,000 prompt tokens, $0.50/$2.50 above,
    # on every token of that request
    assert per_mtok("claude-haiku-5-5", input_tokens=100_000, output_tokens=10_000) == (
        pytest.approx(0.10 * 0.1 + 0.50 * 0.01)
    )
    assert per_mtok("claude-haiku-5-5", input_tokens=60_000, cache_read_input_tokens=50_000) == (
        pytest.approx(0.50 * 0.06 + 0.05 * 0.05)
    )
    assert lookup("claude-sonnet-4-6").max_output_tokens == 128_000
    assert lookup("claude-sonnet-5-5").min_cache_tokens == 512
    assert lookup("claude-opus-4-8").min_cache_tokens == 1024
    assert lookup("claude-fable-5-2").known and lookup("claude-mythos-5-2").known


# ---------------------------------------------------------------- the default models


def _execute_request() -> ModelRequest:
    return ModelRequest(
        purpose="execute",
        system="You edit files.",
        stable_blocks=["<plan>one step</plan>"],
        instruction="Do step 1.",
        tools=[READ],
        thinking=True,  # the setting decides: execution does not think by default
    )


@pytest.mark.parametrize("models_api", [True, False], ids=["models-api", "gateway-404"])
async def test_the_default_models_are_never_refused(models_api: bool) -> None:
    script = [
        # planning on Opus 5.5: it always thinks (no forced tool_choice), thinking replayed
        {"thinking": "plan it", "tool": "read_file", "input": {"path": "a.py"}},
        {"thinking": "done", "tool": "submit_answer", "input": ANSWER},
        # execution on Sonnet 5.5 with thinking off: between_tools, progress notes replayed
        {
            "thinking": "reading the file first",
            "tool": "read_file",
            "input": {"path": "a.py"},
            "expect": {"thinking": "between_tools", "tool_choice": "auto"},
        },
        {"text": "Done.", "expect": {"thinking": "between_tools"}},
    ]
    with ScriptedServer(script, models_api=models_api) as srv:
        planner = make_model(srv, DEFAULT_PLANNING_MODEL)
        request = submit_request(thinking=True, tools=[READ])
        planned = await planner.run(request, Handler())
        executor = make_model(srv, DEFAULT_EXECUTION_MODEL)
        done = await executor.run(_execute_request(), Handler())
        assert srv.failures == [], srv.failures
        assert srv.remaining() == 0
        bodies = [r.body for r in srv.requests]
    assert planned.submitted is not None and done.final_text == "Done."
    assert [b["model"] for b in bodies] == [DEFAULT_PLANNING_MODEL] * 2 + [
        DEFAULT_EXECUTION_MODEL
    ] * 2
    for body in bodies[2:]:
        assert body["thinking"] == {"type": "between_tools"}
        assert body["output_config"]["effort"] in ("low", "medium")
    # the progress note came back with its signature, unchanged, in the tool loop
    replayed = bodies[3]["messages"][1]["content"][0]
    assert replayed["type"] == "thinking" and replayed["signature"].startswith("sig-")
    assert replayed["thinking"] == "reading the file first"
    facts = await executor.facts()
    assert facts.source == ("Models API" if models_api else "catalogue")
    assert not any("cannot be turned off" in n for n in done.notes)


@pytest.mark.parametrize(
    ("model", "thinking", "effort"),
    [
        ("claude-sonnet-5-5", {"type": "between_tools"}, "low"),
        ("claude-opus-4-8", {"type": "disabled"}, "low"),
        ("claude-opus-5-5", None, "low"),  # always thinks: an explicit low effort instead
    ],
)
async def test_thinking_off_is_sent_as_each_model_takes_it(
    model: str, thinking: dict[str, str] | None, effort: str
) -> None:
    with ScriptedServer([{"text": "Done."}]) as srv:
        run = await make_model(srv, model).run(_execute_request(), Handler())
        assert srv.failures == []
        body = srv.requests[0].body
    assert body.get("thinking") == thinking
    assert body["output_config"] == {"effort": effort}
    assert any("always thinks" in n for n in run.notes) == (thinking is None)


async def test_execution_effort_and_thinking_are_settings() -> None:
    settings = {"thinking": {"executionEffort": "max", "execution": False}}
    with ScriptedServer([{"text": "Done."}, {"text": "Done."}]) as srv:
        # between_tools is refused above high: max becomes high, noted once
        run = await make_model(srv, "claude-sonnet-5-5", **settings).run(
            _execute_request(), Handler()
        )
        thinking_on = {"thinking": {"execution": True, "executionEffort": "medium"}}
        await make_model(srv, "claude-sonnet-5-5", **thinking_on).run(_execute_request(), Handler())
        assert srv.failures == []
        first, second = (r.body for r in srv.requests)
    assert first["output_config"] == {"effort": "high"}
    assert any("does not take effort 'max'" in n for n in run.notes)
    assert second["thinking"] == {"type": "adaptive"}
    assert second["output_config"] == {"effort": "medium"}


# ---------------------------------------------------------------- the per-model rules


def _body(model: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 2000,
        "messages": [{"role": "user", "content": "Hello"}],
        **extra,
    }


@pytest.mark.parametrize(
    ("model", "extra", "words"),
    [
        ("claude-sonnet-5-5", {"thinking": {"type": "disabled"}}, "'disabled' is not supported"),
        (
            "claude-sonnet-5-5",
            {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            "'enabled' is not supported",
        ),
        (
            "claude-sonnet-5-5",
            {"thinking": {"type": "between_tools"}, "output_config": {"effort": "max"}},
            "effort 'max'",
        ),
        (
            "claude-sonnet-5-5",
            {
                "thinking": {"type": "between_tools"},
                "tools": [{"name": "t", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "any"},
            },
            "forced tool use",
        ),
        (
            "claude-opus-5-5",
            {
                "tools": [{"name": "t", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "t"},
            },
            "tool use",
        ),
        (
            "claude-opus-4-8",
            {
                "messages": [
                    {"role": "user", "content": "Hello"},
                    {"role": "assistant", "content": "{"},
                ]
            },
            "prefill",
        ),
        # the installed SDK no longer takes sampling parameters: sent as extra_body
        (
            "claude-sonnet-5-5",
            {"extra_body": {"temperature": 0.2}, "thinking": {"type": "between_tools"}},
            "temperature",
        ),
        (
            "claude-sonnet-5",
            {"extra_body": {"top_k": 5}, "thinking": {"type": "disabled"}},
            "top_k",
        ),
    ],
)
def test_the_scripted_server_refuses_what_each_model_refuses(
    model: str, extra: dict[str, Any], words: str
) -> None:
    import anthropic

    with ScriptedServer([{"text": "never"}]) as srv:
        client = anthropic.Anthropic(api_key="sk-test", base_url=srv.base_url, max_retries=0)
        with pytest.raises(anthropic.BadRequestError) as err:
            client.messages.create(**_body(model, **extra))
        assert srv.remaining() == 1  # a refused request consumes no turn
    assert words in str(err.value)


async def test_thinking_blocks_are_bound_to_the_model_that_wrote_them() -> None:
    import anthropic

    with ScriptedServer([{"thinking": "mine", "text": "hi"}, {"text": "never"}]) as srv:
        client = anthropic.AsyncAnthropic(api_key="sk-test", base_url=srv.base_url, max_retries=0)
        first = await client.messages.create(
            **_body("claude-sonnet-5-5", thinking={"type": "adaptive"})
        )
        block = first.content[0].model_dump()
        history = [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": [block, {"type": "text", "text": "hi"}]},
            {"role": "user", "content": "More"},
        ]
        with pytest.raises(anthropic.BadRequestError) as err:
            await client.messages.create(
                **_body("claude-opus-5-5", messages=history, thinking={"type": "adaptive"})
            )
        await client.close()
    assert "bound to the model" in str(err.value)


# ---------------------------------------------------------------- refusals and billing


async def test_a_refusal_shows_its_details_and_offers_another_model() -> None:
    details = {
        "type": "refusal",
        "category": "cyber",
        "explanation": "The request could enable malware development.",
    }
    turn = {"stop_reason": "refusal", "text": "I can't help.", "stop_details": details}
    with ScriptedServer([turn]) as srv:
        with pytest.raises(ModelError) as err:
            await make_model(srv, "claude-fable-5-1").run(submit_request(), Handler())
    e = err.value
    assert e.kind == "refusal" and e.refusal_category == "cyber"
    assert "cyber: The request could enable malware development." in e.message
    assert e.fallback is not None and not e.fallback.startswith("claude-fable")
    assert f"planfirst.planningModel to {e.fallback!r}" in e.message


async def test_a_402_is_a_billing_problem_not_a_rate_limit() -> None:
    with ScriptedServer([{"fault": {"status": 402, "message": "credit balance too low"}}]) as srv:
        with pytest.raises(ModelError) as err:
            await make_model(srv).run(submit_request(), Handler())
        assert len(srv.requests) == 1  # never retried
    assert err.value.kind == "billing"
    assert "billing problem" in err.value.message and "rate" not in err.value.message


# ---------------------------------------------------------------- the demo's prompt cache


async def test_the_demo_prints_no_false_not_cached_note(workspace: Path) -> None:
    """The demo's prompts on today's defaults are over the models' minimum cacheable lengths
    (Opus 5.5 and Sonnet 5.5: 512 tokens): no "not cached" note in the planning log or the
    critique's notes (the catalogue said 4,096 and 2,048: four false notes in `make demo`)."""
    from planfirst.core.workflow.session import Session
    from planfirst.settings import load_settings
    from tests.support.demo_script import DEMO_WITH_CRITIQUE
    from tests.support.fake_host import FakeHost, ScriptedModels

    class Logged(FakeHost):
        def __init__(self, root: Path) -> None:
            super().__init__(root)
            self.lines: list[str] = []

        def log(self, text: str) -> None:
            self.lines.append(text)

    settings, _ = load_settings({"critique": {"model": ""}})
    host = Logged(workspace)
    with ScriptedServer(DEMO_WITH_CRITIQUE) as srv:
        models = ScriptedModels(settings, srv.base_url)
        try:
            plan = await Session(workspace, settings, models, host).generate(
                "Add a --top N option to textkit count"
            )
        finally:
            await models.aclose()
        cached = [r for r in srv.requests if "cache_control" in str(r.body.get("system"))]
    assert cached, "the demo's requests mark their prefix for caching"
    notes = [*host.lines, *(plan.provenance.critique.notes if plan.provenance.critique else [])]
    assert not [n for n in notes if "minimum cacheable" in n], notes
    assert plan.usage.cache_read_input_tokens > 0  # the prefix really was read from the cache


def test_a_nonsense_models_api_answer_falls_back_to_the_catalogue() -> None:
    """A gateway (or a tampered cache) answering nonsense never breaks model calls: each field
    that is not what the Models API sends is taken from the catalogue."""
    from planfirst.llm.facts import facts_from_api

    info = lookup("claude-sonnet-5-5")
    answer = {
        "id": "claude-sonnet-5-5",
        "max_tokens": "lots",
        "max_input_tokens": -1,
        "lifecycle": "zombie",
        "capabilities": {"thinking": "all", "effort": ["low"]},
    }
    facts = facts_from_api(answer, info, "Models API")
    assert facts.max_tokens == info.max_output_tokens
    assert facts.max_input_tokens == info.context_window
    assert facts.lifecycle == "active"
    assert facts.thinking_types == ("adaptive", "between_tools")  # the catalogue's
    assert facts.efforts == info.efforts


def test_each_phase_has_its_own_thinking_and_effort() -> None:
    from planfirst.settings import load_settings

    default, _ = load_settings({}, environ={})
    t = default.thinking
    assert [t.on_for(p) for p in ("plan", "execute", "critique", "diagnose")] == [
        True,
        False,
        True,
        True,
    ]
    assert [t.effort_for(p) for p in ("plan", "execute", "critique", "diagnose")] == [
        "high",
        "low",
        "high",
        "high",
    ]
    layer = {"thinking": {"effort": "max", "critiqueEffort": "medium", "diagnosis": False}}
    s, problems = load_settings(layer, environ={})
    assert not problems
    assert s.thinking.effort_for("critique") == "medium"
    assert s.thinking.effort_for("diagnose") == "max" and not s.thinking.on_for("diagnose")
    off, _ = load_settings({"thinking": {"enabled": False, "execution": True}}, environ={})
    assert not any(off.thinking.on_for(p) for p in ("plan", "execute", "critique", "diagnose"))
