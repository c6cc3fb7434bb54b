"""Prices per model, and the offline fallback for model facts, overridable through `Settings.prices`.

Model facts (output limit, context window, thinking types, effort levels, lifecycle) come from the
Models API (`llm/facts.py`); this table is used for prices, and for facts only when the Models API
cannot be reached (a gateway that does not serve `GET /v1/models/{id}` answers 404). It also holds
what the Models API does not say: forced `tool_choice`, assistant prefill and sampling parameters
refused, the effort levels allowed with thinking off, the minimum cacheable prompt length.

Every row names the page its figures come from and when they were read (`source`); a figure no
official page gave is marked "assumed" with where it was taken from. The rows are listed in
`catalog_rows.py`. Prices are US dollars per million tokens: input, output, 5-minute and 1-hour
cache writes, cache reads (hits and refreshes). A model priced by prompt length (Claude Haiku 5.5)
has a `tier`: above `tier.above` prompt tokens (input plus cache reads and writes) every token of
that request, output included, is billed at the tier's rates.

Thinking (the `thinking.type` values a model accepts, `types`):
- "adaptive": the model decides how much to think, steered by `output_config.effort`;
- "enabled": a fixed `budget_tokens` (Haiku 4.5, Opus 4.5; deprecated or refused on later ones);
- "disabled": thinking off;
- "between_tools": thinking off with short progress notes between tool calls returned as thinking
  blocks (Sonnet 5.5's way to turn thinking off; only at effort low, medium or high).
A model missing from the table is classified by its version number (4.6 and later, or no version
number at all: adaptive; otherwise budget) and priced conservatively; the run records a note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from planfirst.llm.catalog_rows import ROWS
from planfirst.llm.catalog_types import (
    ALL_EFFORTS,
    BASIC_EFFORTS,
    CACHE_READ_FACTOR,
    CACHE_WRITE_1H_FACTOR,
    CACHE_WRITE_FACTOR,
    NO_XHIGH,
    Lifecycle,
    ModelInfo,
    PriceTier,
    Rates,
    ThinkingStyle,
)
from planfirst.plan.model import Usage

__all__ = [
    "ALL_EFFORTS",
    "BASIC_EFFORTS",
    "CACHE_READ_FACTOR",
    "CACHE_WRITE_1H_FACTOR",
    "CACHE_WRITE_FACTOR",
    "NO_XHIGH",
    "Lifecycle",
    "ModelInfo",
    "PriceTier",
    "Rates",
    "ThinkingStyle",
]

# When the prices below were last checked against Anthropic's pages (shown with estimates).
PRICES_CHECKED = "2026-12-05"

# The defaults for planning (a reasoning model) and execution (a fast one): current ids the
# installed SDK lists and the docs recommend (Opus for hard reasoning, Sonnet for speed).
DEFAULT_PLANNING_MODEL = "claude-opus-5-5"
DEFAULT_EXECUTION_MODEL = "claude-sonnet-5-5"


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


CATALOG: dict[str, ModelInfo] = {m.name: m for m in ROWS}


def lookup(model: str, overrides: Mapping[str, Mapping[str, float]] | None = None) -> ModelInfo:
    """The catalog entry for `model` (exact, dated snapshot or alias), with overrides applied.

    Overrides come from `Settings.prices`: `{"model": {"input": 3, "output": 15}}`, optionally
    `cache_write`, `cache_write_1h`, `cache_read`, `min_cache_tokens`, `max_output_tokens`.
    A user's input or output price replaces a prompt-length tier (the user's figure is exact).
    """
    base = _base_name(model)
    info = CATALOG.get(model) or CATALOG.get(base)
    if info is None:
        guess = _guess_thinking(model)
        info = ModelInfo(
            name=model,
            input_per_mtok=UNKNOWN_INPUT,
            output_per_mtok=UNKNOWN_OUTPUT,
            min_cache_tokens=UNKNOWN_MIN_CACHE,
            thinking=guess,
            max_output_tokens=UNKNOWN_MAX_OUTPUT,
            known=False,
            efforts=BASIC_EFFORTS if guess == "adaptive" else (),
            # a forced tool_choice is refused by the newest models: never forced on a guess
            forced_tool_choice=False,
        )
    else:
        info = replace(info, name=model)
    over = (overrides or {}).get(model) or (overrides or {}).get(base)
    if over:
        priced = "input" in over or "output" in over

        def keep(rate: float | None) -> float | None:
            return None if "input" in over else rate

        info = replace(
            info,
            input_per_mtok=float(over.get("input", info.input_per_mtok)),
            output_per_mtok=float(over.get("output", info.output_per_mtok)),
            # a new input price moves the cache rates the user did not set with it (1.25x,
            # 2x, 0.1x): the row's own cache rates belong to its list input price
            cache_write_per_mtok=_opt(over.get("cache_write", keep(info.cache_write_per_mtok))),
            cache_write_1h_per_mtok=_opt(
                over.get("cache_write_1h", keep(info.cache_write_1h_per_mtok))
            ),
            cache_read_per_mtok=_opt(over.get("cache_read", keep(info.cache_read_per_mtok))),
            min_cache_tokens=int(over.get("min_cache_tokens", info.min_cache_tokens)),
            max_output_tokens=int(over.get("max_output_tokens", info.max_output_tokens)),
            tier=None if priced else info.tier,
            # A user who priced the model knows it; no "unknown model" note then.
            known=info.known or ("input" in over and "output" in over),
        )
    return info


def newest_models() -> list[str]:
    """The newest active model of each family (fable, opus, sonnet, haiku), in table order: the
    choices offered when a plan is approved. Mythos (by invitation only) is not offered."""
    seen: dict[str, str] = {}
    for name, info in CATALOG.items():
        family = name.removeprefix("claude-").split("-")[0]
        if info.lifecycle == "active" and family not in seen and family != "mythos":
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


def price(info: ModelInfo, usage: Usage) -> float:
    """US dollars for one request's `usage` at `info`'s rates (its prompt length picks the tier;
    input_tokens excludes cached tokens)."""
    prompt = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
    r = info.rates(prompt)
    return (
        usage.input_tokens * r.input
        + usage.output_tokens * r.output
        + usage.cache_creation_input_tokens * r.cache_write
        + usage.cache_read_input_tokens * r.cache_read
    ) / 1_000_000


def cost(
    model: str, usage: Usage, overrides: Mapping[str, Mapping[str, float]] | None = None
) -> float:
    """Estimated US-dollar cost of one request's `usage` on `model`."""
    return round(price(lookup(model, overrides), usage), 6)


def worst_case(info: ModelInfo, prompt_tokens: int, max_tokens: int) -> float:
    """The most one request can cost: the whole prompt at the dearer of input and cache write,
    and every one of its `max_tokens` output tokens (thinking included), at the rates its prompt
    length selects."""
    r = info.rates(prompt_tokens)
    return (prompt_tokens * max(r.input, r.cache_write) + max_tokens * r.output) / 1_000_000


def _usd(x: float) -> str:
    return f"${x:g}"


def setting_models() -> list[tuple[str, str]]:
    """The model ids an editor offers in its model settings (VS Code's `planfirst.planningModel`,
    `.executionModel`, `.critique.model` enums), each with a one-line description: every active
    catalogue model, in table order. `tests/test_vscode_model_settings.py` keeps the extension's
    package.json equal to it."""
    out = []
    for name, info in CATALOG.items():
        if info.lifecycle != "active":
            continue
        what = (
            f"{_usd(info.input_per_mtok)} in / {_usd(info.output_per_mtok)} out per million tokens"
        )
        if info.tier is not None:
            t = info.tier
            what += f" ({_usd(t.input)} / {_usd(t.output)} above {t.above:,} prompt tokens)"
        if name == DEFAULT_PLANNING_MODEL:
            what += " · the default planning model"
        elif name == DEFAULT_EXECUTION_MODEL:
            what += " · the default execution model"
        if name.startswith("claude-mythos"):
            what += " · by invitation only"
        out.append((name, what))
    return out
