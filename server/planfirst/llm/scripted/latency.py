"""Realistic latency for the scripted server (#32): time to first token, output speed, and a
faster prefill for the part of the prompt read from the cache.

Zero latency makes every figure planfirst's own cost; this mode asks what share of a real run
that cost is. A script turns it on with a top-level `latency` member:

    {"turns": [...], "latency": true}                    the published figures of each request's model
    {"turns": [...], "latency": {"output_tokens_per_s": 60, "scale": 0.5, ...}}

Members (all optional; a model's defaults fill the rest):
    model                         whose figures to start from (default: the request's model)
    only                          a list of models: requests to any other model answer at once
    ttft_s                        time to first token of a short, uncached prompt (seconds)
    prefill_tokens_per_s          uncached input tokens (plain and cache-write) processed per second
    cached_prefill_tokens_per_s   input tokens read from the cache per second
    output_tokens_per_s           output tokens per second, spread over the answer's SSE events
    scale                         multiplies every delay (0.1: ten times faster), default 1

A streamed answer sends `message_start` after the time to first token (ttft_s plus the prompt's
prefill) and paces the rest so that the answer takes output_tokens / output_tokens_per_s; a
non-streamed answer arrives after both. Token counts are the server's own (~4 characters/token,
its cache simulation for reads and writes).

Defaults (checked 2026-12-05; official model pages give latency only as words: Sonnet 5.5 "Fast",
Opus 5.5 "Moderate", Haiku 5.5 "Fastest"):
- Sonnet: 0.9 s to first token, 101 output tokens/s — Vercel AI Gateway, live P50 for Claude
  Sonnet 5 on Anthropic (vercel.com/ai-gateway/models/sonnet-5); no figure is published for
  Sonnet 5.5, listed "Fast" like Sonnet 5.
- Opus: 12.5 s to the first answer token (adaptive thinking at high effort, 10k-token prompt),
  90.7 output tokens/s — Artificial Analysis, Claude Opus 5.5 (high) on Anthropic
  (artificialanalysis.ai/models/claude-opus-5-5-high/providers).
- Haiku: 0.4 s, 150 output tokens/s — approximate third-party figures for Haiku 4.5 (none
  published for Haiku 5.5).
- Prefill: 10,000 uncached input tokens/s, and cache reads 6.7 times faster — Anthropic's figure
  that prompt caching cuts latency "by up to 85% for long prompts" (docs.claude.com, prompt
  caching); the uncached rate is an assumption that makes a 100k-token prompt take ~10 s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planfirst.llm.scripted.script import LatencySpec

_PREFILL = 10_000.0
_CACHED_PREFILL = _PREFILL / 0.15


@dataclass(frozen=True)
class Latency:
    """One model's latency figures (seconds, tokens per second)."""

    ttft_s: float
    output_tokens_per_s: float
    prefill_tokens_per_s: float = _PREFILL
    cached_prefill_tokens_per_s: float = _CACHED_PREFILL
    scale: float = 1.0

    def first_token(self, usage: dict[str, int]) -> float:
        """Seconds from the request to the first token, for the request's input usage."""
        fresh = usage.get("input_tokens", 0) + usage.get("cache_creation_input_tokens", 0)
        cached = usage.get("cache_read_input_tokens", 0)
        s = (
            self.ttft_s
            + fresh / self.prefill_tokens_per_s
            + cached / self.cached_prefill_tokens_per_s
        )
        return s * self.scale

    def output(self, output_tokens: int) -> float:
        """Seconds to stream `output_tokens` after the first one."""
        return max(0, output_tokens) / self.output_tokens_per_s * self.scale


DEFAULTS: dict[str, Latency] = {
    "sonnet": Latency(ttft_s=0.9, output_tokens_per_s=101.0),
    "opus": Latency(ttft_s=12.49, output_tokens_per_s=90.7),
    "haiku": Latency(ttft_s=0.4, output_tokens_per_s=150.0),
}


def for_model(model: str) -> Latency:
    """The published figures of a model's family (Sonnet's for a model of no known family)."""
    for family, lat in DEFAULTS.items():
        if family in model:
            return lat
    return DEFAULTS["sonnet"]


class LatencyError(ValueError):
    """A `latency` member that cannot be used; the message says which part."""


@dataclass(frozen=True)
class LatencyPlan:
    """What a script asked for: figures to lay over each request model's defaults."""

    overrides: dict[str, float]
    model: str | None = None
    only: tuple[str, ...] | None = None

    def for_request(self, model: str) -> Latency | None:
        """The figures for a request to `model` (None: it answers at once)."""
        if self.only is not None and model not in self.only:
            return None
        return replace(for_model(self.model or model), **self.overrides)


_NUMBERS = {f.name for f in fields(Latency)}
# what each figure must be, in the words of the refusal (the checks are LatencySpec's)
_RANGES = {
    "ttft_s": "must be between 0 and 600 seconds",
    "scale": "must be between 0 and 100",
    "output_tokens_per_s": "must be above 0",
    "prefill_tokens_per_s": "must be above 0",
    "cached_prefill_tokens_per_s": "must be above 0",
    "model": "must be a model name",
    "only": "must be a list of model names",
}


def _refusal(error: ValidationError) -> str:
    """The first problem of a `latency` object, in the words a script writer needs."""
    errors = error.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        allowed = sorted(LatencySpec.model_fields)
        return f"unknown latency keys {unknown}; allowed: {allowed}"
    key = str(errors[0]["loc"][0])
    kind = str(errors[0]["type"])
    if key in _NUMBERS and (kind.startswith(("float", "int", "bool")) or "type" in kind):
        return f"latency '{key}' must be a number"
    return f"latency '{key}' {_RANGES.get(key, errors[0]['msg'])}"


def from_script(raw: Any) -> LatencyPlan | None:
    """The script's `latency` member (None when the script has none, or it is false), checked
    by script.LatencySpec."""
    spec = raw.get("latency") if isinstance(raw, dict) else None
    if spec is None or spec is False:
        return None
    if spec is True:
        return LatencyPlan({})
    if not isinstance(spec, dict):
        raise LatencyError("'latency' must be true or an object of figures")
    try:
        checked = LatencySpec.model_validate(spec)
    except ValidationError as e:
        raise LatencyError(_refusal(e)) from None
    overrides = {
        key: float(value)
        for key, value in checked.model_dump(include=_NUMBERS).items()
        if value is not None
    }
    only = tuple(checked.only) if checked.only is not None else None
    return LatencyPlan(overrides, checked.model, only)


def load(script: Any) -> LatencyPlan | None:
    """The `latency` member of a script given as a dict or a JSON file path (a list of turns,
    or a file that cannot be read, has none: the scripted server reports those itself)."""
    raw = script
    if isinstance(script, str | Path):
        try:
            raw = json.loads(Path(script).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
    return from_script(raw)


def whole_answer(plan: LatencyPlan | None, body: dict[str, Any], usage: dict[str, int]) -> float:
    """Seconds before a non-streamed answer (0 without a latency plan)."""
    lat = plan.for_request(str(body.get("model", ""))) if plan is not None else None
    if lat is None:
        return 0.0
    return lat.first_token(usage) + lat.output(usage.get("output_tokens", 0))


def stream(
    plan: LatencyPlan | None, body: dict[str, Any], usage: dict[str, int], events: int
) -> tuple[float, float]:
    """(seconds before a streamed answer starts, seconds between its SSE events)."""
    lat = plan.for_request(str(body.get("model", ""))) if plan is not None else None
    if lat is None:
        return 0.0, 0.0
    return lat.first_token(usage), lat.output(usage.get("output_tokens", 0)) / max(1, events)
