"""Model capabilities and prices in one table, overridable through `Settings.prices`.

Prices are US dollars per million tokens. Cache writes (5-minute ephemeral cache) cost 1.25x
the input price and cache reads 0.1x, unless an override names them. `min_cache_tokens` is the
shortest prefix the API caches for that model: below it nothing is cached and no error says so.

Thinking styles:
- "adaptive": Claude Opus 4.6 / Sonnet 4.6 and later take `thinking={"type": "adaptive"}` plus
  `output_config={"effort": ...}`; a fixed `budget_tokens` is deprecated or rejected on them.
- "budget": Claude 3.7 Sonnet up to the 4.5 generation (Opus 4.5 included) take
  `thinking={"type": "enabled", "budget_tokens": N}` with 1024 <= N < max_tokens.
- "none": models without extended thinking (Claude 3.5 Haiku and older).
A model missing from the table is classified by its version number (4.6 and later, or no
version number at all: adaptive; otherwise budget) and priced conservatively; the run records a note saying so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from planfirst.plan.model import Usage

ThinkingStyle = Literal["adaptive", "budget", "none"]

CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1


@dataclass(frozen=True)
class ModelInfo:
    """What planfirst knows about one model: prices, limits and thinking style."""

    name: str
    input_per_mtok: float
    output_per_mtok: float
    min_cache_tokens: int
    thinking: ThinkingStyle
    max_output_tokens: int
    cache_write_per_mtok: float | None = None  # None: 1.25x input
    cache_read_per_mtok: float | None = None  # None: 0.1x input
    known: bool = True  # False: defaults guessed for a model not in the table

    @property
    def cache_write_price(self) -> float:
        """Dollars per million cache-write tokens."""
        if self.cache_write_per_mtok is not None:
            return self.cache_write_per_mtok
        return self.input_per_mtok * CACHE_WRITE_FACTOR

    @property
    def cache_read_price(self) -> float:
        """Dollars per million cache-read tokens."""
        if self.cache_read_per_mtok is not None:
            return self.cache_read_per_mtok
        return self.input_per_mtok * CACHE_READ_FACTOR


def _m(
    name: str, inp: float, out: float, min_cache: int, thinking: ThinkingStyle, max_out: int
) -> ModelInfo:
    return ModelInfo(name, inp, out, min_cache, thinking, max_out)


# Public list prices and limits as documented by Anthropic at the time of writing. Dated
# snapshots (e.g. "claude-sonnet-4-5-20250929") resolve to their alias below.
CATALOG: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        _m("claude-opus-4-6", 5.0, 25.0, 4096, "adaptive", 128_000),
        _m("claude-sonnet-4-6", 3.0, 15.0, 2048, "adaptive", 64_000),
        _m("claude-opus-4-5", 5.0, 25.0, 4096, "budget", 64_000),
        _m("claude-sonnet-4-5", 3.0, 15.0, 1024, "budget", 64_000),
        _m("claude-haiku-4-5", 1.0, 5.0, 4096, "budget", 64_000),
        _m("claude-opus-4-1", 15.0, 75.0, 1024, "budget", 32_000),
        _m("claude-opus-4-0", 15.0, 75.0, 1024, "budget", 32_000),
        _m("claude-sonnet-4-0", 3.0, 15.0, 1024, "budget", 64_000),
        _m("claude-3-7-sonnet", 3.0, 15.0, 1024, "budget", 64_000),
        _m("claude-3-5-haiku", 0.8, 4.0, 2048, "none", 8_192),
        _m("claude-3-haiku", 0.25, 1.25, 2048, "none", 4_096),
    )
}

# Aliases the API accepts for the same model.
ALIASES: dict[str, str] = {
    "claude-opus-4": "claude-opus-4-0",
    "claude-sonnet-4": "claude-sonnet-4-0",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet",
    "claude-3-5-haiku-latest": "claude-3-5-haiku",
}

# An unknown model is priced like the most expensive known one so that cost is never
# under-reported, and its minimum cacheable length is the largest known one.
UNKNOWN_INPUT = 15.0
UNKNOWN_OUTPUT = 75.0
UNKNOWN_MIN_CACHE = 4096
UNKNOWN_MAX_OUTPUT = 32_000

_DATED = re.compile(r"^(?P<base>.+?)-\d{8}$")
_VERSION = re.compile(r"claude-(?:[a-z]+-)?(?P<major>\d+)(?:-(?P<minor>\d{1,2}))?(?:-|$)")


def _base_name(model: str) -> str:
    m = _DATED.match(model)
    base = m.group("base") if m else model
    return ALIASES.get(base, base)


def _guess_thinking(model: str) -> ThinkingStyle:
    """Version-based guess: 4.6 and later think adaptively, earlier Claude models by budget."""
    m = _VERSION.search(model)
    if not m:
        # Names without a version number ("claude-mythos-preview") are the newer naming.
        return "adaptive"
    major = int(m.group("major"))
    minor = int(m.group("minor") or 0)
    return "adaptive" if (major, minor) >= (4, 6) else "budget"


def lookup(model: str, overrides: Mapping[str, Mapping[str, float]] | None = None) -> ModelInfo:
    """The catalog entry for `model` (exact, dated snapshot or alias), with overrides applied.

    Overrides come from `Settings.prices`: `{"model": {"input": 3, "output": 15}}`, optionally
    `cache_write`, `cache_read`, `min_cache_tokens`, `max_output_tokens`.
    """
    base = _base_name(model)
    info = CATALOG.get(model) or CATALOG.get(base)
    if info is None:
        info = ModelInfo(
            name=model,
            input_per_mtok=UNKNOWN_INPUT,
            output_per_mtok=UNKNOWN_OUTPUT,
            min_cache_tokens=UNKNOWN_MIN_CACHE,
            thinking=_guess_thinking(model),
            max_output_tokens=UNKNOWN_MAX_OUTPUT,
            known=False,
        )
    else:
        info = replace(info, name=model)
    over = (overrides or {}).get(model) or (overrides or {}).get(base)
    if over:
        info = replace(
            info,
            input_per_mtok=float(over.get("input", info.input_per_mtok)),
            output_per_mtok=float(over.get("output", info.output_per_mtok)),
            cache_write_per_mtok=_opt(over.get("cache_write", info.cache_write_per_mtok)),
            cache_read_per_mtok=_opt(over.get("cache_read", info.cache_read_per_mtok)),
            min_cache_tokens=int(over.get("min_cache_tokens", info.min_cache_tokens)),
            max_output_tokens=int(over.get("max_output_tokens", info.max_output_tokens)),
            # A user who priced the model knows it; no "unknown model" note then.
            known=info.known or ("input" in over and "output" in over),
        )
    return info


def _opt(v: float | None) -> float | None:
    return None if v is None else float(v)


def unknown_note(info: ModelInfo) -> str | None:
    """A note for the run when `info` holds guessed defaults, else None."""
    if info.known:
        return None
    return (
        f"model {info.name!r} is not in planfirst's catalog: cost is estimated at "
        f"${info.input_per_mtok:g}/${info.output_per_mtok:g} per million input/output tokens and "
        f"thinking is assumed to be {info.thinking!r}; set planfirst.prices."
        f"{info.name} = {{input, output}} for exact figures"
    )


def cost(
    model: str, usage: Usage, overrides: Mapping[str, Mapping[str, float]] | None = None
) -> float:
    """Estimated US-dollar cost of `usage` on `model` (input_tokens excludes cached tokens)."""
    info = lookup(model, overrides)
    total = (
        usage.input_tokens * info.input_per_mtok
        + usage.output_tokens * info.output_per_mtok
        + usage.cache_creation_input_tokens * info.cache_write_price
        + usage.cache_read_input_tokens * info.cache_read_price
    ) / 1_000_000
    return round(total, 6)
