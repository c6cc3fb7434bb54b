"""The scripted server's realistic-latency mode (llm/scripted/latency.py, #32), through the real
SDK: time to first token grows with the uncached prompt, a cache read is prefilled faster, the
answer streams at the output speed, and a bad `latency` member is refused by name."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anthropic
import pytest

from planfirst.llm.scripted import latency as scripted_latency
from planfirst.llm.scripted import server as scripted
from planfirst.llm.scripted.server import ScriptedServer

MODEL = "claude-sonnet-5-5"
BIG = "All work and no play makes a dull plan. " * 1000  # ~40,000 characters: ~10,000 tokens


def _client(srv: ScriptedServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test", base_url=srv.base_url, max_retries=0)


def _ask(client: anthropic.Anthropic) -> tuple[float, Any]:
    t0 = time.perf_counter()
    msg = client.messages.create(
        model=MODEL,
        max_tokens=200,
        system=[{"type": "text", "text": BIG, "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Summarise."}],
    )
    return time.perf_counter() - t0, msg


def test_prefill_is_slower_uncached_than_read_from_the_cache() -> None:
    script = {
        "turns": [{"text": "ok"}, {"text": "ok"}],
        "latency": {
            "ttft_s": 0.05,
            "prefill_tokens_per_s": 10_000,
            "cached_prefill_tokens_per_s": 1_000_000,
            "output_tokens_per_s": 10_000,
        },
    }
    with ScriptedServer(script) as srv:
        client = _client(srv)
        first, m1 = _ask(client)
        second, m2 = _ask(client)
        assert srv.failures == []
    assert m1.usage.cache_creation_input_tokens > 9_000 and m2.usage.cache_read_input_tokens > 9_000
    # ~10,000 uncached tokens at 10,000/s: a second; read from the cache: ~0.06 s
    assert first >= 1.0, first
    assert second < first - 0.6, (first, second)


def test_the_answer_streams_at_the_output_speed() -> None:
    text = "word " * 2000  # ~2,500 output tokens by the server's count
    script = {
        "turns": [{"text": text}],
        "latency": {"ttft_s": 0.2, "output_tokens_per_s": 2_500},
    }
    with ScriptedServer(script) as srv:
        t0 = time.perf_counter()
        first_event = None
        with _client(srv).messages.stream(
            model=MODEL, max_tokens=4000, messages=[{"role": "user", "content": "Talk."}]
        ) as stream:
            for _event in stream:
                if first_event is None:
                    first_event = time.perf_counter() - t0
            final = stream.get_final_message()
        total = time.perf_counter() - t0
        assert srv.failures == []
    assert first_event is not None and first_event >= 0.2
    out = final.usage.output_tokens
    assert out > 2_000
    assert total - first_event >= 0.8 * out / 2_500, (first_event, total, out)


def test_defaults_come_from_the_requested_models_family() -> None:
    plan = scripted_latency.from_script({"latency": True})
    assert plan is not None
    sonnet, opus = plan.for_request("claude-sonnet-5-5"), plan.for_request("claude-opus-5-5")
    assert sonnet is not None and opus is not None
    assert (sonnet.ttft_s, sonnet.output_tokens_per_s) == (0.9, 101.0)
    assert opus.output_tokens_per_s == 90.7
    slower = scripted_latency.from_script({"latency": {"model": "claude-opus-5-5", "scale": 0.5}})
    got = slower.for_request(MODEL) if slower is not None else None
    assert got is not None and got.ttft_s == opus.ttft_s
    assert got.first_token({}) == pytest.approx(opus.ttft_s * 0.5)
    only = scripted_latency.from_script({"latency": {"only": [MODEL]}})
    assert only is not None and only.for_request("claude-opus-5-5") is None
    assert only.for_request(MODEL) == sonnet
    assert scripted_latency.from_script({"turns": []}) is None


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"ttft": 1}, "unknown latency keys ['ttft']"),
        ({"output_tokens_per_s": 0}, "'output_tokens_per_s' must be above 0"),
        ({"scale": "fast"}, "'scale' must be a number"),
        ({"ttft_s": 1e9}, "'ttft_s' must be between 0 and 600"),
        ("slow", "'latency' must be true or an object"),
        ({"only": "claude-sonnet-5-5"}, "'only' must be a list of model names"),
        ({"scale": True}, "'scale' must be a number"),
        ({"model": 5}, "'model' must be a model name"),
        ({"prefill_tokens_per_s": float("nan")}, "'prefill_tokens_per_s' must be above 0"),
    ],
)
def test_a_bad_latency_member_is_refused_by_name(tmp_path: Path, spec: Any, says: str) -> None:
    with pytest.raises(scripted_latency.LatencyError, match=says.replace("[", r"\[")):
        ScriptedServer({"turns": [{"text": "x"}], "latency": spec})
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"turns": [{"text": "x"}], "latency": spec}))
    assert scripted.main(["--script", str(path)]) == 2


def test_the_latency_format_names_every_figure() -> None:
    """script.LatencySpec (the check) holds every figure of a Latency (what is used), and only
    those, besides `model` and `only`."""
    from dataclasses import fields

    from planfirst.llm.scripted.script import LatencySpec

    assert set(LatencySpec.model_fields) - {"model", "only"} == {
        f.name for f in fields(scripted_latency.Latency)
    }
