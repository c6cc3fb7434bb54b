"""Does a prompt fit the model's context window? A local estimate, and the parts that make it big.

The Messages API refuses a prompt longer than the window with a non-retryable `400 prompt is too
long`. `AnthropicModel` estimates every request locally (this module), asks the token-counting
API (`messages.count_tokens`) only when the estimate comes near the window, and stops before
sending with a message naming the largest parts (files, tool results, the plan).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Conservative: code and newer tokenizers run below 4 characters per token.
CHARS_PER_TOKEN = 3.0
# Below this share of the window the estimate is trusted without a token-counting call.
COUNT_ABOVE = 0.5

_FILE = re.compile(r'<file path="(?P<path>[^"]+)">\n(?P<body>.*?)\n</file>', re.S)
_COUNT_KEYS = ("model", "messages", "system", "tools", "tool_choice", "thinking", "output_config")


_ASCII = bytes(range(128))


def estimate(obj: Any) -> int:
    """A conservative local token estimate of a request part: ASCII characters / 3, and one token
    for every byte of other characters. A byte-level tokenizer never makes more tokens than
    bytes, and emoji and CJK text come close to that bound (three characters a token priced an
    emoji-heavy prompt at a fraction of its cost, so it passed a budget cap: docs/reliability.md
    case 41)."""
    text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    if text.isascii():
        return math.ceil(len(text) / CHARS_PER_TOKEN)
    data = text.encode("utf-8", "surrogatepass")
    other = len(data.translate(None, _ASCII))  # the bytes of non-ASCII characters
    return math.ceil((len(data) - other) / CHARS_PER_TOKEN) + other


def count_params(params: dict[str, Any]) -> dict[str, Any]:
    """The subset of `messages.stream` keyword arguments that `messages.count_tokens` takes."""
    out = {k: params[k] for k in _COUNT_KEYS if k in params}
    if "extra_headers" in params:
        out["extra_headers"] = params["extra_headers"]
    return out


def request_estimate(params: dict[str, Any]) -> int:
    """The local estimate of everything that counts as input."""
    return sum(estimate(params[k]) for k in ("system", "tools", "messages") if k in params)


def _text_parts(label: str, text: str) -> list[tuple[str, int]]:
    """A text split into its `<file path=...>` blocks (each named) and the rest."""
    parts: list[tuple[str, int]] = []
    rest = text
    for m in _FILE.finditer(text):
        parts.append((f"file {m.group('path')}", estimate(m.group("body"))))
        rest = rest.replace(m.group(0), "", 1)
    if rest.strip():
        parts.append((label, estimate(rest)))
    return parts


def largest_parts(params: dict[str, Any], top: int = 3) -> list[tuple[str, int]]:
    """The biggest named parts of a request, largest first: files, tool results, prompts."""
    parts: list[tuple[str, int]] = []
    system = params.get("system")
    if system:
        parts.append(("the system prompt", estimate(system)))
    if params.get("tools"):
        parts.append(("the tool definitions", estimate(params["tools"])))
    calls: dict[str, str] = {}
    for i, msg in enumerate(params.get("messages") or []):
        content = msg.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for j, block in enumerate(blocks):
            kind = block.get("type")
            if kind == "text":
                label = (
                    "the instruction" if i == 0 and j == len(blocks) - 1 else "the plan and context"
                )
                if msg.get("role") == "assistant":
                    label = "the model's earlier answers"
                parts.extend(_text_parts(label, str(block.get("text") or "")))
            elif kind == "tool_use":
                tool_input = block.get("input") or {}
                target = tool_input.get("path") or tool_input.get("pattern") or ""
                calls[str(block.get("id"))] = f"{block.get('name')} {target}".strip()
                parts.append((f"the model's {block.get('name')} call", estimate(tool_input)))
            elif kind == "tool_result":
                what = calls.get(str(block.get("tool_use_id")), "a tool call")
                parts.append((f"the result of {what}", estimate(block.get("content") or "")))
            else:
                parts.append((f"a {kind} block", estimate(block)))
    merged: dict[str, int] = {}
    for label, tokens in parts:
        merged[label] = merged.get(label, 0) + tokens
    return sorted(merged.items(), key=lambda kv: -kv[1])[:top]


def too_big_message(
    model: str,
    purpose: str,
    tokens: int,
    window: int,
    counted: bool,
    params: dict[str, Any],
    answer_floor: int = 0,
) -> str:
    """The stop message: how big, how measured, and which parts to shrink."""
    how = "counted by the token-counting API" if counted else "estimated locally"
    # Part sizes are local estimates; scale them to the measured total so the figures agree.
    scale = tokens / max(1, request_estimate(params))
    parts = ", ".join(
        f"{label} (~{round(n * scale):,} tokens)" for label, n in largest_parts(params)
    )
    if tokens > window:
        size = f"more than {model}'s context window of {window:,} tokens"
    else:
        size = (
            f"which leaves {window - tokens:,} of {model}'s {window:,}-token context window for "
            f"the answer, below the {answer_floor:,} it needs"
        )
    return (
        f"the {purpose} prompt is {tokens:,} tokens ({how}), {size}, so it was not sent. "
        f"Largest parts: {parts}. Split the step so it touches fewer or smaller files, or lower "
        "planfirst.context.tokenBudget"
    )
