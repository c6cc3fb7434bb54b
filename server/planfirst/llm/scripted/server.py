"""A loopback server speaking the Anthropic Messages API from a script of turns.

The demo, the tests and the benchmarks point the real `AnthropicModel` (official SDK, real HTTP)
at it. It answers `POST /v1/messages`, as JSON or as an SSE stream, one scripted turn per
request, checks each request against the turn's expectations and fails loudly on a mismatch.
It also answers the Models API (`GET /v1/models/{id}`, from the catalogue or the script's
`models` table) and `POST /v1/messages/count_tokens` (the ~4 characters/token estimate); those
consume no turn and are recorded in `.side_requests`.

The script format (a list of turns, or an object with `turns`, `models` and `latency`) is
described and checked in script.py.

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

This module holds the server (its state, what a request is checked against, the turn it
consumes) and `main`; handler.py writes the HTTP answers, wire.py the SSE events and error
bodies, cache.py the token counts and the prompt cache, expect.py a turn's `expect` checks and
script.py the script format.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from planfirst.llm.api_rules import Refusal, check_request
from planfirst.llm.catalog import lookup
from planfirst.llm.facts import model_info_json
from planfirst.llm.model_rules import check_model_rules
from planfirst.llm.scripted import latency as scripted_latency
from planfirst.llm.scripted.cache import PromptCache, prompt_tokens
from planfirst.llm.scripted.cache import strip_cache_control as strip_cache_control
from planfirst.llm.scripted.expect import expect_problems
from planfirst.llm.scripted.handler import Handler
from planfirst.llm.scripted.script import (
    Script,
    ScriptError,
    ScriptSource,
    check_turn,
    expand_model,
    load_models,
    load_script,
)
from planfirst.llm.scripted.wire import Reject


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
    cache: PromptCache = field(default_factory=PromptCache)
    signatures: dict[str, str] = field(default_factory=dict)  # signature -> thinking text
    thinking_by_tool_id: dict[str, str] = field(default_factory=dict)  # tool id -> signature
    thinking_models: dict[str, str] = field(default_factory=dict)  # signature -> model
    counter: int = 0
    side_requests: list[RecordedRequest] = field(default_factory=list)


def _signature(text: str) -> str:
    return "sig-" + hashlib.sha256(text.encode()).hexdigest()[:32]


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
        latency: scripted_latency.LatencyPlan | None = None,
    ) -> None:
        # models_api / count_tokens False: those endpoints answer 404 like a proxy without them.
        self.models_api = models_api
        self.count_tokens = count_tokens
        self._state = _State(turns=load_script(script))
        # realistic latency (llm/scripted/latency.py): the argument, else the script's `latency`
        self.latency = latency or scripted_latency.load(script)
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

        class Bound(Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Bound)
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

    def record_side(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
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

    def take_turn(
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
                    raise Reject(
                        self._mismatch_status,
                        f"scripted server: request {len(st.requests)} arrived after the script "
                        f"ran out ({len(st.turns)} turns)",
                        "api_error",
                    )
                turn = st.turns[st.index]
                problems = expect_problems(turn.get("expect") or {}, body)
                if problems:
                    raise Reject(
                        self._mismatch_status,
                        f"scripted server: turn {st.index + 1} expectation failed: "
                        + "; ".join(problems),
                        "api_error",
                    )
            except Reject as r:
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
            raise Reject(404, f"model: {name}", "not_found_error")
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
            raise Reject(r.status, r.message, r.error_type) from None
        window = info.get("max_input_tokens")
        tokens = prompt_tokens(body)
        if isinstance(window, int) and tokens > window:
            raise Reject(
                400,
                f"prompt is too long: {tokens} tokens > {window} maximum",
                "invalid_request_error",
            )

    def _usage_in(self, body: dict[str, Any]) -> dict[str, int]:
        """Input-side usage of `body`, updating the simulated cache (lock held)."""
        min_cache = self._min_cache_tokens
        if min_cache is None:
            min_cache = lookup(str(body.get("model", ""))).min_cache_tokens
        return self._state.cache.usage_in(body, min_cache)

    def build_content(self, turn: dict[str, Any], model: str = "") -> list[dict[str, Any]]:
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

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """`planfirst scripted-server --script FILE --port N`: serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="planfirst scripted-server",
        description="Serve the Anthropic Messages API on 127.0.0.1 from a script of turns.",
    )
    parser.add_argument(
        "--script", required=True, help="JSON script file (see planfirst.llm.scripted.script)"
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
    except (ScriptError, scripted_latency.LatencyError) as e:
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
