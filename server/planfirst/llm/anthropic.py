"""The Anthropic implementation of the Model protocol: official SDK, streaming, tool loop.

One retry layer only: the SDK client runs with `max_retries=0` and this module applies the SDK's
own rules (`x-should-retry` first; then 408, 409, 429, 5xx/529, timeouts, connection errors,
error events inside a stream and streams cut midway), with exponential backoff and jitter,
honouring `retry-after` as asked when it fits `planfirst.anthropic.deadline` (the wait is shown),
never retrying a spend limit (by the SDK's `error_code`). Every error names the `request-id`.

Before the first call the model's facts come from the Models API (llm/facts.py); each request
is built from them (llm/requests.py) and checked against the context window (llm/window.py)
before it is sent. The turns themselves (tools, the submit tool, re-asks, the budget) are the
`ToolLoop` (llm/tool_loop.py); failures are classified in llm/failures.py.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2

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
    FactsCache,
    ModelFacts,
    facts_from_api,
    facts_from_catalog,
    lifecycle_problem,
)
from planfirst.llm.failures import KEY_HELP, Failure, StreamCut, classify, rid
from planfirst.llm.model import (
    ModelError,
    ModelEvents,
    ModelRequest,
    ModelRun,
    ToolHandler,
)
from planfirst.llm.requests import (
    INTERLEAVED_THINKING_BETA,
    note_once,
    prompt_hash,
    replay_blocks,
)
from planfirst.llm.stream import cut_usage, stream_once
from planfirst.llm.tool_loop import ToolLoop, safe
from planfirst.plan.model import Usage
from planfirst.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "INTERLEAVED_THINKING_BETA",
    "AnthropicModel",
    "classify",
    "refusal_fallback",
    "replay_blocks",
]


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
            raise ModelError(f"No Anthropic API key: {KEY_HELP}.", kind="auth")
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
        facts = await self.facts()
        notes: list[str] = list(self._facts_notes)
        note = unknown_note(self.info)
        if note:
            notes.append(note)
        return await ToolLoop(self, facts, request, handler, events, usage, notes).run()

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
                    safe(self._warn, warning)
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
                    f"API{rid(e.request_id)}). Choose a current model such as "
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

    async def fit(self, params: dict[str, Any], purpose: str, notes: list[str]) -> None:
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
                note_once(notes, "the token-counting API is not available; sizes are estimated")
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
            note_once(notes, f"max_tokens lowered to {room} so prompt and answer fit the window")
            params["max_tokens"] = room

    def prompt_hash(self, request: ModelRequest) -> str:
        """sha256 of the stable prefix: model, system, stable blocks and tool names."""
        return prompt_hash(self.name, request)

    def usage_of(self, msg: Any) -> Usage:
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

    # ------------------------------------------------------------------ one call, retried

    async def call(
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
        last: Failure | None = None
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
                        return await stream_once(
                            self._client, params, ev, submit_name, partial, self._seen
                        )
                    except (anthropic.AnthropicError, httpx2.TransportError, StreamCut) as exc:
                        failure = classify(exc)
                    except ValueError as exc:
                        # The SDK raises ValueError for tool JSON it cannot parse: a garbled stream.
                        failure = Failure("connection", "response stream garbled", True, str(exc))
                    last = failure
                    if partial and spend is not None:
                        # a cut or failed stream had already been billed for what it read
                        spend(cut_usage(self.name, partial, self.settings.prices))
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
                                + rid(failure.request_id)
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
                        safe(on_retry, attempts, failure.summary, wait)
                    await asyncio.sleep(wait)
        except TimeoutError:
            if partial and spend is not None:
                spend(
                    cut_usage(self.name, partial, self.settings.prices)
                )  # billed, then the deadline cut it
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

    def _final(self, f: Failure, attempts: int, elapsed: float, exhausted: bool = False) -> str:
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
        return self._scrub(msg + rid(f.request_id))

    def refusal(self, msg: Any, purpose: str) -> ModelError:
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
            self.with_id(
                f"{self.name} declined to answer (stop_reason: refusal{why}). The documented "
                f"fallback is another model: set {setting} to {fallback!r} and try again, or "
                "rephrase the task or remove the content it objects to"
            ),
            kind="refusal",
        )
        err.fallback = fallback
        err.refusal_category = category
        return err

    def _seen(self, request_id: str | None) -> None:
        self._request_id = request_id

    def with_id(self, message: str) -> str:
        """A run-loop error with the request-id of the answer that caused it."""
        return self._scrub(message + rid(self._request_id))

    def _scrub(self, text: str) -> str:
        """Never let the key into a message, whatever an endpoint echoes back."""
        if len(self._key) >= 8:
            text = text.replace(self._key, "[redacted]")
        return text


def refusal_fallback(model: str) -> str:
    """Another current model to retry a refused request on: the newest of another family
    (the docs' advice for a refusal is to retry on a fallback model)."""
    family = model.removeprefix("claude-").split("-")[0]
    for name in newest_models():
        if name.removeprefix("claude-").split("-")[0] != family:
            return name
    return DEFAULT_PLANNING_MODEL
