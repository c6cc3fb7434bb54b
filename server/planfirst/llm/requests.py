"""The Messages request, built from a ModelRequest and the model's facts.

Prompt layout for caching: tools (sorted by name) → system (breakpoint) → first user message:
the stable blocks (breakpoint after the last) then the instruction. Parameters are chosen from
the model's facts (llm/facts.py): thinking type, effort, forced tool_choice only where allowed,
a `strict` submit tool, the interleaved-thinking beta only for budget thinking with tools.
Also the pieces a tool loop sends back: replayed assistant blocks and re-ask texts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import anthropic
from pydantic import BaseModel, ValidationError

from planfirst.llm.catalog import ModelInfo
from planfirst.llm.facts import EFFORT_LEVELS, ModelFacts
from planfirst.llm.model import ModelError, ModelRequest, SubmitSpec
from planfirst.settings import Settings

EPHEMERAL = {"type": "ephemeral"}
INTERLEAVED_THINKING_BETA = "interleaved-thinking-2025-05-14"


@dataclass
class RequestBuilder:
    """Request parameters for one model (`name`, its catalogue `info` and its `facts`)."""

    name: str
    settings: Settings
    info: ModelInfo
    facts: ModelFacts

    def opening(self, request: ModelRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The system blocks and the first user message's content, with cache breakpoints."""
        system = (
            [{"type": "text", "text": request.system, "cache_control": dict(EPHEMERAL)}]
            if request.system
            else []
        )
        first: list[dict[str, Any]] = [
            {"type": "text", "text": block} for block in request.stable_blocks if block
        ]
        if first:
            first[-1]["cache_control"] = dict(EPHEMERAL)
        if request.instruction or not first:
            first.append({"type": "text", "text": request.instruction or "Begin."})
        return system, first

    def tools(self, request: ModelRequest) -> list[dict[str, Any]]:
        """Tool definitions, sorted by name so the cached prefix is byte-identical."""
        out: list[dict[str, Any]] = []
        for spec in request.tools:
            if spec.anthropic_type:
                out.append({"type": spec.anthropic_type, "name": spec.name})
            else:
                out.append(
                    {
                        "name": spec.name,
                        "description": spec.description,
                        "input_schema": spec.input_schema or {"type": "object", "properties": {}},
                    }
                )
        if request.submit is not None:
            submit_tool: dict[str, Any] = {
                "name": request.submit.name,
                "description": request.submit.description,
                "input_schema": submit_schema(request.submit.schema),
            }
            if self.facts.strict_tools:
                # Schema-exact input where the model supports it: fewer re-asks.
                submit_tool["strict"] = True
            out.append(submit_tool)
        names = [t["name"] for t in out]
        if len(set(names)) != len(names):
            raise ModelError(
                f"duplicate tool names offered to the model: {sorted(names)}", kind="bad_request"
            )
        return sorted(out, key=lambda t: str(t["name"]))

    def params(
        self,
        messages: list[dict[str, Any]],
        system: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
        thinking_on: bool,
        submit: SubmitSpec | None,
        notes: list[str],
        purpose: str = "plan",
    ) -> dict[str, Any]:
        """Keyword arguments for `messages.stream`, valid for this model's facts."""
        facts = self.facts
        params: dict[str, Any] = {
            "model": self.name,
            "max_tokens": max_tokens,
            "messages": messages,
        }
        if system:
            params["system"] = system
        effort = self.settings.thinking.effort_for(purpose)
        if thinking_on:
            thinking = self._thinking(max_tokens, effort, notes)
        else:
            thinking = self._thinking_off(facts, effort, notes)
        params.update(thinking)
        ttype = thinking.get("thinking", {}).get("type")
        thinks = facts.always_thinks or ttype in ("adaptive", "enabled")
        if tools:
            params["tools"] = tools
            # A forced tool_choice is refused while the model thinks, and always by the newest
            # models (Sonnet 5.5, Opus 5.5, Fable 5.1): then "auto", and the loop re-asks once
            # for the submit tool. "any" keeps a non-thinking model on its tools.
            forced = submit is not None and not thinks and facts.forced_tool_choice
            params["tool_choice"] = {"type": "any" if forced else "auto"}
            has_loop_tools = any(t["name"] != (submit.name if submit else None) for t in tools)
            if ttype == "enabled" and has_loop_tools:
                # Budget-thinking models think between tool calls only with this beta;
                # adaptive models interleave by default.
                params["extra_headers"] = {"anthropic-beta": INTERLEAVED_THINKING_BETA}
        return params

    def _thinking_off(self, facts: ModelFacts, effort: str, notes: list[str]) -> dict[str, Any]:
        """Thinking off as this model takes it: `disabled`, else `between_tools` (at effort high
        or below), else (a model that always thinks) an explicit low effort, noted once."""
        if facts.style != "adaptive":
            return {}  # budget-thinking and plain models do not think unless asked
        off = facts.off_type
        if off is None:
            out: dict[str, Any] = {}
            low = self._effort(facts, "low", notes, allowed=facts.efforts)
            if low:
                out["output_config"] = {"effort": low}
                note_once(
                    notes,
                    f"{self.name} always thinks: thinking off is sent as effort {low!r}",
                )
            else:
                note_once(notes, f"{self.name} always thinks; thinking cannot be turned off for it")
            return out
        out = {"thinking": {"type": off}}
        allowed = facts.off_efforts
        if off == "between_tools" and allowed is None:
            allowed = ("low", "medium", "high")  # between_tools is refused above high
        chosen = self._effort(facts, effort, notes, allowed=allowed)
        if chosen:
            out["output_config"] = {"effort": chosen}
        return out

    def _thinking(self, max_tokens: int, effort: str, notes: list[str]) -> dict[str, Any]:
        """Thinking parameters for this model's style (from its facts)."""
        facts = self.facts
        style = facts.style
        if style == "none":
            note_once(notes, f"{self.name} has no extended thinking; thinking is off")
            return {}
        if style == "adaptive":
            out: dict[str, Any] = {"thinking": {"type": "adaptive"}}
            chosen = self._effort(facts, effort, notes)
            if chosen:
                out["output_config"] = {"effort": chosen}
            return out
        budget = self.settings.thinking.budget_tokens or max(1024, max_tokens // 2)
        budget = min(budget, max_tokens - 1)
        if budget < 1024:
            note_once(
                notes,
                f"thinking needs max_tokens above 1024 (got {max_tokens}); thinking is off",
            )
            return {}
        return {"thinking": {"type": "enabled", "budget_tokens": budget}}

    def _effort(
        self,
        facts: ModelFacts,
        wanted: str,
        notes: list[str],
        allowed: tuple[str, ...] | None = None,
    ) -> str | None:
        """`wanted` if the model takes it (within `allowed`, the levels it takes with thinking
        off), else the nearest level below that it does (else its lowest), noted once."""
        levels = tuple(e for e in facts.efforts if allowed is None or e in allowed)
        if not levels:
            return None
        if wanted in levels:
            return wanted
        order = list(EFFORT_LEVELS)
        lower = [e for e in order[: order.index(wanted)] if e in levels]
        chosen = lower[-1] if lower else levels[0]
        note_once(
            notes,
            f"{self.name} does not take effort {wanted!r} here (it takes {', '.join(levels)}); "
            f"using {chosen!r}",
        )
        return chosen

    def note_prefix(
        self, tools: list[dict[str, Any]], request: ModelRequest, notes: list[str]
    ) -> None:
        """Record when the stable prefix is too short for the API to cache it."""
        chars = (
            len(json.dumps(tools))
            + len(request.system)
            + sum(len(b) for b in request.stable_blocks)
        )
        estimate = chars // 4
        if estimate < self.info.min_cache_tokens:
            notes.append(
                f"prompt prefix is about {estimate} tokens, below {self.name}'s minimum cacheable "
                f"length of {self.info.min_cache_tokens}; it is not cached (full input price each call)"
            )


def prompt_hash(model: str, request: ModelRequest) -> str:
    """sha256 of the stable prefix: model, system, stable blocks and tool names."""
    names = sorted(
        [t.name for t in request.tools] + ([request.submit.name] if request.submit else [])
    )
    canon = json.dumps(
        {
            "model": model,
            "system": request.system,
            "stable_blocks": request.stable_blocks,
            "tools": names,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canon.encode()).hexdigest()


def submit_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema sent for a submit tool ($defs kept; additionalProperties false)."""
    return anthropic.transform_schema(schema)


def replay_blocks(content: Any) -> list[dict[str, Any]]:
    """An answer's content blocks as the next request's assistant turn.

    Empty or whitespace-only text blocks are dropped: real answers sometimes carry one before a
    tool_use, and the API refuses them in a request (400, not retryable). Thinking, redacted
    thinking and tool_use blocks are kept byte-identical.
    """
    out = []
    for block in content:
        if block.type == "text" and not block.text.strip():
            continue
        out.append(_block_param(block))
    return out


def _block_param(block: Any) -> dict[str, Any]:
    """An assistant content block as request params, unchanged (thinking signatures kept)."""
    kind = block.type
    if kind == "text":
        return {"type": "text", "text": block.text}
    if kind == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    dumped: dict[str, Any] = block.model_dump(exclude_none=True)
    return dumped


def error_lines(e: ValidationError) -> str:
    """Validation errors as `location: message` lines joined by '; '."""
    return "; ".join(error_items(e))


def error_items(e: ValidationError) -> list[str]:
    items: list[str] = []
    for err in e.errors(include_url=False):
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        items.append(f"{loc}: {msg}")
    return items


def reask_text(name: str, e: ValidationError) -> str:
    """The tool_result sent back for an invalid submit: what is wrong, in fixable words."""
    lines = "\n".join(f"- {item}" for item in error_items(e))
    return (
        f"The {name} input is invalid, so nothing was accepted. Fix every error below and call "
        f"{name} again with the complete corrected input (all fields, not only the fixed ones):\n"
        f"{lines}"
    )


def note_once(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)
