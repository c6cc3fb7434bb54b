"""One streamed Messages attempt: events to the callbacks, a cut stream detected, and what a
cut attempt had already cost (it is billed from `message_start` on)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic

from planfirst.llm.catalog import cost
from planfirst.llm.failures import StreamCut
from planfirst.llm.model import ModelEvents
from planfirst.llm.tool_loop import safe
from planfirst.plan.model import Usage


async def stream_once(
    client: anthropic.AsyncAnthropic,
    params: dict[str, Any],
    ev: ModelEvents,
    submit_name: str | None,
    partial: list[Any] | None = None,
    seen_request_id: Callable[[str | None], None] | None = None,
) -> Any:
    """One streamed attempt; events go to the callbacks; a cut stream raises StreamCut.
    `partial` receives [message_start usage, characters streamed] once the attempt is
    billed, and is emptied when the answer is complete; `seen_request_id` gets the request-id
    as soon as the response starts."""
    partial = [] if partial is None else partial
    on_text = getattr(ev, "on_text", None)
    on_thinking = getattr(ev, "on_thinking", None)
    on_partial = getattr(ev, "on_partial_submit", None)
    tool_names: dict[int, str] = {}
    current = -1
    saw_stop = False
    async with client.messages.stream(**params) as stream:
        request_id = getattr(stream, "request_id", None)
        if seen_request_id is not None:
            seen_request_id(request_id)
        async for raw_event in stream:
            # The SDK's event union does not narrow on `.type`; the fields used below are
            # the documented ones for each event type.
            event: Any = raw_event
            kind = event.type
            if kind == "message_start":
                # billed from here on, even if the stream is cut later
                partial[:] = [event.message.usage, 0]
            elif kind == "content_block_delta" and partial:
                delta = event.delta
                partial[1] += len(
                    getattr(delta, "text", None)
                    or getattr(delta, "thinking", None)
                    or getattr(delta, "partial_json", None)
                    or ""
                )
            if kind == "content_block_start":
                current = event.index
                if event.content_block.type == "tool_use":
                    tool_names[current] = event.content_block.name
            elif kind == "content_block_delta":
                current = event.index
            elif kind == "text":
                if on_text:
                    safe(on_text, event.text)
            elif kind == "thinking":
                if on_thinking:
                    safe(on_thinking, event.thinking)
            elif kind == "input_json":
                if (
                    on_partial
                    and submit_name is not None
                    and tool_names.get(current) == submit_name
                    and isinstance(event.snapshot, dict)
                ):
                    safe(on_partial, event.snapshot)
            elif kind == "message_stop":
                saw_stop = True
        if not saw_stop:
            raise StreamCut("the stream ended before message_stop", request_id)
        partial.clear()
        return await stream.get_final_message()


def cut_usage(model: str, partial: list[Any], prices: dict[str, dict[str, float]]) -> Usage:
    """What a cut attempt cost: its prompt as `message_start` reported it, and its output
    counted at 3 characters a token (the dense side) of what had streamed."""
    start, chars = partial
    u = Usage(
        input_tokens=getattr(start, "input_tokens", 0) or 0,
        output_tokens=max(getattr(start, "output_tokens", 0) or 0, -(-chars // 3)),
        cache_creation_input_tokens=getattr(start, "cache_creation_input_tokens", 0) or 0,
        cache_read_input_tokens=getattr(start, "cache_read_input_tokens", 0) or 0,
        calls=1,
    )
    u.cost_usd = cost(model, u, prices)
    return u
