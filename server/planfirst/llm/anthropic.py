"""The Anthropic implementation of the Model protocol: official SDK, streaming, tool loop.

One retry layer only: the SDK client runs with `max_retries=0` and this module retries 429 (not
spend limits), 529, 5xx, timeouts, connection errors, error events inside a stream and streams
cut midway, with exponential backoff and jitter, honouring `retry-after` up to a cap, all under
`planfirst.anthropic.deadline` per model call. Structured output is a custom "submit" tool whose
input is validated into the request's pydantic schema; invalid input is re-asked with the
validation errors (bounded), truncated input (`stop_reason: max_tokens`) is never accepted.

Prompt layout for caching: tools (sorted by name) → system (breakpoint) → first user message:
the stable blocks (breakpoint after the last) then the instruction. In a tool loop a third
breakpoint moves to the newest tool result so each turn reads the conversation so far from cache.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
from pydantic import BaseModel, ValidationError

from planfirst.llm.catalog import ModelInfo, cost, lookup, unknown_note
from planfirst.llm.model import (
    ModelError,
    ModelEvents,
    ModelRequest,
    ModelRun,
    NullEvents,
    SubmitSpec,
    ToolHandler,
)
from planfirst.plan.model import Usage
from planfirst.settings import Settings

log = logging.getLogger(__name__)

_EPHEMERAL = {"type": "ephemeral"}
_SPEND_WORDS = ("spend", "credit", "billing", "usage limit", "quota")
_KEY_HELP = (
    "set the ANTHROPIC_API_KEY environment variable for the editor (or the shell running "
    "planfirst), or the planfirst.anthropic.apiKey setting in your editor's user settings"
)


class _StreamCut(Exception):
    """The SSE stream ended before `message_stop`."""


class _Failure:
    """One failed attempt, classified."""

    def __init__(
        self,
        kind: str,
        summary: str,
        retryable: bool,
        detail: str = "",
        retry_after: float | None = None,
        hint: str = "",
    ) -> None:
        self.kind = kind
        self.summary = summary  # e.g. "overloaded (529)"
        self.retryable = retryable
        self.detail = detail  # the API's own message, if any
        self.retry_after = retry_after
        self.hint = hint  # what the user can do


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify(exc: BaseException) -> _Failure:
    """Turn an SDK or transport exception into a classified failure."""
    if isinstance(exc, _StreamCut):
        return _Failure("connection", "response stream cut midway", True, str(exc))
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        etype = exc.type or ""
        detail = exc.api_message or ""
        ra = _retry_after(getattr(exc.response, "headers", None))
        if status < 400:
            # An `event: error` inside a stream that began with HTTP 200.
            if etype == "overloaded_error":
                return _Failure(
                    "overloaded", "overloaded (error event in the stream)", True, detail
                )
            if etype in ("api_error", "rate_limit_error", "timeout_error"):
                return _Failure("server", f"{etype} (error event in the stream)", True, detail)
            return _Failure(
                "server", f"{etype or 'error'} (error event in the stream)", False, detail
            )
        if status == 429:
            if any(w in detail.lower() for w in _SPEND_WORDS):
                return _Failure(
                    "rate_limit",
                    "spend or credit limit reached (429)",
                    False,
                    detail,
                    hint="raise the limit or add credit in the Anthropic console",
                )
            return _Failure("rate_limit", "rate limited (429)", True, detail, ra)
        if status == 529 or etype == "overloaded_error":
            return _Failure("overloaded", f"overloaded ({status})", True, detail, ra)
        if status == 408:
            return _Failure("timeout", "request timeout (408)", True, detail, ra)
        if status >= 500:
            return _Failure("server", f"server error ({status})", True, detail, ra)
        if status == 401:
            return _Failure(
                "auth",
                "rejected the API key (401)",
                False,
                detail,
                hint=f"check the key: {_KEY_HELP}",
            )
        if status == 403:
            return _Failure(
                "auth",
                "refused permission (403)",
                False,
                detail,
                hint="check the key's workspace and permissions",
            )
        if status == 402:
            return _Failure(
                "rate_limit",
                "requires payment (402)",
                False,
                detail,
                hint="check billing in the Anthropic console",
            )
        if status == 404:
            return _Failure(
                "bad_request",
                "does not know this model or endpoint (404)",
                False,
                detail,
                hint="check planfirst.planningModel / planfirst.executionModel and planfirst.anthropic.baseUrl",
            )
        if status == 413:
            return _Failure(
                "bad_request",
                "refused a request that is too large (413)",
                False,
                detail,
                hint="reduce planfirst.context.tokenBudget",
            )
        return _Failure("bad_request", f"rejected the request ({status})", False, detail)
    if isinstance(exc, anthropic.APITimeoutError):
        return _Failure(
            "timeout", "timed out", True, "no answer within planfirst.anthropic.requestTimeout"
        )
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, httpx2.RemoteProtocolError | httpx2.ReadError):
            return _Failure("connection", "response stream cut midway", True, str(cause))
        return _Failure(
            "connection", "could not be reached (connection error)", True, str(cause or exc)
        )
    if isinstance(exc, httpx2.TransportError):
        return _Failure(
            "connection", "response stream cut midway", True, f"{type(exc).__name__}: {exc}"
        )
    return _Failure("error", f"call failed unexpectedly ({type(exc).__name__})", False, str(exc))


class AnthropicModel:
    """A Model backed by the Anthropic Messages API through the official SDK (streaming)."""

    def __init__(
        self,
        model: str,
        settings: Settings,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        retry_after_cap_s: float = 60.0,
        stream: bool = True,
    ) -> None:
        key = api_key
        if not key and settings.anthropic.api_key is not None:
            key = settings.anthropic.api_key.get_secret_value()
        if not key:
            raise ModelError(f"No Anthropic API key: {_KEY_HELP}.", kind="auth")
        self.name = model
        self.settings = settings
        self.info: ModelInfo = lookup(model, settings.prices)
        self._key = key
        self._base_url = base_url or settings.anthropic.base_url
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._retry_after_cap_s = retry_after_cap_s
        # Streaming is the default (progress, partial plans, no long-request limit); the
        # non-streaming path exists for endpoints that cannot stream.
        self._stream = stream
        # max_retries=0: this class is the only retry layer (RELIABILITY.md case 19).
        self._client = anthropic.AsyncAnthropic(
            api_key=key,
            base_url=self._base_url,
            max_retries=0,
            timeout=settings.anthropic.request_timeout_s,
        )

    def __repr__(self) -> str:
        return f"AnthropicModel({self.name!r}, base_url={self._base_url!r})"

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    # ------------------------------------------------------------------ the run

    async def run(
        self, request: ModelRequest, handler: ToolHandler, events: ModelEvents | None = None
    ) -> ModelRun:
        """Run the tool loop until the submit tool is called validly (or end_turn without one)."""
        ev = events or NullEvents()
        notes: list[str] = []
        note = unknown_note(self.info)
        if note:
            notes.append(note)
        submit = request.submit
        tools = self._tools(request)
        system = (
            [{"type": "text", "text": request.system, "cache_control": dict(_EPHEMERAL)}]
            if request.system
            else []
        )
        first: list[dict[str, Any]] = [
            {"type": "text", "text": block} for block in request.stable_blocks if block
        ]
        if first:
            first[-1]["cache_control"] = dict(_EPHEMERAL)
        if request.instruction or not first:
            first.append({"type": "text", "text": request.instruction or "Begin."})
        messages: list[dict[str, Any]] = [{"role": "user", "content": first}]
        self._note_prefix(tools, request, notes)

        max_tokens = min(self.settings.max_tokens, self.info.max_output_tokens)
        thinking_on = bool(request.thinking and self.settings.thinking.enabled)
        usage = Usage()
        turns = 0
        reasks = 0
        nudged = False
        widened = False
        moving_bp: dict[str, Any] | None = None
        last_errors = ""

        while True:
            if turns >= request.max_turns:
                raise ModelError(
                    f"{self.name} did not finish within {request.max_turns} turns"
                    + (f" without calling {submit.name}" if submit else ""),
                    kind="max_turns",
                )
            params = self._params(messages, system, tools, max_tokens, thinking_on, submit, notes)
            msg = await self._call(params, ev, submit.name if submit else None)
            usage.add(self._usage(msg))
            stop = msg.stop_reason
            if stop == "refusal":
                raise ModelError(
                    f"{self.name} declined to answer (stop_reason: refusal); rephrase the task "
                    "or remove the content it objects to",
                    kind="refusal",
                )
            if stop == "max_tokens":
                # Truncated output is never accepted; widen once, then give up clearly.
                bigger = min(max_tokens * 2, self.info.max_output_tokens)
                if not widened and bigger > max_tokens:
                    widened = True
                    notes.append(
                        f"answer hit max_tokens={max_tokens}; retried once with max_tokens={bigger}"
                    )
                    ev_retry = getattr(ev, "on_retry", None)
                    if ev_retry:
                        _safe(ev_retry, 1, f"output truncated at {max_tokens} tokens", 0.0)
                    max_tokens = bigger
                    continue
                what = "the " + submit.name + " input" if submit else "the answer"
                raise ModelError(
                    f"{self.name} ran out of output tokens (max_tokens={max_tokens}) before "
                    f"finishing {what}; nothing was accepted. Raise planfirst.maxTokens "
                    f"(this model allows up to {self.info.max_output_tokens}) or narrow the task",
                    kind="truncated",
                )
            if stop == "model_context_window_exceeded":
                raise ModelError(
                    f"the prompt and answer exceed {self.name}'s context window; lower "
                    "planfirst.context.tokenBudget or narrow the task",
                    kind="truncated",
                )
            turns += 1
            content = [_block_param(b) for b in msg.content] or [
                {"type": "text", "text": "(no answer)"}
            ]
            messages.append({"role": "assistant", "content": content})
            text = "".join(b.text for b in msg.content if b.type == "text")
            tool_uses = [b for b in msg.content if b.type == "tool_use"]
            if stop == "pause_turn":
                continue
            if not tool_uses:
                if submit is None:
                    return self._done(request, None, text, usage, turns, notes)
                if nudged:
                    raise ModelError(
                        f"{self.name} ended its turn without calling {submit.name}, even after "
                        f"being asked to; it said: {text[:300]!r}",
                        kind="no_submit",
                    )
                nudged = True
                reply: list[dict[str, Any]] = [
                    {
                        "type": "text",
                        "text": f"You ended your turn without calling {submit.name}. Call "
                        f"{submit.name} now with your complete answer; do not answer in text.",
                    }
                ]
            else:
                reply = []
                submitted: BaseModel | None = None
                for tu in tool_uses:
                    tool_input = tu.input if isinstance(tu.input, dict) else {}
                    if submit is not None and tu.name == submit.name:
                        try:
                            submitted = submit.schema.model_validate(tool_input)
                        except ValidationError as e:
                            reasks += 1
                            last_errors = _error_lines(e)
                            if reasks > request.max_reasks:
                                raise ModelError(
                                    f"{self.name}'s {submit.name} output was still invalid after "
                                    f"{request.max_reasks} re-asks: {last_errors}",
                                    kind="invalid_output",
                                ) from None
                            reply.append(
                                {
                                    "type": "tool_result",
                                    "tool_use_id": tu.id,
                                    "is_error": True,
                                    "content": _reask_text(submit.name, e),
                                }
                            )
                            continue
                        reply.append(
                            {"type": "tool_result", "tool_use_id": tu.id, "content": "Accepted."}
                        )
                        continue
                    on_tool = getattr(ev, "on_tool_call", None)
                    if on_tool:
                        _safe(on_tool, tu.name, tool_input)
                    outcome = await handler(tu.name, tool_input)
                    result: dict[str, Any] = {
                        "type": "tool_result",
                        "tool_use_id": tu.id,
                        "content": outcome.text or "(no output)",
                    }
                    if outcome.is_error:
                        result["is_error"] = True
                    reply.append(result)
                if submitted is not None:
                    return self._done(request, submitted, text, usage, turns, notes)
            # Move the conversation breakpoint to the newest block so the next turn reads the
            # whole history from cache (system + stable + this = 3 of the API's 4 breakpoints).
            if moving_bp is not None:
                moving_bp.pop("cache_control", None)
            moving_bp = reply[-1]
            moving_bp["cache_control"] = dict(_EPHEMERAL)
            messages.append({"role": "user", "content": reply})

    # ------------------------------------------------------------------ request pieces

    def _tools(self, request: ModelRequest) -> list[dict[str, Any]]:
        """Tool definitions, sorted by name so the cached prefix is byte-identical."""
        out: list[dict[str, Any]] = []
        for spec in request.tools:
            if spec.anthropic_type:
                out.append({"type": spec.anthropic_type, "name": spec.name})
            else:
                out.append(
                    {
                        "name": spec.name,
                        "description": spec.description,
                        "input_schema": spec.input_schema or {"type": "object", "properties": {}},
                    }
                )
        if request.submit is not None:
            out.append(
                {
                    "name": request.submit.name,
                    "description": request.submit.description,
                    "input_schema": submit_schema(request.submit.schema),
                }
            )
        names = [t["name"] for t in out]
        if len(set(names)) != len(names):
            raise ModelError(
                f"duplicate tool names offered to the model: {sorted(names)}", kind="bad_request"
            )
        return sorted(out, key=lambda t: str(t["name"]))

    def _params(
        self,
        messages: list[dict[str, Any]],
        system: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
        thinking_on: bool,
        submit: SubmitSpec | None,
        notes: list[str],
    ) -> dict[str, Any]:
        """Keyword arguments for `messages.stream`."""
        params: dict[str, Any] = {
            "model": self.name,
            "max_tokens": max_tokens,
            "messages": messages,
        }
        if system:
            params["system"] = system
        thinking = self._thinking(max_tokens, notes) if thinking_on else {}
        params.update(thinking)
        if tools:
            params["tools"] = tools
            # Forced tool use is refused with thinking on; "any" keeps the model on tools
            # when it must submit and thinking is off.
            if thinking:
                params["tool_choice"] = {"type": "auto"}
            elif submit is not None:
                params["tool_choice"] = {"type": "any"}
            else:
                params["tool_choice"] = {"type": "auto"}
        return params

    def _thinking(self, max_tokens: int, notes: list[str]) -> dict[str, Any]:
        """Thinking parameters for this model's style (see catalog.py)."""
        style = self.info.thinking
        if style == "none":
            _note_once(notes, f"{self.name} has no extended thinking; thinking is off")
            return {}
        if style == "adaptive":
            return {
                "thinking": {"type": "adaptive"},
                "output_config": {"effort": self.settings.thinking.effort},
            }
        budget = self.settings.thinking.budget_tokens or max(1024, max_tokens // 2)
        budget = min(budget, max_tokens - 1)
        if budget < 1024:
            _note_once(
                notes,
                f"thinking needs max_tokens above 1024 (got {max_tokens}); thinking is off",
            )
            return {}
        return {"thinking": {"type": "enabled", "budget_tokens": budget}}

    def _note_prefix(
        self, tools: list[dict[str, Any]], request: ModelRequest, notes: list[str]
    ) -> None:
        """Record when the stable prefix is too short for the API to cache it."""
        chars = (
            len(json.dumps(tools))
            + len(request.system)
            + sum(len(b) for b in request.stable_blocks)
        )
        estimate = chars // 4
        if estimate < self.info.min_cache_tokens:
            notes.append(
                f"prompt prefix is about {estimate} tokens, below {self.name}'s minimum cacheable "
                f"length of {self.info.min_cache_tokens}; it is not cached (full input price each call)"
            )

    def prompt_hash(self, request: ModelRequest) -> str:
        """sha256 of the stable prefix: model, system, stable blocks and tool names."""
        names = sorted(
            [t.name for t in request.tools] + ([request.submit.name] if request.submit else [])
        )
        canon = json.dumps(
            {
                "model": self.name,
                "system": request.system,
                "stable_blocks": request.stable_blocks,
                "tools": names,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canon.encode()).hexdigest()

    def _usage(self, msg: Any) -> Usage:
        u = msg.usage
        usage = Usage(
            input_tokens=u.input_tokens or 0,
            output_tokens=u.output_tokens or 0,
            cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
            cache_read_input_tokens=u.cache_read_input_tokens or 0,
            calls=1,
        )
        usage.cost_usd = cost(self.name, usage, self.settings.prices)
        return usage

    def _done(
        self,
        request: ModelRequest,
        submitted: BaseModel | None,
        text: str,
        usage: Usage,
        turns: int,
        notes: list[str],
    ) -> ModelRun:
        return ModelRun(
            model=self.name,
            submitted=submitted,
            final_text=text,
            usage=usage,
            turns=turns,
            prompt_hash=self.prompt_hash(request),
            notes=notes,
        )

    # ------------------------------------------------------------------ one call, retried

    async def _call(self, params: dict[str, Any], ev: ModelEvents, submit_name: str | None) -> Any:
        """One Messages call with retries under the overall deadline."""
        cfg = self.settings.anthropic
        deadline = cfg.deadline_s
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempts = 0
        last: _Failure | None = None
        try:
            async with asyncio.timeout(deadline):
                while True:
                    attempts += 1
                    try:
                        if not self._stream:
                            return await self._client.messages.create(**params)
                        return await self._stream_once(params, ev, submit_name)
                    except (anthropic.AnthropicError, httpx2.TransportError, _StreamCut) as exc:
                        failure = classify(exc)
                    except ValueError as exc:
                        # The SDK raises ValueError for tool JSON it cannot parse: a garbled stream.
                        failure = _Failure("connection", "response stream garbled", True, str(exc))
                    last = failure
                    elapsed = loop.time() - started
                    if not failure.retryable:
                        raise ModelError(self._final(failure, attempts, elapsed), kind=failure.kind)
                    if attempts > cfg.max_retries:
                        raise ModelError(
                            self._final(failure, attempts, elapsed, exhausted=True),
                            kind=failure.kind,
                            retryable=True,
                        )
                    wait = self._wait(attempts, failure.retry_after)
                    remaining = deadline - elapsed
                    if wait >= remaining:
                        asked = (
                            f"the API asked to wait {failure.retry_after:g} s"
                            if failure.retry_after is not None
                            else f"the next retry would wait {wait:.1f} s"
                        )
                        raise ModelError(
                            self._scrub(
                                f"Anthropic API {failure.summary}: {asked}, beyond the "
                                f"{remaining:.1f} s left of the {deadline:g} s deadline "
                                "(planfirst.anthropic.deadline); try again later"
                            ),
                            kind="deadline",
                            retryable=True,
                        )
                    log.info(
                        "model call attempt %d failed (%s); retrying in %.2f s",
                        attempts,
                        failure.summary,
                        wait,
                    )
                    on_retry = getattr(ev, "on_retry", None)
                    if on_retry:
                        _safe(on_retry, attempts, failure.summary, wait)
                    await asyncio.sleep(wait)
        except TimeoutError:
            what = f"; last problem: {last.summary}" if last else ""
            raise ModelError(
                f"Anthropic API call exceeded the {deadline:g} s deadline "
                f"(planfirst.anthropic.deadline) after {attempts} attempt(s){what}; try again later",
                kind="deadline",
                retryable=True,
            ) from None

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        """Backoff before retry `attempt`: the server's retry-after (capped) or exp. + jitter."""
        if retry_after is not None:
            return min(retry_after, self._retry_after_cap_s)
        base = min(self._backoff_base_s * 2 ** (attempt - 1), self._backoff_max_s)
        return base * random.uniform(0.5, 1.0)

    def _final(self, f: _Failure, attempts: int, elapsed: float, exhausted: bool = False) -> str:
        """The one message a failure becomes."""
        if exhausted:
            msg = (
                f"Anthropic API {f.summary} after {attempts} attempts over {elapsed:.0f} s; "
                "try again later"
            )
        else:
            msg = f"Anthropic API {f.summary}"
        if f.detail:
            msg += f" — {f.detail[:400]}"
        if f.hint:
            msg += f" ({f.hint})"
        return self._scrub(msg)

    def _scrub(self, text: str) -> str:
        """Never let the key into a message, whatever an endpoint echoes back."""
        if len(self._key) >= 8:
            text = text.replace(self._key, "[redacted]")
        return text

    async def _stream_once(
        self, params: dict[str, Any], ev: ModelEvents, submit_name: str | None
    ) -> Any:
        """One streamed attempt; events go to the callbacks; a cut stream raises _StreamCut."""
        on_text = getattr(ev, "on_text", None)
        on_thinking = getattr(ev, "on_thinking", None)
        on_partial = getattr(ev, "on_partial_submit", None)
        tool_names: dict[int, str] = {}
        current = -1
        saw_stop = False
        async with self._client.messages.stream(**params) as stream:
            async for raw_event in stream:
                # The SDK's event union does not narrow on `.type`; the fields used below are
                # the documented ones for each event type.
                event: Any = raw_event
                kind = event.type
                if kind == "content_block_start":
                    current = event.index
                    if event.content_block.type == "tool_use":
                        tool_names[current] = event.content_block.name
                elif kind == "content_block_delta":
                    current = event.index
                elif kind == "text":
                    if on_text:
                        _safe(on_text, event.text)
                elif kind == "thinking":
                    if on_thinking:
                        _safe(on_thinking, event.thinking)
                elif kind == "input_json":
                    if (
                        on_partial
                        and submit_name is not None
                        and tool_names.get(current) == submit_name
                        and isinstance(event.snapshot, dict)
                    ):
                        _safe(on_partial, event.snapshot)
                elif kind == "message_stop":
                    saw_stop = True
            if not saw_stop:
                raise _StreamCut("the stream ended before message_stop")
            return await stream.get_final_message()


def submit_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema sent for a submit tool ($defs kept; additionalProperties false)."""
    return anthropic.transform_schema(schema)


def _block_param(block: Any) -> dict[str, Any]:
    """An assistant content block as request params, unchanged (thinking signatures kept)."""
    kind = block.type
    if kind == "text":
        return {"type": "text", "text": block.text}
    if kind == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    dumped: dict[str, Any] = block.model_dump(exclude_none=True)
    return dumped


def _error_lines(e: ValidationError) -> str:
    """Validation errors as `location: message` lines joined by '; '."""
    return "; ".join(_error_items(e))


def _error_items(e: ValidationError) -> list[str]:
    items: list[str] = []
    for err in e.errors(include_url=False):
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        items.append(f"{loc}: {msg}")
    return items


def _reask_text(name: str, e: ValidationError) -> str:
    """The tool_result sent back for an invalid submit: what is wrong, in fixable words."""
    lines = "\n".join(f"- {item}" for item in _error_items(e))
    return (
        f"The {name} input is invalid, so nothing was accepted. Fix every error below and call "
        f"{name} again with the complete corrected input (all fields, not only the fixed ones):\n"
        f"{lines}"
    )


def _note_once(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


def _safe(fn: Callable[..., Any], *args: Any) -> None:
    """Call an event callback; a failing callback is logged, never fatal to the run."""
    try:
        fn(*args)
    except Exception:
        log.exception("model event callback %s failed", getattr(fn, "__name__", fn))
