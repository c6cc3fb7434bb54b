"""Per-model rules of the Messages API that the Models API does not describe, checked by the
scripted server next to the general ones (llm/api_rules.py): a request one of today's models
refuses must fail in the tests too (docs/reliability.md case 35; issue #27).

The rules come from the model's catalogue row (llm/catalog_rows.py, each row citing its page):
- a forced `tool_choice` (`any`/`tool`) is refused by Sonnet 5.5, Opus 5.5 and Fable 5.1 and
  later even with thinking off (`forced_tool_choice`);
- an assistant prefill (the last message from the assistant) is refused by the 4.6-and-later and
  5.x models (`prefill`);
- non-default sampling parameters (`temperature` other than 1, `top_p` below 0.99, any `top_k`)
  are refused by the 5.x models (`sampling`);
- thinking off (`disabled` or `between_tools`) only at the efforts the model allows with it
  (`off_efforts`; `between_tools` never above `high`);
- a thinking block is bound to the model that wrote it: replayed to another model, refused.
"""

from __future__ import annotations

from typing import Any

from planfirst.llm.api_rules import Refusal
from planfirst.llm.catalog import ModelInfo

_FORCED = ("any", "tool")
_BETWEEN_TOOLS_EFFORTS = ("low", "medium", "high")


def check_model_rules(
    body: dict[str, Any], info: ModelInfo, thinking_models: dict[str, str] | None = None
) -> None:
    """Raise `Refusal` for what `info`'s model refuses in `body`. `thinking_models` maps each
    thinking block's signature to the model that wrote it."""
    name = str(body.get("model", ""))
    choice = body.get("tool_choice")
    if not info.forced_tool_choice and isinstance(choice, dict) and choice.get("type") in _FORCED:
        raise Refusal(
            400,
            f"tool_choice: forced tool use ('{choice.get('type')}') is not supported by {name}; "
            "use 'auto'",
        )
    messages = body.get("messages")
    if not info.prefill and isinstance(messages, list) and messages:
        last = messages[-1]
        if isinstance(last, dict) and last.get("role") == "assistant":
            raise Refusal(
                400,
                f"messages: assistant message prefill is not supported by {name}; the last "
                "message must be from the user",
            )
    if not info.sampling:
        _check_sampling(body, name)
    _check_off_effort(body, info, name)
    _check_thinking_owner(messages, name, thinking_models or {})


def _check_sampling(body: dict[str, Any], name: str) -> None:
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise Refusal(400, f"temperature: only the default (1) is supported by {name}")
    top_p = body.get("top_p")
    if top_p is not None and not (isinstance(top_p, int | float) and top_p >= 0.99):
        raise Refusal(400, f"top_p: must be at least 0.99 or unset for {name}")
    if body.get("top_k") is not None:
        raise Refusal(400, f"top_k: is not supported by {name}")


def _check_off_effort(body: dict[str, Any], info: ModelInfo, name: str) -> None:
    thinking = body.get("thinking")
    ttype = thinking.get("type") if isinstance(thinking, dict) else None
    if ttype not in ("disabled", "between_tools"):
        return
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if effort is None:
        return
    allowed = info.off_efforts
    if ttype == "between_tools":
        allowed = tuple(
            e for e in (allowed or _BETWEEN_TOOLS_EFFORTS) if e in _BETWEEN_TOOLS_EFFORTS
        )
    if allowed is not None and effort not in allowed:
        raise Refusal(
            400,
            f"thinking.type '{ttype}' is not supported with effort '{effort}' for {name}; "
            f"use effort {', '.join(allowed)}",
        )


def _check_thinking_owner(messages: Any, name: str, owners: dict[str, str]) -> None:
    for i, msg in enumerate(messages if isinstance(messages, list) else []):
        content = msg.get("content") if isinstance(msg, dict) else None
        if msg.get("role") != "assistant" or not isinstance(content, list):
            continue
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "thinking":
                continue
            owner = owners.get(str(block.get("signature")))
            if owner is not None and owner != name:
                raise Refusal(
                    400,
                    f"messages.{i}.content: a thinking block written by {owner} cannot be sent "
                    f"to {name}; thinking blocks are bound to the model that produced them",
                )
