"""A loopback server speaking the Anthropic Messages API from a script of turns.

The demo, the tests and the benchmarks point the real `AnthropicModel` (official SDK, real HTTP)
at it. It answers `POST /v1/messages`, as JSON or as an SSE stream, one scripted turn per
request, checks each request against the turn's expectations and fails loudly on a mismatch.
It also answers the Models API (`GET /v1/models/{id}`, from the catalogue or the script's
`models` table) and `POST /v1/messages/count_tokens` (the ~4 characters/token estimate); those
consume no turn and are recorded in `.side_requests`.

Script format (JSON; checked by the pydantic models of script.py): either a list of turns or
`{"turns": [...], "models": {...}}` (see `script.load_models` for model entries). Each turn is
an object:

    {"tool": "submit_plan", "input": {...}}          one tool call (stop_reason tool_use)
    {"tools": [{"name": "a", "input": {...}}, ...]}  parallel tool calls in one message
    {"text": "..."}                                  a text reply (stop_reason end_turn)
    "text" and "thinking" may lead any tool turn:  {"thinking": "...", "text": "...", "tool": ...}
    {"text": "", "tool": ...}                        an empty (or "\n": whitespace-only) text block
                                                     before the tool call, as real answers carry
    {"stop_reason": "max_tokens", "tool": ..., "input": ...}
                                                     truncation: the last block (tool input JSON
                                                     or text) is cut in half
    {"stop_reason": "refusal", "text": "..."}        a refusal; "stop_details": {"type": "refusal",
                                                     "category": ..., "explanation": ...} with it
    {"fault": {"status": 429, "retry_after": 2}}     an HTTP error; also "retry_after_ms",
                                                     "message", "type" (error type), "error_code"
                                                     (error.details.error_code, e.g.
                                                     "enforced_spend_limit_reached") and
                                                     "headers" (e.g. {"x-should-retry": "false"});
                                                     429, 529, 500..599, 400, 401, ... all allowed
    {"fault": "stream_cut"}                          HTTP 200, then the SSE stream is cut midway
                                                     (combine with text/tool to cut that content)
    {"fault": "stream_error"}                        HTTP 200, then an `event: error`
                                                     overloaded_error midway
    {"delay": 1.5, ...}                              wait before answering (any turn)
    {"delay_chunks": 0.05, ...}                      wait between SSE events (any turn)
    {"usage": {"output_tokens": 10}, ...}            override reported usage fields
    {"note": "..."}                                  a comment, ignored
    {"expect": {...}, ...}                           checks on the request (any turn):
        "tools": ["submit_plan", ...]    these tool names are offered
        "no_tools": true                 no tools offered
        "contains": ["text", ...]        each string occurs in the system prompt or messages
        "not_contains": ["text", ...]    none occurs anywhere in the request body
        "tool_result_contains": "text"   (or a list) inside a tool_result of the last user message
        "tool_result_error": true|false  that tool_result's is_error flag
        "thinking": "adaptive"|"enabled"|"disabled"|null   the thinking type sent (null: none)
        "tool_choice": "auto"|"any"|"tool"|null            the tool_choice type sent
        "model": "claude-..."            the model requested
        "stream": true|false             streaming or not
        "max_tokens_at_least": N         max_tokens >= N

Every request consumes one turn, except one that the real API refuses (llm/api_rules.py, checked
against the model's facts: empty or whitespace text blocks, tool_use without its tool_result in
the next message, more than 4 cache_control blocks, budget_tokens out of range, forced
tool_choice or temperature != 1 with thinking on, an effort level or thinking type the model does
not take, tampered or missing thinking blocks, a prompt over the context window, an unknown or
retired model; and llm/model_rules.py, each model's own rules from its catalogue row: forced
tool_choice, prefill, sampling parameters, effort with thinking off, a thinking block replayed to
another model), which is answered with the API's error (400, or 404 for a model), and one that
fails its turn's `expect` or arrives after the script ran out, which is answered 500 with the
reason in `error.message`. All are recorded in `.failures` and leave the turn in place.

Usage is estimated at ~4 characters per token. Cache: every `cache_control` breakpoint at or
above the model's minimum cacheable length (from the catalog) registers the request prefix up to
it (tools, system, messages; cache_control markers themselves ignored); a later request whose
prefix at a breakpoint matches reports it as `cache_read_input_tokens`, the rest of the prefix
up to its last breakpoint as `cache_creation_input_tokens`.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import signal
import socket
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from planfirst.llm.api_rules import Refusal, check_request, estimate_tokens
from planfirst.llm.catalog import lookup
from planfirst.llm.facts import model_info_json
from planfirst.llm.model_rules import check_model_rules
from planfirst.llm.scripted.script import (
    Script,
    ScriptError,
    ScriptSource,
    check_turn,
    expand_model,
    load_models,
    load_script,
)

_STATUS_ERROR_TYPES = {
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


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    turn: int | None  # 1-based turn that answered it; None when it failed
    status: int = 200


@dataclass
class _State:
    turns: Script
    index: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cache: set[str] = field(default_factory=set)
    signatures: dict[str, str] = field(default_factory=dict)  # signature -> thinking text
    thinking_by_tool_id: dict[str, str] = field(default_factory=dict)  # tool id -> signature
    thinking_models: dict[str, str] = field(default_factory=dict)  # signature -> model
    counter: int = 0
    side_requests: list[RecordedRequest] = field(default_factory=list)


def _signature(text: str) -> str:
    return "sig-" + hashlib.sha256(text.encode()).hexdigest()[:32]


_tokens = estimate_tokens


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def strip_cache_control(block: Any) -> Any:
    """A request part without cache_control markers (they do not change what is cached)."""
    if isinstance(block, dict):
        return {k: strip_cache_control(v) for k, v in block.items() if k != "cache_control"}
    if isinstance(block, list):
        return [strip_cache_control(v) for v in block]
    return block


_LOOKBACK = 20  # block boundaries the API checks for a cache hit before each breakpoint


def _prefix_units(body: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """The request in cache order (tools, system, messages) as (canonical text, breakpoint)."""
    for tool in body.get("tools") or []:
        yield _canon(strip_cache_control(tool)), isinstance(tool, dict) and "cache_control" in tool
    system = body.get("system")
    if isinstance(system, str):
        yield _canon(system), False
    elif isinstance(system, list):
        for block in system:
            yield (
                _canon(strip_cache_control(block)),
                isinstance(block, dict) and "cache_control" in block,
            )
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        role = msg.get("role") if isinstance(msg, dict) else None
        if isinstance(content, str):
            yield _canon([role, content]), False
        elif isinstance(content, list):
            for block in content:
                mark = isinstance(block, dict) and "cache_control" in block
                yield _canon([role, strip_cache_control(block)]), mark


def _text_of(body: dict[str, Any]) -> str:
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


class _Reject(Exception):
    def __init__(self, status: int, message: str, error_type: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


class ScriptedServer:
    """The scripted Messages API on 127.0.0.1; use as a context manager or start()/stop()."""

    def __init__(
        self,
        script: ScriptSource,
        *,
        port: int = 0,
        min_cache_tokens: int | None = None,
        mismatch_status: int = 500,
        models: dict[str, dict[str, Any]] | None = None,
        models_api: bool = True,
        count_tokens: bool = True,
    ) -> None:
        # models_api / count_tokens False: those endpoints answer 404 like a proxy without them.
        self.models_api = models_api
        self.count_tokens = count_tokens
        self._state = _State(turns=load_script(script))
        extra = {k: expand_model(k, v) for k, v in (models or {}).items()}
        self._models = {**load_models(script), **extra}
        self._lock = threading.Lock()
        self._port = port
        self._min_cache_tokens = min_cache_tokens
        self._mismatch_status = mismatch_status
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> ScriptedServer:
        """Bind 127.0.0.1 and serve in a background thread."""
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            # A short poll interval keeps stop() fast (shutdown waits for one poll).
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="scripted-messages",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; sleeping turns wake up and end."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, for `AnthropicModel(base_url=...)`."""
        if self._httpd is None:
            raise RuntimeError("ScriptedServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order."""
        with self._lock:
            return list(self._state.requests)

    @property
    def failures(self) -> list[str]:
        """Mismatches, protocol violations and requests past the end of the script."""
        with self._lock:
            return list(self._state.failures)

    @property
    def side_requests(self) -> list[RecordedRequest]:
        """Models API and token-count requests (they consume no turn)."""
        with self._lock:
            return list(self._state.side_requests)

    def _record_side(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        with self._lock:
            self._state.side_requests.append(RecordedRequest(method, path, headers, body, None))

    def remaining(self) -> int:
        """Turns not yet consumed."""
        with self._lock:
            return len(self._state.turns) - self._state.index

    def add_turns(self, turns: Sequence[Any]) -> None:
        """Append turns to the script (checked like loaded ones; a batch with a bad turn adds
        nothing)."""
        with self._lock:
            base = len(self._state.turns)
            checked = [check_turn(base + i, t) for i, t in enumerate(turns, 1)]
            self._state.turns.extend(checked)

    # ------------------------------------------------------------ request handling

    def _take_turn(
        self, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, int]]:
        """Check the request, consume its turn; returns (turn number, turn, usage)."""
        with self._lock:
            st = self._state
            rec = RecordedRequest("POST", "/v1/messages", headers, body, None)
            st.requests.append(rec)
            try:
                self._check_protocol(body)
                if st.index >= len(st.turns):
                    raise _Reject(
                        self._mismatch_status,
                        f"scripted server: request {len(st.requests)} arrived after the script "
                        f"ran out ({len(st.turns)} turns)",
                        "api_error",
                    )
                turn = st.turns[st.index]
                problems = _expect_problems(turn.get("expect") or {}, body)
                if problems:
                    raise _Reject(
                        self._mismatch_status,
                        f"scripted server: turn {st.index + 1} expectation failed: "
                        + "; ".join(problems),
                        "api_error",
                    )
            except _Reject as r:
                rec.status = r.status
                st.failures.append(r.message)
                raise
            st.index += 1
            rec.turn = st.index
            usage = self._usage_in(body)
            return st.index, turn, usage

    def model_info(self, model: str) -> dict[str, Any] | None:
        """The Models API's answer for `model`: the script's table, else the catalogue."""
        entry = self._models.get(model)
        if entry is not None:
            return {k: v for k, v in entry.items() if k != "thinks_by_default" and k[:1] != "_"}
        info = lookup(model)
        return model_info_json(info) if info.known else None

    def _thinks_by_default(self, model: str) -> bool:
        entry = self._models.get(model)
        if entry is not None and "thinks_by_default" in entry:
            return bool(entry["thinks_by_default"])
        return lookup(model).thinks_by_default

    def _check_protocol(self, body: dict[str, Any]) -> None:
        """What the real API refuses (and would cost a real user a failed call): api_rules.py."""
        name = str(body.get("model", ""))
        info = self.model_info(name)
        if info is None:
            raise _Reject(404, f"model: {name}", "not_found_error")
        try:
            check_request(
                body,
                info,
                thinks_by_default=self._thinks_by_default(name),
                signatures=self._state.signatures,
                thinking_by_tool_id=self._state.thinking_by_tool_id,
            )
            entry = self._models.get(name) or {}
            check_model_rules(
                body, lookup(str(entry.get("_rules") or name)), self._state.thinking_models
            )
        except Refusal as r:
            raise _Reject(r.status, r.message, r.error_type) from None
        window = info.get("max_input_tokens")
        tokens = estimate_tokens(sum(len(t) for t, _ in _prefix_units(body)))
        if isinstance(window, int) and tokens > window:
            raise _Reject(
                400,
                f"prompt is too long: {tokens} tokens > {window} maximum",
                "invalid_request_error",
            )

    def _usage_in(self, body: dict[str, Any]) -> dict[str, int]:
        """Input-side usage of `body`, updating the simulated cache (lock held)."""
        min_cache = self._min_cache_tokens
        if min_cache is None:
            min_cache = lookup(str(body.get("model", ""))).min_cache_tokens
        hasher = hashlib.sha256()
        chars = 0
        units: list[tuple[str, int]] = []  # (prefix digest, tokens) at every block boundary
        breakpoints: list[tuple[str, int]] = []
        read = 0
        for text, mark in _prefix_units(body):
            hasher.update(text.encode())
            hasher.update(b"\x00")
            chars += len(text)
            units.append((hasher.hexdigest(), _tokens(chars)))
            if mark:
                tokens = _tokens(chars)
                if tokens >= min_cache:
                    breakpoints.append(units[-1])
                # like the API: a breakpoint also finds a prefix cached at any of the
                # _LOOKBACK block boundaries before it (a moved conversation breakpoint)
                for digest, at in reversed(units[-_LOOKBACK:]):
                    if digest in self._state.cache:
                        read = max(read, at)
                        break
        total = _tokens(chars)
        write = 0
        if breakpoints and breakpoints[-1][0] not in self._state.cache:
            write = breakpoints[-1][1] - read
        for digest, _ in breakpoints:
            self._state.cache.add(digest)
        return {
            "input_tokens": max(0, total - read - write),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }

    def _build_content(self, turn: dict[str, Any], model: str = "") -> list[dict[str, Any]]:
        """The content blocks of a turn's answer; registers thinking signatures (and the model
        that wrote them)."""
        with self._lock:
            st = self._state
            blocks: list[dict[str, Any]] = []
            sig: str | None = None
            if "thinking" in turn:
                text = str(turn["thinking"])
                sig = _signature(f"{st.counter}:{text}")
                st.signatures[sig] = text
                st.thinking_models[sig] = model
                blocks.append({"type": "thinking", "thinking": text, "signature": sig})
            if "text" in turn:
                blocks.append({"type": "text", "text": str(turn["text"]), "citations": None})
            calls: list[dict[str, Any]] = []
            if "tool" in turn:
                calls.append(
                    {"name": turn["tool"], "input": turn.get("input", {}), "id": turn.get("id")}
                )
            calls.extend(turn.get("tools") or [])
            for call in calls:
                st.counter += 1
                tool_id = call.get("id") or f"toolu_scripted_{st.counter:04d}"
                if sig:
                    st.thinking_by_tool_id[tool_id] = sig
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": call["name"],
                        "input": call.get("input", {}),
                    }
                )
            st.counter += 1
            return blocks

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


def _expect_problems(expect: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """Every way `body` misses the turn's expectations, in words."""
    problems: list[str] = []
    offered = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
    for name in expect.get("tools") or []:
        if name not in offered:
            problems.append(f"tool {name!r} not offered (offered: {offered})")
    if expect.get("no_tools") and offered:
        problems.append(f"expected no tools, got {offered}")
    text = _text_of(body)
    for needle in expect.get("contains") or []:
        if needle not in text:
            problems.append(f"prompt does not contain {needle!r}")
    raw = _canon(body)
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
                _text_of({"messages": [{"content": r.get("content")}]}) for r in results
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


def _chunks(s: str, parts: int) -> list[str]:
    """Split `s` into about `parts` pieces (at least one, never empty pieces)."""
    if not s:
        return [""]
    size = max(1, math.ceil(len(s) / parts))
    return [s[i : i + size] for i in range(0, len(s), size)]


def _sse_events(
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


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler; `owner` is set on a per-server subclass."""

    owner: ScriptedServer
    protocol_version = "HTTP/1.1"
    server_version = "planfirst-scripted/1"

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: tests and the LSP server own stdout/stderr.
        return

    def do_GET(self) -> None:
        """The Models API: `GET /v1/models/{id}` (404 for a model the table does not hold)."""
        path = self.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner = self.owner
        owner._record_side("GET", path, headers, {})
        if path.startswith("/v1/models/") and owner.models_api:
            name = urllib.parse.unquote(path.removeprefix("/v1/models/"))
            info = owner.model_info(name)
            if info is None:
                self._send_json(404, _error_body("not_found_error", f"model: {name}"))
            else:
                self._send_json(200, info)
            return
        self._send_json(404, _error_body("not_found_error", f"no route GET {path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        counting = self.owner.count_tokens and path == "/v1/messages/count_tokens"
        if path == "/v1/messages/count_tokens" and not counting:
            self.owner._record_side("POST", path, {}, {})
        if path != "/v1/messages" and not counting:
            self._send_json(404, _error_body("not_found_error", f"no route POST {path}"))
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as e:
            self._send_json(400, _error_body("invalid_request_error", f"invalid JSON body: {e}"))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner = self.owner
        if path == "/v1/messages/count_tokens":
            owner._record_side("POST", path, headers, body)
            name = str(body.get("model", ""))
            if owner.model_info(name) is None:
                self._send_json(404, _error_body("not_found_error", f"model: {name}"))
                return
            chars = sum(len(t) for t, _ in _prefix_units(body))
            self._send_json(200, {"input_tokens": _tokens(chars)})
            return
        try:
            number, turn, usage = owner._take_turn(headers, body)
        except _Reject as r:
            self._send_json(r.status, _error_body(r.error_type, r.message))
            return
        try:
            self._answer(number, turn, usage, body)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            # The client gave up (deadline, cancel): nothing left to answer.
            self.close_connection = True

    def _answer(
        self, number: int, turn: dict[str, Any], usage: dict[str, int], body: dict[str, Any]
    ) -> None:
        owner = self.owner
        owner._sleep(float(turn.get("delay") or 0))
        fault = turn.get("fault")
        if isinstance(fault, dict):
            status = int(fault["status"])
            err_type = str(fault.get("type") or _STATUS_ERROR_TYPES.get(status, "api_error"))
            text = str(fault.get("message") or f"scripted fault {status} (turn {number})")
            extra: dict[str, str] = {
                str(k): str(v) for k, v in (fault.get("headers") or {}).items()
            }
            if "retry_after" in fault:
                extra["retry-after"] = str(fault["retry_after"])
            if "retry_after_ms" in fault:
                extra["retry-after-ms"] = str(fault["retry_after_ms"])
            self._send_json(status, _error_body(err_type, text, fault.get("error_code")), extra)
            return
        blocks = owner._build_content(turn, str(body.get("model", "")))
        if fault in ("stream_cut", "stream_error") and not blocks:
            blocks = [{"type": "text", "text": "This answer is interrupted midway through."}]
        stop_reason = turn.get("stop_reason") or (
            "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        )
        truncate = stop_reason == "max_tokens"
        out_chars = len(_canon(blocks))
        usage = {**usage, "output_tokens": _tokens(out_chars)}
        usage.update({k: int(v) for k, v in (turn.get("usage") or {}).items()})
        message = {
            "id": f"msg_scripted_{number:04d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
        }
        if not body.get("stream"):
            content = [dict(b) for b in blocks]
            if truncate and content and content[-1]["type"] == "tool_use":
                content[-1]["input"] = {}
            elif truncate and content and content[-1]["type"] == "text":
                content[-1]["text"] = content[-1]["text"][: max(1, len(content[-1]["text"]) // 2)]
            full = {**message, "content": content, "stop_reason": stop_reason, "usage": usage}
            full["stop_details"] = turn.get("stop_details")
            self._send_json(200, full)
            return
        events = _sse_events(
            message, blocks, stop_reason, usage, truncate, turn.get("stop_details")
        )
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", _request_id())
        self.end_headers()
        pause = float(turn.get("delay_chunks") or 0)
        cut_at = len(events) // 2 if fault in ("stream_cut", "stream_error") else None
        for n, (name, data) in enumerate(events):
            if cut_at is not None and n == cut_at:
                if fault == "stream_cut":
                    # Drop the connection without the terminating chunk: the client sees a
                    # body that ends mid-stream.
                    self.wfile.flush()
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                err = _error_body("overloaded_error", "Overloaded")
                self._write_chunk(f"event: error\ndata: {_canon(err)}\n\n".encode())
                break
            self._write_chunk(f"event: {name}\ndata: {_canon(data)}\n\n".encode())
            owner._sleep(pause)
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_json(
        self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", str(payload.get("request_id") or _request_id()))
        self.send_header("content-length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _error_body(error_type: str, message: str, error_code: str | None = None) -> dict[str, Any]:
    """The API's error body; `error_code` goes to `error.details.error_code` (the SDK's
    `APIStatusError.error_code`)."""
    error: dict[str, Any] = {"type": error_type, "message": message}
    if error_code:
        error["details"] = {"error_code": error_code}
    return {"type": "error", "error": error, "request_id": _request_id()}


def _request_id() -> str:
    return f"req_scripted_{next(_REQUEST_IDS):06d}"


_REQUEST_IDS = itertools.count(1)


def main(argv: Sequence[str] | None = None) -> int:
    """`planfirst scripted-server --script FILE --port N`: serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="planfirst scripted-server",
        description="Serve the Anthropic Messages API on 127.0.0.1 from a script of turns.",
    )
    parser.add_argument(
        "--script", required=True, help="JSON script file (see planfirst.llm.scripted.server)"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--min-cache-tokens",
        type=int,
        default=None,
        help="override the model's minimum cacheable prefix (tokens)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        server = ScriptedServer(args.script, port=args.port, min_cache_tokens=args.min_cache_tokens)
    except ScriptError as e:
        print(f"planfirst scripted-server: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()
    # The handler is in place before the address is printed: a client that reads the address
    # and stops the server at once must get a clean exit, not a death by SIGTERM.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print(server.base_url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for failure in server.failures:
            print(f"failure: {failure}", file=sys.stderr)
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
