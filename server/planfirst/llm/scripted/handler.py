"""The scripted server's HTTP endpoints: `POST /v1/messages` (a whole message or an SSE
stream, faults included), the Models API (`GET /v1/models/{id}`) and
`POST /v1/messages/count_tokens`. What a request gets is the owner's (server.py): it checks the
request, consumes its turn and builds the answer's blocks; this module only writes them."""

from __future__ import annotations

import json
import socket
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from planfirst.llm.scripted import latency as scripted_latency
from planfirst.llm.scripted import wire
from planfirst.llm.scripted.cache import canon, prompt_tokens, tokens


class Owner(Protocol):
    """What the handler asks of the scripted server that owns it."""

    models_api: bool
    count_tokens: bool
    latency: scripted_latency.LatencyPlan | None

    def model_info(self, model: str) -> dict[str, Any] | None: ...
    def record_side(self, method: str, path: str, headers: dict[str, str], body: Any) -> None: ...
    def take_turn(
        self, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, int]]: ...
    def build_content(self, turn: dict[str, Any], model: str = "") -> list[dict[str, Any]]: ...
    def sleep(self, seconds: float) -> None: ...


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler; `owner` is set on a per-server subclass."""

    owner: Owner
    protocol_version = "HTTP/1.1"
    server_version = "planfirst-scripted/1"
    # TCP_NODELAY, as the Messages API's servers send: with Nagle's algorithm each event written
    # after the first waited for the client's delayed ACK, ~40 ms per streamed answer on
    # loopback — every "zero-latency" request carried 40 ms the real API does not (#32)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: tests and the LSP server own stdout/stderr.
        return

    def do_GET(self) -> None:
        """The Models API: `GET /v1/models/{id}` (404 for a model the table does not hold)."""
        path = self.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner = self.owner
        owner.record_side("GET", path, headers, {})
        if path.startswith("/v1/models/") and owner.models_api:
            name = urllib.parse.unquote(path.removeprefix("/v1/models/"))
            info = owner.model_info(name)
            if info is None:
                self._send_json(404, wire.error_body("not_found_error", f"model: {name}"))
            else:
                self._send_json(200, info)
            return
        self._send_json(404, wire.error_body("not_found_error", f"no route GET {path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        counting = self.owner.count_tokens and path == "/v1/messages/count_tokens"
        if path == "/v1/messages/count_tokens" and not counting:
            self.owner.record_side("POST", path, {}, {})
        if path != "/v1/messages" and not counting:
            self._send_json(404, wire.error_body("not_found_error", f"no route POST {path}"))
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as e:
            self._send_json(
                400, wire.error_body("invalid_request_error", f"invalid JSON body: {e}")
            )
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner = self.owner
        if path == "/v1/messages/count_tokens":
            owner.record_side("POST", path, headers, body)
            name = str(body.get("model", ""))
            if owner.model_info(name) is None:
                self._send_json(404, wire.error_body("not_found_error", f"model: {name}"))
                return
            self._send_json(200, {"input_tokens": prompt_tokens(body)})
            return
        try:
            number, turn, usage = owner.take_turn(headers, body)
        except wire.Reject as r:
            self._send_json(r.status, wire.error_body(r.error_type, r.message))
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
        owner.sleep(float(turn.get("delay") or 0))
        fault = turn.get("fault")
        if isinstance(fault, dict):
            status = int(fault["status"])
            err_type = str(fault.get("type") or wire.STATUS_ERROR_TYPES.get(status, "api_error"))
            text = str(fault.get("message") or f"scripted fault {status} (turn {number})")
            extra: dict[str, str] = {
                str(k): str(v) for k, v in (fault.get("headers") or {}).items()
            }
            if "retry_after" in fault:
                extra["retry-after"] = str(fault["retry_after"])
            if "retry_after_ms" in fault:
                extra["retry-after-ms"] = str(fault["retry_after_ms"])
            self._send_json(status, wire.error_body(err_type, text, fault.get("error_code")), extra)
            return
        blocks = owner.build_content(turn, str(body.get("model", "")))
        if fault in ("stream_cut", "stream_error") and not blocks:
            blocks = [{"type": "text", "text": "This answer is interrupted midway through."}]
        stop_reason = turn.get("stop_reason") or (
            "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        )
        truncate = stop_reason == "max_tokens"
        out_chars = len(canon(blocks))
        usage = {**usage, "output_tokens": tokens(out_chars)}
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
            owner.sleep(scripted_latency.whole_answer(owner.latency, body, usage))
            self._send_json(200, full)
            return
        events = wire.sse_events(
            message, blocks, stop_reason, usage, truncate, turn.get("stop_details")
        )
        first, per_event = scripted_latency.stream(owner.latency, body, usage, len(events))
        owner.sleep(first)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", wire.request_id())
        self.end_headers()
        pause = float(turn.get("delay_chunks") or 0) + per_event
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
                err = wire.error_body("overloaded_error", "Overloaded")
                self._write_chunk(f"event: error\ndata: {canon(err)}\n\n".encode())
                break
            self._write_chunk(f"event: {name}\ndata: {canon(data)}\n\n".encode())
            owner.sleep(pause)
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
        self.send_header("request-id", str(payload.get("request_id") or wire.request_id()))
        self.send_header("content-length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
