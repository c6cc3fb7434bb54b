"""The catalogue's value types: one model's prices and offline facts (`ModelInfo`), a
prompt-length price tier, the rates one request is billed at. The rows are in `catalog_rows.py`,
the look-ups in `catalog.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ThinkingStyle = Literal["adaptive", "budget", "none"]
Lifecycle = Literal["active", "deprecated", "retired"]


CACHE_WRITE_FACTOR = 1.25  # 5-minute cache write, x input (the pages' rule where a row omits it)
CACHE_WRITE_1H_FACTOR = 2.0
CACHE_READ_FACTOR = 0.1


ALL_EFFORTS = ("low", "medium", "high", "xhigh", "max")
NO_XHIGH = ("low", "medium", "high", "max")
BASIC_EFFORTS = ("low", "medium", "high")


@dataclass(frozen=True)
class PriceTier:
    """Rates for requests whose prompt is over `above` tokens (input + cache reads and writes)."""

    above: int
    input: float
    output: float
    cache_write: float
    cache_write_1h: float
    cache_read: float


@dataclass(frozen=True)
class Rates:
    """The per-million-token rates one request is billed at."""

    input: float
    output: float
    cache_write: float
    cache_read: float


@dataclass(frozen=True)
class ModelInfo:
    """What planfirst's table says about one model: prices, and facts for offline use."""

    name: str
    input_per_mtok: float
    output_per_mtok: float
    min_cache_tokens: int
    thinking: ThinkingStyle
    max_output_tokens: int
    cache_write_per_mtok: float | None = None  # 5-minute write; None: 1.25x input
    cache_read_per_mtok: float | None = None  # None: 0.1x input
    cache_write_1h_per_mtok: float | None = None  # None: 2x input
    known: bool = True  # False: defaults guessed for a model not in the table
    context_window: int = 200_000
    efforts: tuple[str, ...] = ()  # output_config.effort levels accepted (empty: none)
    always_thinks: bool = False  # thinking cannot be turned off
    thinks_by_default: bool = False  # thinking is on when the request omits it
    lifecycle: Lifecycle = "active"
    retires_at: str | None = None  # ISO date
    replacement: str | None = None  # the current model to name when this one is retired
    display_name: str = ""
    types: tuple[str, ...] | None = None  # thinking.type values; None: from `thinking`
    off_efforts: tuple[str, ...] | None = None  # efforts allowed with thinking off; None: all
    forced_tool_choice: bool = True  # tool_choice any/tool accepted (with thinking off)
    prefill: bool = True  # a last assistant turn (prefill) accepted
    sampling: bool = True  # non-default temperature / top_p / top_k accepted
    tier: PriceTier | None = None  # higher rates for long prompts
    source: str = ""  # the page (and date) the row comes from

    @property
    def cache_write_price(self) -> float:
        """Dollars per million 5-minute cache-write tokens."""
        if self.cache_write_per_mtok is not None:
            return self.cache_write_per_mtok
        return self.input_per_mtok * CACHE_WRITE_FACTOR

    @property
    def cache_write_1h_price(self) -> float:
        """Dollars per million 1-hour cache-write tokens."""
        if self.cache_write_1h_per_mtok is not None:
            return self.cache_write_1h_per_mtok
        return self.input_per_mtok * CACHE_WRITE_1H_FACTOR

    @property
    def cache_read_price(self) -> float:
        """Dollars per million cache-read tokens."""
        if self.cache_read_per_mtok is not None:
            return self.cache_read_per_mtok
        return self.input_per_mtok * CACHE_READ_FACTOR

    @property
    def thinking_types(self) -> tuple[str, ...]:
        """The `thinking.type` values this model accepts."""
        if self.types is not None:
            return self.types
        kinds = {"adaptive": ("adaptive",), "budget": ("enabled",), "none": ()}[self.thinking]
        return kinds if self.always_thinks else (*kinds, "disabled")

    def rates(self, prompt_tokens: int) -> Rates:
        """The rates a request whose prompt has `prompt_tokens` tokens is billed at."""
        t = self.tier
        if t is not None and prompt_tokens > t.above:
            return Rates(t.input, t.output, t.cache_write, t.cache_read)
        return Rates(
            self.input_per_mtok, self.output_per_mtok, self.cache_write_price, self.cache_read_price
        )
