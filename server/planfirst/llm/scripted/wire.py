"""What the scripted server sends on the wire besides a whole message: the API's error bodies
and request ids, and the SSE events of a streamed answer (block by block, split mid-token like
the real API, the last block cut in half for a `max_tokens` stop)."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

STATUS_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class Reject(Exception):
    """A request the server refuses: answered with `status` and the API's error body."""

    def __init__(self, status: int, message: str, error_type: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


def _chunks(s: str, parts: int) -> list[str]:
    """Split `s` into about `parts` pieces (at least one, never empty pieces)."""
    if not s:
        return [""]
    size = max(1, math.ceil(len(s) / parts))
    return [s[i : i + size] for i in range(0, len(s), size)]


def sse_events(
    message: dict[str, Any],
    blocks: list[dict[str, Any]],
    stop_reason: str,
    usage: dict[str, int],
    truncate_last: bool,
    stop_details: dict[str, Any] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events of one streamed answer."""
    start_usage = dict(usage)
    start_usage["output_tokens"] = 1
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {**message, "usage": start_usage}}),
        ("ping", {"type": "ping"}),
    ]
    for i, block in enumerate(blocks):
        last = i == len(blocks) - 1
        kind = block["type"]
        if kind == "thinking":
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                    },
                )
            )
            for piece in _chunks(block["thinking"], 3):
                delta = {"type": "thinking_delta", "thinking": piece}
                events.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": i, "delta": delta},
                    )
                )
            sig_delta = {"type": "signature_delta", "signature": block["signature"]}
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": i, "delta": sig_delta},
                )
            )
        elif kind == "text":
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            text = block["text"]
            if last and truncate_last:
                text = text[: max(1, len(text) // 2)]
            for piece in _chunks(text, 4) if text else []:
                delta = {"type": "text_delta", "text": piece}
                events.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": i, "delta": delta},
                    )
                )
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": i, "content_block": start},
                )
            )
            raw = json.dumps(block["input"], ensure_ascii=False)
            if last and truncate_last:
                raw = raw[: max(1, len(raw) // 2)]
            # Several fragments, split mid-token like the real API, so partial snapshots show.
            for piece in _chunks(raw, 6):
                delta = {"type": "input_json_delta", "partial_json": piece}
                events.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": i, "delta": delta},
                    )
                )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "stop_details": stop_details,
                },
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def error_body(error_type: str, message: str, error_code: str | None = None) -> dict[str, Any]:
    """The API's error body; `error_code` goes to `error.details.error_code` (the SDK's
    `APIStatusError.error_code`)."""
    error: dict[str, Any] = {"type": error_type, "message": message}
    if error_code:
        error["details"] = {"error_code": error_code}
    return {"type": "error", "error": error, "request_id": request_id()}


def request_id() -> str:
    """A fresh `request-id` header value (and error body `request_id`)."""
    return f"req_scripted_{next(_REQUEST_IDS):06d}"


_REQUEST_IDS = itertools.count(1)
