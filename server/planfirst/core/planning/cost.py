"""What executing a plan should cost, before it is approved: a low–high range per step and in total.

Built from what would really be sent: each step's request is assembled exactly as the executor
assembles it (executor.build_request over the files' current text, shown whole or as an outline
by `file_views`), so only the model's answers are guessed. Each attempt is simulated request by
request with the API's prompt-cache rules (a breakpoint at or above the model's minimum cacheable
length writes its prefix; a later request reads the longest cached prefix): the first step writes
the plan overview, later steps read it; an attempt's second request reads its instruction.

The range covers what is not known before the model answers:
- tokens per character: 4 characters per token of the plain text (low) to 3 per token of the
  JSON-escaped text (high; code and newer tokenizers run denser), and the ~700 tokens the API adds
  for the text editor tool's definition (high only);
- the answer: a small edit per file in one turn (low) to a larger one per file, each in a turn of
  its own with its tool result replayed (high); a created file is written whole;
- attempts: one (low) to the expected number (high), a retry carrying the validation output.
The range assumes the steps run within the cache's five-minute lifetime of each other.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

from planfirst.core.editing.executor import EDITOR_TOOL, LargeFiles, build_request, file_views
from planfirst.llm import catalog
from planfirst.llm.catalog import PRICES_CHECKED, ModelInfo, lookup
from planfirst.plan.cost import CostEstimate, StepCost
from planfirst.plan.model import Plan, Step, StepStatus, Usage, now_iso
from planfirst.settings import Settings

DEFAULT_ATTEMPTS = 1.3
MIN_HISTORY = 5  # recorded steps before the workspace's own retry rate replaces the default
TOOL_OVERHEAD = 700  # input tokens the API adds for the text editor tool (documented figure)
# (low, high) output tokens of the answer
OUT_MODIFY = (60, 600)  # per file to modify: a str_replace call
OUT_CREATE = (200, 2_000)  # per file to create: the whole file
OUT_CLOSE = (15, 150)  # the closing text after the edits
RESULT_EXTRA = (20, 100)  # a tool result: the edited lines plus context
RETRY_ERRORS = (200, 2_000)  # validation output a retry carries


@dataclass(frozen=True)
class _Bound:
    """One side of the range."""

    chars_per_token: float
    escaped: bool  # measure the JSON-escaped text (what travels) instead of the plain text
    tool_overhead: int
    side: int  # 0 low, 1 high
    one_turn: bool  # every edit in one turn


_LOW = _Bound(4.0, False, 0, 0, True)
_HIGH = _Bound(3.0, True, TOOL_OVERHEAD, 1, False)


def _tokens(text: str, b: _Bound) -> int:
    n = len(json.dumps(text, ensure_ascii=False)) if b.escaped else len(text)
    return max(1, math.ceil(n / b.chars_per_token))


class _Cache:
    """The API's prompt cache over one plan's requests, prefixes named by their segments."""

    def __init__(self, min_tokens: int) -> None:
        self.min_tokens = min_tokens
        self.keys: set[tuple[str, ...]] = set()

    def request(self, segments: list[tuple[str, int, bool]]) -> Usage:
        """Input-side usage of a request made of (name, tokens, cache breakpoint) segments."""
        total = read = 0
        prefix: tuple[str, ...] = ()
        marks: list[tuple[tuple[str, ...], int]] = []
        for name, tokens, mark in segments:
            total += tokens
            prefix = (*prefix, name)
            if prefix in self.keys:
                read = total
            if mark and total >= self.min_tokens:
                marks.append((prefix, total))
        write = marks[-1][1] - read if marks and marks[-1][0] not in self.keys else 0
        self.keys.update(p for p, _ in marks)
        return Usage(
            input_tokens=total - read - write,
            cache_creation_input_tokens=write,
            cache_read_input_tokens=read,
            calls=1,
        )


def price(info: ModelInfo, u: Usage) -> float:
    """US dollars for one request's `u` at `info`'s prices (its prompt length picks the tier)."""
    return catalog.price(info, u)


def _attempt(
    cache: _Cache,
    info: ModelInfo,
    b: _Bound,
    key: str,
    prefix: list[tuple[str, int, bool]],
    instruction: int,
    outputs: list[int],
) -> tuple[float, int]:
    """One attempt: its cost and its first request's prompt tokens. `outputs` are the edit
    turns' answers; a closing turn follows them."""
    segments = [*prefix, (key, instruction, True)]
    cost = 0.0
    first = 0
    for i, out in enumerate([*outputs, OUT_CLOSE[b.side]]):
        u = cache.request(segments)
        first = first or u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
        u.output_tokens = out
        cost += price(info, u)
        if i < len(outputs):  # the answer and its tool results go back in the next request
            segments = [
                *segments[:-1],
                (segments[-1][0], segments[-1][1], False),
                (f"{key}/a{i}", out, False),
                (f"{key}/r{i}", out + RESULT_EXTRA[b.side], True),
            ]
    return cost, first


def _outputs(step: Step, b: _Bound) -> list[int]:
    per_file = [OUT_MODIFY[b.side] for p in step.files_to_modify if p not in step.files_to_create]
    per_file += [OUT_CREATE[b.side] for _ in step.files_to_create]
    per_file = per_file or [OUT_MODIFY[b.side]]
    return [sum(per_file)] if b.one_turn else per_file


@dataclass(frozen=True)
class Attempts:
    """The expected attempts per step and where the figure comes from."""

    expected: float
    source: str


def expected_attempts(settings: Settings, history: list[int]) -> Attempts:
    """The setting, else this workspace's mean over its recorded steps, else 1.3."""
    if settings.budget.expected_attempts is not None:
        return Attempts(settings.budget.expected_attempts, "setting")
    cap = settings.execution.max_attempts
    seen = [min(max(1, a), cap) for a in history]
    if len(seen) >= MIN_HISTORY:
        mean = round(sum(seen) / len(seen), 2)
        return Attempts(max(1.0, mean), f"learned from {len(seen)} steps")
    return Attempts(DEFAULT_ATTEMPTS, "default")


def estimate(
    plan: Plan,
    read: Callable[[str], str | None],
    settings: Settings,
    *,
    model: str | None = None,
    attempts: Attempts | None = None,
) -> CostEstimate:
    """The cost of executing the plan's steps that are not done, on `model` (default: the plan's
    chosen execution model, else the setting). `read` gives a file's current text (None: it does
    not exist); a file that cannot be read counts as missing."""
    name = model or plan.execution_model or settings.execution_model
    info = lookup(name, settings.prices)
    att = attempts or Attempts(DEFAULT_ATTEMPTS, "default")
    ex = settings.execution
    large = LargeFiles(ex.large_file_lines, ex.large_file_chars)
    caches = (_Cache(info.min_cache_tokens), _Cache(info.min_cache_tokens))
    steps: list[StepCost] = []
    for step in plan.body.steps:
        if plan.state(step.order).status == StepStatus.DONE:
            continue
        files: dict[str, str | None] = {}
        for p in step.files:
            try:
                files[p] = read(p)
            except Exception:  # an unreadable file is refused when the step runs; not here
                files[p] = None
        shown, sent = file_views(step, files, None, large)
        req = build_request(
            plan, step, shown, stale=[], errors=None, attempt=1, max_turns=ex.max_tool_turns
        )
        costs = []
        first_tokens = 0
        for b, cache in zip((_LOW, _HIGH), caches, strict=True):
            tools = json.dumps({"type": EDITOR_TOOL.anthropic_type, "name": EDITOR_TOOL.name})
            prefix = [
                ("system", _tokens(tools + req.system, b) + b.tool_overhead, True),
                ("overview", sum(_tokens(t, b) for t in req.stable_blocks), True),
            ]
            instr = _tokens(req.instruction, b)
            outs = _outputs(step, b)
            c, first_tokens = _attempt(cache, info, b, f"s{step.order}", prefix, instr, outs)
            if b.side:
                retry = instr + RETRY_ERRORS[1]
                rc, _ = _attempt(cache, info, b, f"s{step.order}r", prefix, retry, outs)
                c += (att.expected - 1) * rc
            costs.append(c)
        steps.append(
            StepCost(
                order=step.order,
                low=round(costs[0], 6),
                high=round(costs[1], 6),
                input_tokens=first_tokens,
                sent=sent,
            )
        )
    return CostEstimate(
        model=name,
        low=round(sum(s.low for s in steps), 6),
        high=round(sum(s.high for s in steps), 6),
        steps=steps,
        attempts=att.expected,
        attempts_source=att.source,
        prices=f"${info.input_per_mtok:g}/${info.output_per_mtok:g} per million input/output tokens"
        + (
            f" (${info.tier.input:g}/${info.tier.output:g} for prompts over {info.tier.above:,} "
            "tokens)"
            if info.tier
            else ""
        )
        + ("" if info.known else " (not in the catalogue: priced as the most expensive)"),
        prices_date=PRICES_CHECKED,
        made_at=now_iso(),
    )
