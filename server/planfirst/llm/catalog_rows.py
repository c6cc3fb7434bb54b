"""The catalogue's rows: one per model id in the installed SDK's model list
(`anthropic.types.ModelParam`, anthropic 2.17.0) plus the retired ids a user may still name.

Each row says where its figures come from (`source`, page and the date it was read). Pages:
- PRICING = platform.claude.com/docs/en/about-claude/pricing ("Model pricing" table);
- <model> overview = platform.claude.com/docs/en/models/<model>/overview (its "Specifications");
- <model> migration guide = platform.claude.com/docs/en/models/<model>/migration-guide.
"Assumed" marks a figure no official page gave (in the docs search of 2026-12-05), with what it
was taken from; a wrong assumption is corrected with `planfirst.prices` (prices) and is replaced
by the Models API's answer (limits, thinking types, efforts) wherever that answers.
Minimum cacheable prompt lengths: the prompt-caching page's list as quoted in
anthropic-sdk-python issue #1194 for the 4.x models; Sonnet 5.5 512 and Opus 4.8 1,024 from
their pages (api-facts, 2026-12-04); the others are marked.
"""

from __future__ import annotations

from typing import Any

from planfirst.llm.catalog_types import (
    ALL_EFFORTS,
    BASIC_EFFORTS,
    NO_XHIGH,
    ModelInfo,
    PriceTier,
)

_M = 1_000_000
_K = "read 2026-12-05"
PRICING = "platform.claude.com/docs/en/about-claude/pricing"
_NEW: dict[str, Any] = {"prefill": False}  # 4.6 and later, 5.x: assistant prefill is a 400
_FIVE: dict[str, Any] = {
    "prefill": False,
    "sampling": False,
}  # 5.x: non-default temperature/top_p/top_k a 400
_ALWAYS: dict[str, Any] = {"always_thinks": True, "types": ("adaptive",)}
_OFF_HIGH = ("low", "medium", "high")  # thinking off only at effort high or below


def _row(
    name: str,
    inp: float,
    out: float,
    write: float,
    write_1h: float,
    read: float,
    min_cache: int,
    max_out: int,
    *,
    window: int = _M,
    efforts: tuple[str, ...] = ALL_EFFORTS,
    thinking: str = "adaptive",
    source: str,
    **extra: object,
) -> ModelInfo:
    return ModelInfo(
        name,
        inp,
        out,
        min_cache,
        thinking,  # type: ignore[arg-type]
        max_out,
        cache_write_per_mtok=write,
        cache_write_1h_per_mtok=write_1h,
        cache_read_per_mtok=read,
        context_window=window,
        efforts=efforts,
        source=source,
        **extra,  # type: ignore[arg-type]
    )


ROWS: tuple[ModelInfo, ...] = (
    # ---- Fable / Mythos (Mythos: the same specifications and prices, by invitation only)
    _row(
        "claude-fable-5-2",
        8.0,
        40.0,
        10.0,
        16.0,
        0.20,
        512,
        128_000,
        source="not listed on an official page in the docs search (2026-12-05); $8/$40 and "
        "$0.20 cache read assumed from third-party tables (docs.laozhang.ai Fable 5.2 "
        "announcement 2026-11-10; phuryn/claude-usage v1.5.7, 'from platform.claude.com, "
        "checked 2026-12-01'); cache writes assumed 1.25x/2x input; limits and thinking assumed "
        "from Fable 5.1",
        **_ALWAYS,
        **_FIVE,
        forced_tool_choice=False,
    ),
    _row(
        "claude-mythos-5-2",
        8.0,
        40.0,
        10.0,
        16.0,
        0.20,
        512,
        128_000,
        source="not listed on an official page; assumed equal to claude-fable-5-2 (same "
        "third-party sources)",
        **_ALWAYS,
        **_FIVE,
        forced_tool_choice=False,
    ),
    _row(
        "claude-fable-5-1",
        10.0,
        50.0,
        12.5,
        20.0,
        0.25,
        512,
        128_000,
        source=f"{PRICING} (prices), fable-5-1 overview (1M/128K, always-on adaptive, forced "
        f"tool use refused), {_K}; minimum cacheable length assumed from Fable 5",
        **_ALWAYS,
        **_FIVE,
        forced_tool_choice=False,
    ),
    _row(
        "claude-mythos-5-1",
        10.0,
        50.0,
        12.5,
        20.0,
        0.25,
        512,
        128_000,
        source=f"{PRICING} (Claude Mythos 5.1 row), {_K}; limits as Fable 5.1",
        **_ALWAYS,
        **_FIVE,
        forced_tool_choice=False,
    ),
    _row(
        "claude-fable-5",
        10.0,
        50.0,
        12.5,
        20.0,
        1.0,
        512,
        128_000,
        lifecycle="active",
        source=f"{PRICING} and fable-5 overview, {_K}; 'disabled' and budget thinking refused "
        "(fable-5 migration guide); 512-token cache minimum from a third-party summary of the "
        "prompt-caching page (dev.to/creeta, 2026)",
        **_ALWAYS,
        **_FIVE,
    ),
    _row(
        "claude-mythos-5",
        10.0,
        50.0,
        12.5,
        20.0,
        1.0,
        512,
        128_000,
        source=f"{PRICING} (Claude Mythos 5 row) and fable-5 overview ('shares Claude Fable "
        f"5's specifications and pricing'), {_K}",
        **_ALWAYS,
        **_FIVE,
    ),
    _row(
        "claude-mythos-preview",
        15.0,
        75.0,
        18.75,
        30.0,
        1.5,
        4096,
        128_000,
        lifecycle="deprecated",
        replacement="claude-mythos-5-2",
        source="not listed in the docs search; priced as an unknown model ($15/$75, the "
        "dearest listed rate, assumed) so cost is never under-reported; deprecated per the SDK's DeprecationWarning; "
        "thinking assumed as its successor Mythos 5 (migration guide)",
        **_ALWAYS,
        **_FIVE,
    ),
    # ---- Opus
    _row(
        "claude-opus-5-5",
        4.0,
        20.0,
        5.0,
        8.0,
        0.20,
        512,
        128_000,
        source=f"opus-5-5 overview (prices, 1M/128K, always-on adaptive, default effort "
        f"medium, forced tool use refused), {_K}; cache minimum assumed from Opus 5",
        **_ALWAYS,
        **_FIVE,
        forced_tool_choice=False,
    ),
    _row(
        "claude-opus-5",
        5.0,
        25.0,
        6.25,
        10.0,
        0.50,
        512,
        128_000,
        thinks_by_default=True,
        off_efforts=_OFF_HIGH,
        types=("adaptive", "disabled"),
        source=f"{PRICING} and opus-5 overview (thinking on by default, disabled only at "
        f"effort high or below), {_K}; 512 cache minimum: dev.to/creeta summary",
        **_FIVE,
    ),
    _row(
        "claude-opus-4-8",
        5.0,
        25.0,
        6.25,
        10.0,
        0.50,
        1024,
        128_000,
        types=("adaptive", "disabled"),
        source=f"{PRICING}, {_K}; 1,024 cache minimum from its page (api-facts 2026-12-04)",
        **_NEW,
    ),
    _row(
        "claude-opus-4-7",
        5.0,
        25.0,
        6.25,
        10.0,
        0.50,
        2048,
        128_000,
        types=("adaptive", "disabled"),
        source=f"{PRICING}, {_K}; 2,048 cache minimum: dev.to/creeta summary",
        **_NEW,
    ),
    _row(
        "claude-opus-4-6",
        5.0,
        25.0,
        6.25,
        10.0,
        0.50,
        4096,
        128_000,
        efforts=NO_XHIGH,
        source=f"{PRICING}, {_K}; 4,096 cache minimum: prompt-caching page (SDK issue #1194)",
        **_NEW,
    ),
    _row(
        "claude-opus-4-5",
        5.0,
        25.0,
        6.25,
        10.0,
        0.50,
        4096,
        64_000,
        window=200_000,
        efforts=BASIC_EFFORTS,
        thinking="budget",
        lifecycle="deprecated",
        retires_at="2027-01-22",
        replacement="claude-opus-5-5",
        source=f"{PRICING}, {_K}; retirement date from api-facts (2026-12-01)",
    ),
    # ---- Sonnet
    _row(
        "claude-sonnet-5-5",
        2.0,
        10.0,
        2.5,
        4.0,
        0.10,
        512,
        128_000,
        efforts=NO_XHIGH,
        types=("adaptive", "between_tools"),
        off_efforts=_OFF_HIGH,
        thinks_by_default=True,
        forced_tool_choice=False,
        source=f"sonnet-5-5 overview (input/output/cache writes, 1M/128K, default effort high) "
        f"and sonnet-5-5 migration guide (cache reads $0.10, 'disabled'/budget thinking refused, "
        f"between_tools at effort low-high, forced tool use refused), {_K}; 512 cache minimum "
        "(api-facts 2026-12-04)",
        **_FIVE,
    ),
    _row(
        "claude-sonnet-5",
        2.0,
        10.0,
        2.5,
        4.0,
        0.20,
        1024,
        128_000,
        efforts=NO_XHIGH,
        types=("adaptive", "disabled"),
        thinks_by_default=True,
        source=f"sonnet-5 overview (prices; adaptive on by default, manual thinking and "
        f"non-default sampling parameters refused), {_K}; 1,024 cache minimum: dev.to/creeta",
        **_FIVE,
    ),
    _row(
        "claude-sonnet-4-6",
        3.0,
        15.0,
        3.75,
        6.0,
        0.30,
        2048,
        128_000,
        efforts=NO_XHIGH,
        source=f"sonnet-4-6 overview (1M context, 128K output, $3/$15), {_K}; cache rates by "
        "the pricing page's multipliers (1.25x/2x/0.1x); cache minimum: the page lists 1,024, "
        "caching observed only from 2,048 (SDK issue #1194), 2,048 kept",
        **_NEW,
    ),
    # ---- Haiku
    _row(
        "claude-haiku-5-5",
        0.10,
        0.50,
        0.125,
        0.20,
        0.01,
        4096,
        128_000,
        tier=PriceTier(100_000, 0.50, 2.50, 0.625, 1.00, 0.05),
        types=("adaptive", "disabled"),
        thinks_by_default=True,
        off_efforts=_OFF_HIGH,
        source=f"haiku-5-5 overview ($0.10/$0.50 up to 100,000 prompt tokens, $0.50/$2.50 "
        f"above; cache writes $0.125/$0.20 and $0.625/$1.00), {_K}; cache reads $0.01/$0.05 "
        "from third-party tables (kurofune/claudit v1.9.2); cache minimum assumed from Haiku "
        "4.5; thinking off only at effort high or below assumed as Opus 5",
        **_FIVE,
    ),
    _row(
        "claude-haiku-4-5",
        1.0,
        5.0,
        1.25,
        2.0,
        0.10,
        4096,
        64_000,
        window=200_000,
        efforts=(),
        thinking="budget",
        source=f"sonnet-5-5 overview comparison table ($1/$5, 200K/64K, extended thinking), "
        f"{_K}; cache rates by multipliers; 4,096 cache minimum (SDK issue #1194)",
    ),
    # ---- Retired: every request naming them fails; listed to name a current choice.
    _row(
        "claude-sonnet-4-5",
        3.0,
        15.0,
        3.75,
        6.0,
        0.30,
        1024,
        64_000,
        window=200_000,
        efforts=(),
        thinking="budget",
        lifecycle="retired",
        replacement="claude-sonnet-5-5",
        source="retired 2026-11-30 (api-facts)",
    ),
    _row(
        "claude-opus-4-1",
        15.0,
        75.0,
        18.75,
        30.0,
        1.50,
        1024,
        32_000,
        window=200_000,
        efforts=(),
        thinking="budget",
        lifecycle="retired",
        replacement="claude-opus-5-5",
        source=f"{PRICING} (retired, except on Bedrock and Google Cloud), {_K}",
    ),
    _row(
        "claude-opus-4-0",
        15.0,
        75.0,
        18.75,
        30.0,
        1.50,
        1024,
        32_000,
        window=200_000,
        efforts=(),
        thinking="budget",
        lifecycle="retired",
        replacement="claude-opus-5-5",
        source=f"{PRICING} (retired, except on Google Cloud), {_K}",
    ),
    _row(
        "claude-sonnet-4-0",
        3.0,
        15.0,
        3.75,
        6.0,
        0.30,
        1024,
        64_000,
        window=200_000,
        efforts=(),
        thinking="budget",
        lifecycle="retired",
        replacement="claude-sonnet-5-5",
        source="retired (api-facts); prices as Sonnet 4.5",
    ),
    _row(
        "claude-3-7-sonnet",
        3.0,
        15.0,
        3.75,
        6.0,
        0.30,
        1024,
        64_000,
        window=200_000,
        efforts=(),
        thinking="budget",
        lifecycle="retired",
        replacement="claude-sonnet-5-5",
        source="retired (api-facts); prices as Sonnet 4.5",
    ),
    _row(
        "claude-3-5-haiku",
        0.8,
        4.0,
        1.0,
        1.6,
        0.08,
        2048,
        8_192,
        window=200_000,
        efforts=(),
        thinking="none",
        lifecycle="retired",
        replacement="claude-haiku-5-5",
        source="retired (api-facts)",
    ),
    _row(
        "claude-3-haiku",
        0.25,
        1.25,
        0.30,
        0.50,
        0.03,
        2048,
        4_096,
        window=200_000,
        efforts=(),
        thinking="none",
        lifecycle="retired",
        replacement="claude-haiku-5-5",
        source="retired (api-facts)",
    ),
)
