"""Prices per model, and the offline fallback for model facts, overridable through `Settings.prices`.

Model facts (output limit, context window, thinking types, effort levels, lifecycle) come from the
Models API (`llm/facts.py`); this table is used for prices, and for facts only when the Models API
cannot be reached. Checked against the Anthropic docs and the SDK's model list on 2026-12-01.

Prices are US dollars per million tokens. Cache writes (5-minute ephemeral cache) cost 1.25x
the input price and cache reads 0.1x, unless an override names them. `min_cache_tokens` is the
shortest prefix the API caches for that model: below it nothing is cached and no error says so.

Thinking (the `thinking.type` values a model accepts):
- "adaptive": Claude Opus 4.6 / Sonnet 4.6 and later take `thinking={"type": "adaptive"}` plus
  `output_config={"effort": ...}`; a fixed `budget_tokens` is deprecated or rejected on them.
  Some (Opus 5.5, Fable 5.x) always think: `disabled` is refused, and so is a forced tool_choice.
- "budget": Claude Haiku 4.5 and Opus 4.5 take `thinking={"type": "enabled", "budget_tokens": N}`
  with 1024 <= N < max_tokens.
- "none": models without extended thinking.
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
Lifecycle = Literal["active", "deprecated", "retired"]

# When the prices below were last checked against Anthropic's price list (shown with estimates).
PRICES_CHECKED = "2026-12-01"

CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1

# The defaults for planning (a reasoning model) and execution (a fast one): current ids the
# installed SDK lists and the docs recommend (Opus for hard reasoning, Sonnet for speed).
DEFAULT_PLANNING_MODEL = "claude-opus-5-5"
DEFAULT_EXECUTION_MODEL = "claude-sonnet-5-5"

_ALL_EFFORTS = ("low", "medium", "high", "xhigh", "max")
_NO_XHIGH = ("low", "medium", "high", "max")
_BASIC_EFFORTS = ("low", "medium", "high")


@dataclass(frozen=True)
class ModelInfo:
    """What planfirst's table says about one model: prices, and facts for offline use."""

    name: str
    input_per_mtok: float
    output_per_mtok: float
    min_cache_tokens: int
    thinking: ThinkingStyle
    max_output_tokens: int
    cache_write_per_mtok: float | None = None  # None: 1.25x input
    cache_read_per_mtok: float | None = None  # None: 0.1x input
    known: bool = True  # False: defaults guessed for a model not in the table
    context_window: int = 200_000
    efforts: tuple[str, ...] = ()  # output_config.effort levels accepted (empty: none)
    always_thinks: bool = False  # thinking cannot be disabled (forced tool_choice refused)
    thinks_by_default: bool = False  # thinking is on when the request omits it
    lifecycle: Lifecycle = "active"
    retires_at: str | None = None  # ISO date
    replacement: str | None = None  # the current model to name when this one is retired
    display_name: str = ""

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

    @property
    def thinking_types(self) -> tuple[str, ...]:
        """The `thinking.type` values this model accepts."""
        kinds = {"adaptive": ("adaptive",), "budget": ("enabled",), "none": ()}[self.thinking]
        return kinds if self.always_thinks else (*kinds, "disabled")


def _m(
    name: str,
    inp: float,
    out: float,
    min_cache: int,
    thinking: ThinkingStyle,
    max_out: int,
    window: int = 200_000,
    efforts: tuple[str, ...] = (),
    **extra: object,
) -> ModelInfo:
    return ModelInfo(
        name,
        inp,
        out,
        min_cache,
        thinking,
        max_out,
        context_window=window,
        efforts=efforts,
        **extra,  # type: ignore[arg-type]
    )


_M = 1_000_000
# Public list prices and limits as documented by Anthropic. Dated snapshots (e.g.
# "claude-haiku-4-5-20251001") resolve to their alias below. Retired models stay listed so a
# retired id is refused with a message naming a current choice.
CATALOG: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        _m(
            "claude-fable-5-1",
            10.0,
            50.0,
            4096,
            "adaptive",
            128_000,
            _M,
            _ALL_EFFORTS,
            always_thinks=True,
        ),
        _m(
            "claude-fable-5",
            10.0,
            50.0,
            4096,
            "adaptive",
            128_000,
            _M,
            _ALL_EFFORTS,
            always_thinks=True,
        ),
        _m(
            "claude-opus-5-5",
            4.0,
            20.0,
            4096,
            "adaptive",
            128_000,
            _M,
            _ALL_EFFORTS,
            always_thinks=True,
        ),
        _m(
            "claude-opus-5",
            5.0,
            25.0,
            4096,
            "adaptive",
            128_000,
            _M,
            _ALL_EFFORTS,
            thinks_by_default=True,
        ),
        _m("claude-sonnet-5-5", 2.0, 10.0, 2048, "adaptive", 128_000, _M, _NO_XHIGH),
        _m("claude-sonnet-5", 2.0, 10.0, 2048, "adaptive", 128_000, _M, _NO_XHIGH),
        # The docs list Haiku 5.5 "from $0.10 / $0.50" (tiered): priced at the Haiku 4.5 rate so
        # cost is never under-reported; set planfirst.prices for the exact figure.
        _m("claude-haiku-5-5", 1.0, 5.0, 4096, "adaptive", 128_000, _M, _BASIC_EFFORTS),
        _m("claude-opus-4-8", 5.0, 25.0, 4096, "adaptive", 128_000, _M, _ALL_EFFORTS),
        _m("claude-opus-4-7", 5.0, 25.0, 4096, "adaptive", 128_000, _M, _ALL_EFFORTS),
        _m("claude-opus-4-6", 5.0, 25.0, 4096, "adaptive", 128_000, _M, _NO_XHIGH),
        _m("claude-sonnet-4-6", 3.0, 15.0, 2048, "adaptive", 64_000, _M, _NO_XHIGH),
        _m("claude-haiku-4-5", 1.0, 5.0, 4096, "budget", 64_000),
        _m(
            "claude-opus-4-5",
            5.0,
            25.0,
            4096,
            "budget",
            64_000,
            200_000,
            _BASIC_EFFORTS,
            lifecycle="deprecated",
            retires_at="2027-01-22",
            replacement="claude-opus-5-5",
        ),
        # Retired: every request naming them fails.
        _m(
            "claude-sonnet-4-5",
            3.0,
            15.0,
            1024,
            "budget",
            64_000,
            lifecycle="retired",
            replacement="claude-sonnet-5-5",
        ),
        _m(
            "claude-opus-4-1",
            15.0,
            75.0,
            1024,
            "budget",
            32_000,
            lifecycle="retired",
            replacement="claude-opus-5-5",
        ),
        _m(
            "claude-opus-4-0",
            15.0,
            75.0,
            1024,
            "budget",
            32_000,
            lifecycle="retired",
            replacement="claude-opus-5-5",
        ),
        _m(
            "claude-sonnet-4-0",
            3.0,
            15.0,
            1024,
            "budget",
            64_000,
            lifecycle="retired",
            replacement="claude-sonnet-5-5",
        ),
        _m(
            "claude-3-7-sonnet",
            3.0,
            15.0,
            1024,
            "budget",
            64_000,
            lifecycle="retired",
            replacement="claude-sonnet-5-5",
        ),
        _m(
            "claude-3-5-haiku",
            0.8,
            4.0,
            2048,
            "none",
            8_192,
            lifecycle="retired",
            replacement="claude-haiku-5-5",
        ),
        _m(
            "claude-3-haiku",
            0.25,
            1.25,
            2048,
            "none",
            4_096,
            lifecycle="retired",
            replacement="claude-haiku-5-5",
        ),
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
            efforts=_BASIC_EFFORTS if _guess_thinking(model) == "adaptive" else (),
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


def newest_models() -> list[str]:
    """The newest active model of each family (fable, opus, sonnet, haiku), in table order: the
    choices offered when a plan is approved."""
    seen: dict[str, str] = {}
    for name, info in CATALOG.items():
        family = name.removeprefix("claude-").split("-")[0]
        if info.lifecycle == "active" and family not in seen:
            seen[family] = name
    return list(seen.values())


def _opt(v: float | None) -> float | None:
    return None if v is None else float(v)


def unknown_note(info: ModelInfo) -> str | None:
    """A note for the run when `info` holds guessed defaults, else None."""
    if info.known:
        return None
    return (
        f"model {info.name!r} is not in planfirst's catalog: cost is estimated at "
        f"${info.input_per_mtok:g}/${info.output_per_mtok:g} per million input/output tokens; "
        f"set planfirst.prices.{info.name} = {{input, output}} for exact figures"
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
