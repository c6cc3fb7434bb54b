"""A turn's `expect` checked against the request it answers (script.Expect is its format):
every way the request misses, in words, for the scripted server's 500 answer and `.failures`."""

from __future__ import annotations

from typing import Any

from planfirst.llm.scripted.cache import canon


def text_of(body: dict[str, Any]) -> str:
    """All prompt text (system and messages) for `contains` checks."""
    parts: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, str):
            parts.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(body.get("system"))
    walk(body.get("messages"))
    return "\n".join(parts)


def expect_problems(expect: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """Every way `body` misses the turn's expectations, in words."""
    problems: list[str] = []
    offered = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
    for name in expect.get("tools") or []:
        if name not in offered:
            problems.append(f"tool {name!r} not offered (offered: {offered})")
    if expect.get("no_tools") and offered:
        problems.append(f"expected no tools, got {offered}")
    text = text_of(body)
    for needle in expect.get("contains") or []:
        if needle not in text:
            problems.append(f"prompt does not contain {needle!r}")
    raw = canon(body)
    for needle in expect.get("not_contains") or []:
        if needle in raw or needle in text:
            problems.append(f"request contains {needle!r}")
    if "tool_result_contains" in expect or "tool_result_error" in expect:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        last_content = last.get("content")
        blocks: list[Any] = last_content if isinstance(last_content, list) else []
        results = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]
        if not results:
            problems.append("the last user message has no tool_result")
        else:
            needles = expect.get("tool_result_contains") or []
            if isinstance(needles, str):
                needles = [needles]
            joined = "\n".join(
                text_of({"messages": [{"content": r.get("content")}]}) for r in results
            )
            for needle in needles:
                if needle not in joined:
                    problems.append(
                        f"tool_result does not contain {needle!r} (got {joined[:300]!r})"
                    )
            if "tool_result_error" in expect:
                flags = [bool(r.get("is_error")) for r in results]
                if bool(expect["tool_result_error"]) not in flags:
                    problems.append(
                        f"tool_result is_error is {flags}, expected {expect['tool_result_error']}"
                    )
    if "thinking" in expect:
        got = (body.get("thinking") or {}).get("type")
        if got != expect["thinking"]:
            problems.append(f"thinking type is {got!r}, expected {expect['thinking']!r}")
    if "tool_choice" in expect:
        got = (body.get("tool_choice") or {}).get("type")
        if got != expect["tool_choice"]:
            problems.append(f"tool_choice type is {got!r}, expected {expect['tool_choice']!r}")
    if "model" in expect and body.get("model") != expect["model"]:
        problems.append(f"model is {body.get('model')!r}, expected {expect['model']!r}")
    if "stream" in expect and bool(body.get("stream")) != bool(expect["stream"]):
        problems.append(f"stream is {bool(body.get('stream'))}, expected {bool(expect['stream'])}")
    at_least = expect.get("max_tokens_at_least")
    if at_least is not None and int(body.get("max_tokens") or 0) < int(at_least):
        problems.append(f"max_tokens is {body.get('max_tokens')}, expected at least {at_least}")
    return problems
