"""The scripted server's prompt cache and token counts: a request in cache order (tools, system,
messages), ~4 characters per token, and the cache simulation that reports what a request reads
from the cache and writes to it, as the Messages API's usage does."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from planfirst.llm.api_rules import estimate_tokens

tokens = estimate_tokens


def canon(obj: Any) -> str:
    """`obj` as canonical JSON (sorted keys, no spaces): what is hashed and measured."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def strip_cache_control(block: Any) -> Any:
    """A request part without cache_control markers (they do not change what is cached)."""
    if isinstance(block, dict):
        return {k: strip_cache_control(v) for k, v in block.items() if k != "cache_control"}
    if isinstance(block, list):
        return [strip_cache_control(v) for v in block]
    return block


LOOKBACK = 20  # block boundaries the API checks for a cache hit before each breakpoint


def prefix_units(body: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """The request in cache order (tools, system, messages) as (canonical text, breakpoint)."""
    for tool in body.get("tools") or []:
        yield canon(strip_cache_control(tool)), isinstance(tool, dict) and "cache_control" in tool
    system = body.get("system")
    if isinstance(system, str):
        yield canon(system), False
    elif isinstance(system, list):
        for block in system:
            yield (
                canon(strip_cache_control(block)),
                isinstance(block, dict) and "cache_control" in block,
            )
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        role = msg.get("role") if isinstance(msg, dict) else None
        if isinstance(content, str):
            yield canon([role, content]), False
        elif isinstance(content, list):
            for block in content:
                mark = isinstance(block, dict) and "cache_control" in block
                yield canon([role, strip_cache_control(block)]), mark


def prompt_tokens(body: dict[str, Any]) -> int:
    """The estimated input tokens of a request (what count_tokens answers)."""
    return tokens(sum(len(t) for t, _ in prefix_units(body)))


class PromptCache:
    """The prefixes cached so far, by digest (the server's lock guards it)."""

    def __init__(self) -> None:
        self.prefixes: set[str] = set()

    def usage_in(self, body: dict[str, Any], min_cache: int) -> dict[str, int]:
        """Input-side usage of `body`, registering its breakpoints' prefixes: every
        `cache_control` breakpoint at or above `min_cache` tokens registers the prefix up to it;
        one already registered is read from the cache."""
        hasher = hashlib.sha256()
        chars = 0
        units: list[tuple[str, int]] = []  # (prefix digest, tokens) at every block boundary
        breakpoints: list[tuple[str, int]] = []
        read = 0
        for text, mark in prefix_units(body):
            hasher.update(text.encode())
            hasher.update(b"\x00")
            chars += len(text)
            units.append((hasher.hexdigest(), tokens(chars)))
            if mark:
                if tokens(chars) >= min_cache:
                    breakpoints.append(units[-1])
                # like the API: a breakpoint also finds a prefix cached at any of the
                # LOOKBACK block boundaries before it (a moved conversation breakpoint)
                for digest, at in reversed(units[-LOOKBACK:]):
                    if digest in self.prefixes:
                        read = max(read, at)
                        break
        total = tokens(chars)
        write = 0
        if breakpoints and breakpoints[-1][0] not in self.prefixes:
            write = breakpoints[-1][1] - read
        for digest, _ in breakpoints:
            self.prefixes.add(digest)
        return {
            "input_tokens": max(0, total - read - write),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }
