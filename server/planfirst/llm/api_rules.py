"""What the live Messages API refuses with a 400, checked by the scripted server (docs/reliability.md
case 35): a request the real API would refuse must fail in the tests too, never only for users.

`check_request` raises `Refusal` with the API's status, error type and message. The model's facts
come from the scripted server's Models API table (`model_info_json` shape).
"""

from __future__ import annotations

import math
from typing import Any


class Refusal(Exception):
    """The API's answer to a request it refuses: status, error type, message."""

    def __init__(
        self, status: int, message: str, error_type: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


MAX_CACHE_BREAKPOINTS = 4
_FORCED = ("any", "tool")


def _types(model: dict[str, Any]) -> set[str]:
    types = ((model.get("capabilities") or {}).get("thinking") or {}).get("types") or {}
    return {k for k, v in types.items() if isinstance(v, dict) and v.get("supported")}


def _efforts(model: dict[str, Any]) -> set[str]:
    effort = (model.get("capabilities") or {}).get("effort") or {}
    if not effort.get("supported"):
        return set()
    return {k for k, v in effort.items() if isinstance(v, dict) and v.get("supported")}


def estimate_tokens(chars: int) -> int:
    """The scripted server's token count: about 4 characters per token."""
    return max(1, math.ceil(chars / 4))


def thinking_on(body: dict[str, Any], model: dict[str, Any], thinks_by_default: bool) -> bool:
    """Whether the request runs with thinking: asked for, or the model's default."""
    thinking = body.get("thinking")
    ttype = thinking.get("type") if isinstance(thinking, dict) else None
    if ttype in ("enabled", "adaptive"):
        return True
    if ttype in ("disabled", "between_tools"):
        return False  # between_tools: thinking off, progress notes between tool calls
    types = _types(model)
    always = bool(types & {"adaptive", "enabled"}) and not types & {"disabled", "between_tools"}
    return always or thinks_by_default


def check_request(
    body: dict[str, Any],
    model: dict[str, Any],
    *,
    thinks_by_default: bool = False,
    signatures: dict[str, str] | None = None,
    thinking_by_tool_id: dict[str, str] | None = None,
) -> None:
    """Raise `Refusal` for anything the live API refuses in `body` sent to `model`."""
    name = str(body.get("model", ""))
    if model.get("lifecycle") == "retired":
        raise Refusal(404, f"model: {name} has been retired", "not_found_error")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise Refusal(400, "max_tokens: field required (a positive integer)")
    limit = model.get("max_tokens")
    if isinstance(limit, int) and max_tokens > limit:
        raise Refusal(
            400, f"max_tokens: {max_tokens} > {limit}, which is the maximum allowed for {name}"
        )
    _check_thinking(body, model, name, max_tokens, thinks_by_default)
    _check_effort(body, model, name)
    _check_tools(body, model, name)
    _check_cache_control(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Refusal(400, "messages: at least one message is required")
    _check_text_blocks(messages)
    _check_tool_pairs(messages)
    _check_thinking_blocks(body, messages, signatures or {}, thinking_by_tool_id or {})


def _check_thinking(
    body: dict[str, Any], model: dict[str, Any], name: str, max_tokens: int, by_default: bool
) -> None:
    thinking = body.get("thinking")
    ttype = thinking.get("type") if isinstance(thinking, dict) else None
    types = _types(model)
    if ttype is not None and ttype not in types:
        hint = "; use 'adaptive'" if ttype == "enabled" and "adaptive" in types else ""
        raise Refusal(400, f"thinking.type '{ttype}' is not supported for {name}{hint}")
    if ttype == "enabled":
        assert isinstance(thinking, dict)
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise Refusal(
                400, "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            )
        if budget >= max_tokens:
            raise Refusal(400, "`max_tokens` must be greater than `thinking.budget_tokens`")
    if not thinking_on(body, model, by_default):
        return
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in _FORCED:
        raise Refusal(400, "Thinking may not be enabled when tool_choice forces tool use.")
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise Refusal(
            400,
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking",
        )
    if body.get("top_k") is not None:
        raise Refusal(400, "`top_k` is not supported when thinking is enabled")


def _check_effort(body: dict[str, Any], model: dict[str, Any], name: str) -> None:
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if effort is None:
        return
    allowed = _efforts(model)
    if not allowed:
        raise Refusal(400, f"output_config.effort: effort is not supported by {name}")
    if effort not in allowed:
        raise Refusal(
            400,
            f"output_config.effort: '{effort}' is not supported by {name}; "
            f"supported: {', '.join(sorted(allowed))}",
        )


def _check_tools(body: dict[str, Any], model: dict[str, Any], name: str) -> None:
    strict_ok = bool(
        ((model.get("capabilities") or {}).get("structured_outputs") or {}).get("supported")
    )
    for i, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict) and tool.get("strict") and not strict_ok:
            raise Refusal(400, f"tools.{i}.strict: strict tool use is not supported by {name}")


def _marked(obj: Any) -> int:
    if isinstance(obj, dict):
        return ("cache_control" in obj) + sum(
            _marked(v) for k, v in obj.items() if k != "cache_control"
        )
    if isinstance(obj, list):
        return sum(_marked(v) for v in obj)
    return 0


def _check_cache_control(body: dict[str, Any]) -> None:
    found = (
        _marked(body.get("tools"))
        + _marked(body.get("system"))
        + _marked(body.get("messages"))
        + (1 if body.get("cache_control") else 0)
    )
    if found > MAX_CACHE_BREAKPOINTS:
        raise Refusal(
            400,
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {found}.",
        )


def _check_text_blocks(messages: list[Any]) -> None:
    for i, msg in enumerate(messages):
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            if not content.strip() and not (
                i == len(messages) - 1 and msg.get("role") == "assistant"
            ):
                raise Refusal(400, f"messages.{i}: all messages must have non-empty content")
            continue
        for j, block in enumerate(content or []):
            if not isinstance(block, dict) or block.get("type") != "text":
                continue
            text = block.get("text")
            if not isinstance(text, str) or text == "":
                raise Refusal(
                    400, f"messages.{i}.content.{j}.text: text content blocks must be non-empty"
                )
            if not text.strip():
                raise Refusal(
                    400,
                    f"messages.{i}.content.{j}.text: text content blocks must contain "
                    "non-whitespace text",
                )


def _check_tool_pairs(messages: list[Any]) -> None:
    """Every tool_use answered by a tool_result in the next user message, and only those."""
    for i, msg in enumerate(messages):
        content = msg.get("content") if isinstance(msg, dict) else None
        blocks = content if isinstance(content, list) else []
        if msg.get("role") == "user":
            prev = messages[i - 1] if i > 0 else {}
            prev_content = prev.get("content") if isinstance(prev, dict) else None
            asked = {
                b.get("id")
                for b in (prev_content if isinstance(prev_content, list) else [])
                if isinstance(b, dict) and b.get("type") == "tool_use"
            }
            for j, b in enumerate(blocks):
                if isinstance(b, dict) and b.get("type") == "tool_result":
                    if b.get("tool_use_id") not in asked:
                        raise Refusal(
                            400,
                            f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                            "`tool_result` blocks: "
                            f"{b.get('tool_use_id')}. Each `tool_result` block must have a "
                            "corresponding `tool_use` block in the previous message.",
                        )
            continue
        ids = [b.get("id") for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"]
        if not ids:
            continue
        nxt = messages[i + 1] if i + 1 < len(messages) else None
        nxt_content = nxt.get("content") if isinstance(nxt, dict) else None
        answered = {
            b.get("tool_use_id")
            for b in (nxt_content if isinstance(nxt_content, list) else [])
            if isinstance(b, dict) and b.get("type") == "tool_result"
        }
        missing = [x for x in ids if x not in answered]
        if missing:
            raise Refusal(
                400,
                f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(map(str, missing))}. Each `tool_use` block must "
                "have a corresponding `tool_result` block in the next message.",
            )


def _check_thinking_blocks(
    body: dict[str, Any],
    messages: list[Any],
    signatures: dict[str, str],
    thinking_by_tool_id: dict[str, str],
) -> None:
    """Thinking blocks come back unchanged; one that led to tool use must not be dropped."""
    thinking = body.get("thinking")
    ttype = thinking.get("type") if isinstance(thinking, dict) else None
    for i, msg in enumerate(messages):
        content = msg.get("content") if isinstance(msg, dict) else None
        if msg.get("role") != "assistant" or not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "thinking":
                if signatures.get(str(block.get("signature"))) != block.get("thinking"):
                    raise Refusal(400, "Invalid `signature` in `thinking` block")
        if ttype not in ("enabled", "adaptive", "between_tools"):
            continue
        ids = [b.get("id") for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
        sigs = {thinking_by_tool_id.get(str(x)) for x in ids} - {None}
        have = {
            b.get("signature")
            for b in content
            if isinstance(b, dict) and b.get("type") == "thinking"
        }
        if sigs - have:
            raise Refusal(
                400,
                f"messages.{i}.content: thinking blocks returned with tool use must be passed "
                "back unchanged",
            )
