"""The Anthropic implementation of the Model protocol: official SDK, streaming, tool loop.

One retry layer only: the SDK client runs with `max_retries=0` and this module applies the SDK's
own rules (`x-should-retry` first; then 408, 409, 429, 5xx/529, timeouts, connection errors,
error events inside a stream and streams cut midway), with exponential backoff and jitter,
honouring `retry-after` as asked when it fits `planfirst.anthropic.deadline` (the wait is shown),
never retrying a spend limit (by the SDK's `error_code`). Every error names the `request-id`.

Before the first call the model's facts come from the Models API (llm/facts.py); parameters are
chosen from them (thinking type, effort, forced tool_choice only where allowed, `strict` submit
tool, the interleaved-thinking beta only for budget thinking with tools), and each request is
checked against the context window (llm/window.py) before it is sent.

Structured output is a custom "submit" tool whose input is validated into the request's pydantic
schema; invalid input is re-asked with the validation errors (bounded), truncated input
(`stop_reason: max_tokens`) is never accepted.

Prompt layout for caching: tools (sorted by name) → system (breakpoint) → first user message:
the stable blocks (breakpoint after the last) then the instruction. In a tool loop a third
breakpoint moves to the newest tool result so each turn reads the conversation so far from cache.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
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

from planfirst.llm import window as window_mod
from planfirst.llm.catalog import (
    DEFAULT_EXECUTION_MODEL,
    DEFAULT_PLANNING_MODEL,
    ModelInfo,
    cost,
    lookup,
    newest_models,
    unknown_note,
)
from planfirst.llm.facts import (
    EFFORT_LEVELS,
    FactsCache,
    ModelFacts,
    facts_from_api,
    facts_from_catalog,
    lifecycle_problem,
)
from planfirst.llm.model import (
    METER,
    ModelError,
    ModelEvents,
    ModelRequest,
    ModelRun,
    NullEvents,
    RequestQuote,
    SubmitSpec,
    ToolHandler,
)
from planfirst.plan.model import Usage
from planfirst.settings import Settings

log = logging.getLogger(__name__)

_EPHEMERAL = {"type": "ephemeral"}
INTERLEAVED_THINKING_BETA = "interleaved-thinking-2025-05-14"
_KEY_HELP = (
    "set the ANTHROPIC_API_KEY environment variable for the editor (or the shell running "
    "planfirst), or the planfirst.anthropic.apiKey setting in your editor's user settings"
)


class _StreamCut(Exception):
    """The SSE stream ended before `message_stop`."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


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
        request_id: str | None = None,
    ) -> None:
        self.kind = kind
        self.summary = summary  # e.g. "overloaded (529)"
        self.retryable = retryable
        self.detail = detail  # the API's own message, if any
        self.retry_after = retry_after
        self.hint = hint  # what the user can do
        self.request_id = request_id  # the API's request-id, for support


# Spend limits, by the stable `error.details.error_code` the SDK exposes as `error_code` (the
# message wording changes; never match on it). Waiting does not lift them: never retried.
SPEND_LIMIT_CODES = {
    "enforced_spend_limit_reached": "the organization reached the monthly usage limit of its API tier",
    "contract_spend_limit_reached": "the organization reached its contract spend limit",
    "linked_organization_spend_limit_reached": (
        "the linked organization reached a spend limit it set, or lacks credit"
    ),
}


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
    """Turn an SDK or transport exception into a classified failure (the SDK's retry rules:
    `x-should-retry` first, then 408, 409, 429 and 5xx; spend limits by error code, never)."""
    if isinstance(exc, _StreamCut):
        return _Failure(
            "connection", "response stream cut midway", True, str(exc), request_id=exc.request_id
        )
    if isinstance(exc, anthropic.APIStatusError):
        failure = _status_failure(exc)
        failure.request_id = exc.request_id
        headers = getattr(exc.response, "headers", None)
        should = (headers.get("x-should-retry") if headers is not None else None) or ""
        if failure.kind != "spend_limit" and should.lower() in ("true", "false"):
            # The API's own verdict overrides the status code (the SDK obeys it first).
            wanted = should.lower() == "true"
            if wanted != failure.retryable:
                failure.retryable = wanted
                failure.summary += (
                    "; the API asked to retry" if wanted else "; the API said not to retry"
                )
        return failure
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


def _status_failure(exc: Any) -> _Failure:
    """A status error by code and status, before `x-should-retry` is applied."""
    status = exc.status_code
    etype = exc.type or ""
    detail = exc.api_message or ""
    code = exc.error_code or ""
    ra = _retry_after(getattr(exc.response, "headers", None))
    if code in SPEND_LIMIT_CODES:
        return _Failure(
            "spend_limit",
            f"spend limit reached ({status} {code}): {SPEND_LIMIT_CODES[code]}",
            False,
            detail,
            hint="raise the limit or add credit in the Anthropic console; waiting does not help",
        )
    if status < 400:
        # An `event: error` inside a stream that began with HTTP 200.
        if etype == "overloaded_error":
            return _Failure("overloaded", "overloaded (error event in the stream)", True, detail)
        if etype in ("api_error", "rate_limit_error", "timeout_error"):
            return _Failure("server", f"{etype} (error event in the stream)", True, detail)
        return _Failure("server", f"{etype or 'error'} (error event in the stream)", False, detail)
    if status == 429:
        return _Failure("rate_limit", "rate limited (429)", True, detail, ra)
    if status == 529 or etype == "overloaded_error":
        return _Failure("overloaded", f"overloaded ({status})", True, detail, ra)
    if status == 408:
        return _Failure("timeout", "request timeout (408)", True, detail, ra)
    if status == 409:
        return _Failure("conflict", "conflict (409)", True, detail, ra)
    if status >= 500:
        return _Failure("server", f"server error ({status})", True, detail, ra)
    if status == 401:
        return _Failure(
            "auth", "rejected the API key (401)", False, detail, hint=f"check the key: {_KEY_HELP}"
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
        # a billing problem (no credit, a payment method refused), not a rate limit: waiting
        # does not help
        return _Failure(
            "billing",
            "refused the request: a billing problem (402 payment required)",
            False,
            detail,
            hint="add credit or fix the payment method in the Anthropic console (Billing)",
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
    if status == 400 and "prompt is too long" in detail:
        return _Failure(
            "too_big",
            "refused a prompt longer than the model's context window (400)",
            False,
            detail,
            hint="lower planfirst.context.tokenBudget or narrow the step's files",
        )
    return _Failure("bad_request", f"rejected the request ({status})", False, detail)


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
        stream: bool = True,
        facts_cache: FactsCache | None = None,
        warn: Callable[[str], None] | None = None,
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
        # Model facts: the Models API once per model (and the disk cache), else the catalogue.
        self._facts_cache = facts_cache
        self._facts: ModelFacts | None = None
        self._facts_notes: list[str] = []
        self._warn = warn
        self._count_api = True  # messages.count_tokens answers (until it 404s)
        self._request_id: str | None = None  # of the last answer, for error messages
        # Streaming is the default (progress, partial plans, no long-request limit); the
        # non-streaming path exists for endpoints that cannot stream.
        self._stream = stream
        # max_retries=0: this class is the only retry layer (docs/reliability.md case 19).
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
        """Run the tool loop until the submit tool is called validly (or end_turn without one).
        A failure carries what the answered requests had cost (`ModelError.usage`)."""
        usage = Usage()
        try:
            return await self._run(request, handler, events, usage)
        except ModelError as e:
            if e.usage is None and usage.calls:
                e.usage = usage
            raise

    async def _run(
        self,
        request: ModelRequest,
        handler: ToolHandler,
        events: ModelEvents | None,
        usage: Usage,
    ) -> ModelRun:
        ev = events or NullEvents()
        facts = await self.facts()
        notes: list[str] = list(self._facts_notes)
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

        max_tokens = min(self.settings.max_tokens, facts.max_tokens)
        thinking_on = bool(request.thinking and self.settings.thinking.on_for(request.purpose))
        turns = 0
        reasks = 0
        nudged = False
        widened = False
        moving_bp: dict[str, Any] | None = None
        if request.purpose == "execute" and request.instruction:
            # an execution always takes a second request (after the edit tool's results): a
            # breakpoint after the step's files lets it read them from the cache (3 of 4)
            moving_bp = first[-1]
            moving_bp["cache_control"] = dict(_EPHEMERAL)
        last_errors = ""

        meter = METER.get()

        def check_budget(params: dict[str, Any]) -> None:
            # Before every attempt (a retry re-sends the whole prompt): a budget cap may
            # stop here, before anything is spent, or lower max_tokens so that the whole
            # answer fits what the cap has left (docs/reliability.md case 41).
            if meter is None:
                return
            budget = (params.get("thinking") or {}).get("budget_tokens")
            allowed = meter.before_request(
                RequestQuote(
                    self.name,
                    request.purpose,
                    window_mod.request_estimate(params),
                    int(params["max_tokens"]),
                    min_tokens=(budget + 1024) if budget else 1024,
                )
            )
            if allowed is not None and allowed < params["max_tokens"]:
                params["max_tokens"] = allowed
                _note_once(
                    notes,
                    f"max_tokens lowered to {allowed} so the whole answer stays within the "
                    "budget cap",
                )

        def spend(answered: Usage) -> None:
            usage.add(answered)
            if meter is not None:
                _safe(meter.after_response, self.name, answered)

        while True:
            if turns >= request.max_turns:
                raise ModelError(
                    self._with_id(
                        f"{self.name} did not finish within {request.max_turns} turns"
                        + (f" without calling {submit.name}" if submit else "")
                    ),
                    kind="max_turns",
                )
            params = self._params(
                messages, system, tools, max_tokens, thinking_on, submit, notes, request.purpose
            )
            await self._fit(params, request.purpose, notes)
            msg = await self._call(
                params,
                ev,
                submit.name if submit else None,
                check=functools.partial(check_budget, params),
                spend=spend,
            )
            spend(self._usage(msg))
            stop = msg.stop_reason
            if stop == "refusal":
                raise self._refusal(msg, request.purpose)
            if stop == "max_tokens":
                # Truncated output is never accepted; widen once, then give up clearly.
                bigger = min(max_tokens * 2, facts.max_tokens)
                # not when the window or a budget cap lowered it: a wider request would be
                # lowered again
                lowered = int(params["max_tokens"]) < max_tokens
                if not widened and bigger > max_tokens and not lowered:
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
                sent = int(params["max_tokens"])
                fix = (
                    f"Raise planfirst.maxTokens (this model allows up to {facts.max_tokens})"
                    if sent >= max_tokens
                    else "The budget cap lowered it: raise the cap (planfirst.budget.*)"
                )
                raise ModelError(
                    self._with_id(
                        f"{self.name} ran out of output tokens (max_tokens={sent}) before "
                        f"finishing {what}; nothing was accepted. {fix} or narrow the task"
                    ),
                    kind="truncated",
                )
            if stop == "model_context_window_exceeded":
                raise ModelError(
                    self._with_id(
                        f"the prompt and answer exceed {self.name}'s context window of "
                        f"{facts.max_input_tokens:,} tokens; lower planfirst.context.tokenBudget "
                        "or narrow the task"
                    ),
                    kind="too_big",
                )
            turns += 1
            content = replay_blocks(msg.content) or [{"type": "text", "text": "(no answer)"}]
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
                        self._with_id(
                            f"{self.name} ended its turn without calling {submit.name}, even "
                            f"after being asked to; it said: {text[:300]!r}"
                        ),
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
                                    self._with_id(
                                        f"{self.name}'s {submit.name} output was still invalid "
                                        f"after {request.max_reasks} re-asks: {last_errors}"
                                    ),
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

    # ------------------------------------------------------------------ model facts

    async def facts(self) -> ModelFacts:
        """What this model accepts: the Models API once (then the disk cache), else the catalogue.

        A retired model is refused here, before any Messages call; a deprecated one is warned
        about (notes, the log and the `warn` callback)."""
        if self._facts is None:
            facts, notes = await self._resolve_facts()
            error, warning = lifecycle_problem(facts)
            if error:
                raise ModelError(error, kind="bad_request")
            if warning:
                notes.append(warning)
                log.warning("%s", warning)
                if self._warn is not None:
                    _safe(self._warn, warning)
            self._facts, self._facts_notes = facts, notes
        return self._facts

    async def _resolve_facts(self) -> tuple[ModelFacts, list[str]]:
        cache = self._facts_cache
        key = FactsCache.key(self._base_url, self.name)
        cached = cache.get(key) if cache is not None else None
        if cached is not None:
            return facts_from_api(cached, self.info, "cache"), []
        try:
            async with asyncio.timeout(min(30.0, self.settings.anthropic.deadline_s)):
                answer = await self._client.with_options(max_retries=1).models.retrieve(self.name)
        except anthropic.NotFoundError as e:
            if self.info.known:
                # A proxy without the Models API, or an id the API no longer lists.
                note = (
                    f"the Models API did not answer for {self.name} (404); its facts come from "
                    "planfirst's catalogue"
                )
                return facts_from_catalog(self.info), [note]
            raise ModelError(
                self._scrub(
                    f"the Anthropic API does not know the model {self.name!r} (404 from the Models "
                    f"API{_rid(e.request_id)}). Choose a current model such as "
                    f"{DEFAULT_PLANNING_MODEL!r} for planning or {DEFAULT_EXECUTION_MODEL!r} for "
                    "execution (planfirst.planningModel / planfirst.executionModel)"
                ),
                kind="bad_request",
            ) from None
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as e:
            raise ModelError(self._final(classify(e), 1, 0.0), kind="auth") from None
        except (anthropic.AnthropicError, httpx2.TransportError, TimeoutError) as e:
            what = classify(e).summary if not isinstance(e, TimeoutError) else "timed out"
            note = (
                f"the Models API could not be reached ({what}); {self.name}'s facts come from "
                "planfirst's catalogue"
            )
            log.warning("%s", note)
            return facts_from_catalog(self.info), [note]
        data = answer.model_dump(mode="json")
        if cache is not None:
            cache.put(key, data)
        return facts_from_api(data, self.info, "Models API"), []

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
            submit_tool: dict[str, Any] = {
                "name": request.submit.name,
                "description": request.submit.description,
                "input_schema": submit_schema(request.submit.schema),
            }
            if self._facts is not None and self._facts.strict_tools:
                # Schema-exact input where the model supports it: fewer re-asks.
                submit_tool["strict"] = True
            out.append(submit_tool)
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
        purpose: str = "plan",
    ) -> dict[str, Any]:
        """Keyword arguments for `messages.stream`, valid for this model's facts."""
        facts = self._facts or facts_from_catalog(self.info)
        params: dict[str, Any] = {
            "model": self.name,
            "max_tokens": max_tokens,
            "messages": messages,
        }
        if system:
            params["system"] = system
        effort = self.settings.thinking.effort_for(purpose)
        if thinking_on:
            thinking = self._thinking(max_tokens, effort, notes)
        else:
            thinking = self._thinking_off(facts, effort, notes)
        params.update(thinking)
        ttype = thinking.get("thinking", {}).get("type")
        thinks = facts.always_thinks or ttype in ("adaptive", "enabled")
        if tools:
            params["tools"] = tools
            # A forced tool_choice is refused while the model thinks, and always by the newest
            # models (Sonnet 5.5, Opus 5.5, Fable 5.1): then "auto", and the loop re-asks once
            # for the submit tool. "any" keeps a non-thinking model on its tools.
            forced = submit is not None and not thinks and facts.forced_tool_choice
            params["tool_choice"] = {"type": "any" if forced else "auto"}
            has_loop_tools = any(t["name"] != (submit.name if submit else None) for t in tools)
            if ttype == "enabled" and has_loop_tools:
                # Budget-thinking models think between tool calls only with this beta;
                # adaptive models interleave by default.
                params["extra_headers"] = {"anthropic-beta": INTERLEAVED_THINKING_BETA}
        return params

    def _thinking_off(self, facts: ModelFacts, effort: str, notes: list[str]) -> dict[str, Any]:
        """Thinking off as this model takes it: `disabled`, else `between_tools` (at effort high
        or below), else (a model that always thinks) an explicit low effort, noted once."""
        if facts.style != "adaptive":
            return {}  # budget-thinking and plain models do not think unless asked
        off = facts.off_type
        if off is None:
            out: dict[str, Any] = {}
            low = self._effort(facts, "low", notes, allowed=facts.efforts)
            if low:
                out["output_config"] = {"effort": low}
                _note_once(
                    notes,
                    f"{self.name} always thinks: thinking off is sent as effort {low!r}",
                )
            else:
                _note_once(
                    notes, f"{self.name} always thinks; thinking cannot be turned off for it"
                )
            return out
        out = {"thinking": {"type": off}}
        allowed = facts.off_efforts
        if off == "between_tools" and allowed is None:
            allowed = ("low", "medium", "high")  # between_tools is refused above high
        chosen = self._effort(facts, effort, notes, allowed=allowed)
        if chosen:
            out["output_config"] = {"effort": chosen}
        return out

    def _thinking(self, max_tokens: int, effort: str, notes: list[str]) -> dict[str, Any]:
        """Thinking parameters for this model's style (from its facts)."""
        facts = self._facts or facts_from_catalog(self.info)
        style = facts.style
        if style == "none":
            _note_once(notes, f"{self.name} has no extended thinking; thinking is off")
            return {}
        if style == "adaptive":
            out: dict[str, Any] = {"thinking": {"type": "adaptive"}}
            chosen = self._effort(facts, effort, notes)
            if chosen:
                out["output_config"] = {"effort": chosen}
            return out
        budget = self.settings.thinking.budget_tokens or max(1024, max_tokens // 2)
        budget = min(budget, max_tokens - 1)
        if budget < 1024:
            _note_once(
                notes,
                f"thinking needs max_tokens above 1024 (got {max_tokens}); thinking is off",
            )
            return {}
        return {"thinking": {"type": "enabled", "budget_tokens": budget}}

    def _effort(
        self,
        facts: ModelFacts,
        wanted: str,
        notes: list[str],
        allowed: tuple[str, ...] | None = None,
    ) -> str | None:
        """`wanted` if the model takes it (within `allowed`, the levels it takes with thinking
        off), else the nearest level below that it does (else its lowest), noted once."""
        levels = tuple(e for e in facts.efforts if allowed is None or e in allowed)
        if not levels:
            return None
        if wanted in levels:
            return wanted
        order = list(EFFORT_LEVELS)
        lower = [e for e in order[: order.index(wanted)] if e in levels]
        chosen = lower[-1] if lower else levels[0]
        _note_once(
            notes,
            f"{self.name} does not take effort {wanted!r} here (it takes {', '.join(levels)}); "
            f"using {chosen!r}",
        )
        return chosen

    async def _fit(self, params: dict[str, Any], purpose: str, notes: list[str]) -> None:
        """Stop before sending a prompt that does not fit the context window (a 400 the API
        never retries); count with `messages.count_tokens` only when the estimate is near."""
        facts = self._facts or facts_from_catalog(self.info)
        window = facts.max_input_tokens
        tokens = window_mod.request_estimate(params)
        counted = False
        if tokens >= window * window_mod.COUNT_ABOVE and self._count_api:
            try:
                async with asyncio.timeout(min(30.0, self.settings.anthropic.deadline_s)):
                    answer = await self._client.with_options(max_retries=1).messages.count_tokens(
                        **window_mod.count_params(params)
                    )
                tokens, counted = int(answer.input_tokens), True
            except anthropic.NotFoundError:
                self._count_api = False
                _note_once(notes, "the token-counting API is not available; sizes are estimated")
            except (anthropic.AnthropicError, httpx2.TransportError, TimeoutError) as e:
                log.info("token counting failed (%s); using the local estimate", e)
        if tokens > window:
            raise ModelError(
                window_mod.too_big_message(self.name, purpose, tokens, window, counted, params),
                kind="too_big",
            )
        room = window - tokens
        if params["max_tokens"] > room:
            # Prompt + max_tokens may not exceed the window: keep the answer within it.
            budget = (params.get("thinking") or {}).get("budget_tokens")
            floor = (budget + 1024) if budget else 1024
            if room < floor:
                raise ModelError(
                    window_mod.too_big_message(
                        self.name, purpose, tokens, window, counted, params, answer_floor=floor
                    ),
                    kind="too_big",
                )
            _note_once(notes, f"max_tokens lowered to {room} so prompt and answer fit the window")
            params["max_tokens"] = room

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

    async def _call(
        self,
        params: dict[str, Any],
        ev: ModelEvents,
        submit_name: str | None,
        *,
        check: Callable[[], None] | None = None,
        spend: Callable[[Usage], None] | None = None,
    ) -> Any:
        """One Messages call with retries under the overall deadline. `check` runs before every
        attempt (the budget); `spend` receives what a cut attempt had already cost."""
        cfg = self.settings.anthropic
        deadline = cfg.deadline_s
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempts = 0
        last: _Failure | None = None
        partial: list[Any] = []
        try:
            async with asyncio.timeout(deadline):
                while True:
                    attempts += 1
                    if check is not None:
                        check()
                    # [message_start usage, characters streamed] once the attempt is billed
                    partial = []
                    try:
                        if not self._stream:
                            msg = await self._client.messages.create(**params)
                            self._request_id = getattr(msg, "_request_id", None)
                            return msg
                        return await self._stream_once(params, ev, submit_name, partial)
                    except (anthropic.AnthropicError, httpx2.TransportError, _StreamCut) as exc:
                        failure = classify(exc)
                    except ValueError as exc:
                        # The SDK raises ValueError for tool JSON it cannot parse: a garbled stream.
                        failure = _Failure("connection", "response stream garbled", True, str(exc))
                    last = failure
                    if partial and spend is not None:
                        # a cut or failed stream had already been billed for what it read
                        spend(self._cut_usage(partial))
                        partial = []
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
                                + _rid(failure.request_id)
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
            if partial and spend is not None:
                spend(self._cut_usage(partial))  # billed, then the deadline cut it
            what = f"; last problem: {last.summary}" if last else ""
            raise ModelError(
                f"Anthropic API call exceeded the {deadline:g} s deadline "
                f"(planfirst.anthropic.deadline) after {attempts} attempt(s){what}; try again later",
                kind="deadline",
                retryable=True,
            ) from None

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        """Backoff before retry `attempt`: the server's retry-after as asked (the caller checks
        it against the deadline and shows the wait), else exponential backoff with jitter."""
        if retry_after is not None:
            return retry_after
        base = min(self._backoff_base_s * 2.0 ** (attempt - 1), self._backoff_max_s)
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
        return self._scrub(msg + _rid(f.request_id))

    def _refusal(self, msg: Any, purpose: str) -> ModelError:
        """A `refusal` stop as an error that shows its stop_details (category, explanation) and
        offers the documented fallback: the same request on another model."""
        details = getattr(msg, "stop_details", None)
        category = getattr(details, "category", None)
        explanation = getattr(details, "explanation", None)
        why = ""
        if category or explanation:
            why = " — " + ": ".join(str(x) for x in (category, explanation) if x)
        fallback = refusal_fallback(self.name)
        setting = {
            "execute": "planfirst.executionModel",
            "critique": "planfirst.critique.model",
        }.get(purpose, "planfirst.planningModel")
        err = ModelError(
            self._with_id(
                f"{self.name} declined to answer (stop_reason: refusal{why}). The documented "
                f"fallback is another model: set {setting} to {fallback!r} and try again, or "
                "rephrase the task or remove the content it objects to"
            ),
            kind="refusal",
        )
        err.fallback = fallback
        err.refusal_category = category
        return err

    def _with_id(self, message: str) -> str:
        """A run-loop error with the request-id of the answer that caused it."""
        return self._scrub(message + _rid(self._request_id))

    def _scrub(self, text: str) -> str:
        """Never let the key into a message, whatever an endpoint echoes back."""
        if len(self._key) >= 8:
            text = text.replace(self._key, "[redacted]")
        return text

    async def _stream_once(
        self,
        params: dict[str, Any],
        ev: ModelEvents,
        submit_name: str | None,
        partial: list[Any] | None = None,
    ) -> Any:
        """One streamed attempt; events go to the callbacks; a cut stream raises _StreamCut.
        `partial` receives [message_start usage, characters streamed] once the attempt is
        billed, and is emptied when the answer is complete."""
        partial = [] if partial is None else partial
        on_text = getattr(ev, "on_text", None)
        on_thinking = getattr(ev, "on_thinking", None)
        on_partial = getattr(ev, "on_partial_submit", None)
        tool_names: dict[int, str] = {}
        current = -1
        saw_stop = False
        async with self._client.messages.stream(**params) as stream:
            self._request_id = getattr(stream, "request_id", None)
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
                raise _StreamCut("the stream ended before message_stop", self._request_id)
            partial.clear()
            return await stream.get_final_message()

    def _cut_usage(self, partial: list[Any]) -> Usage:
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
        u.cost_usd = cost(self.name, u, self.settings.prices)
        return u


def submit_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema sent for a submit tool ($defs kept; additionalProperties false)."""
    return anthropic.transform_schema(schema)


def replay_blocks(content: Any) -> list[dict[str, Any]]:
    """An answer's content blocks as the next request's assistant turn.

    Empty or whitespace-only text blocks are dropped: real answers sometimes carry one before a
    tool_use, and the API refuses them in a request (400, not retryable). Thinking, redacted
    thinking and tool_use blocks are kept byte-identical.
    """
    out = []
    for block in content:
        if block.type == "text" and not block.text.strip():
            continue
        out.append(_block_param(block))
    return out


def refusal_fallback(model: str) -> str:
    """Another current model to retry a refused request on: the newest of another family
    (the docs' advice for a refusal is to retry on a fallback model)."""
    family = model.removeprefix("claude-").split("-")[0]
    for name in newest_models():
        if name.removeprefix("claude-").split("-")[0] != family:
            return name
    return DEFAULT_PLANNING_MODEL


def _rid(request_id: str | None) -> str:
    """` [request-id req_...]` for a user-facing error, or nothing."""
    return f" [request-id {request_id}]" if request_id else ""


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
