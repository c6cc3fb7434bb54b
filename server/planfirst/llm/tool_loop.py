"""The tool loop: send the conversation, run the tools the model asks for, until it submits.

One `ToolLoop` is one `Model.run`. Each turn builds the request (llm/requests.py), fits it to the
context window and sends it through the model's retried call, then reads the answer: a refusal,
a truncated answer (widened once), a context-window stop, a pause, tool calls (run through the
handler) or the submit tool (validated into the request's pydantic schema, re-asked with the
validation errors, bounded). A turn that ends without the submit tool is nudged once.

Before every attempt a budget cap (`METER`) may stop the run or lower `max_tokens`; what every
answered attempt cost is added to the run's usage (docs/reliability.md case 41). In a tool loop
a cache breakpoint moves to the newest tool result so each turn reads the history from cache.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from planfirst.llm import window as window_mod
from planfirst.llm.catalog import ModelInfo
from planfirst.llm.facts import ModelFacts
from planfirst.llm.model import (
    METER,
    ModelError,
    ModelEvents,
    ModelRequest,
    ModelRun,
    NullEvents,
    RequestQuote,
    ToolHandler,
)
from planfirst.llm.requests import (
    EPHEMERAL,
    RequestBuilder,
    error_lines,
    note_once,
    prompt_hash,
    reask_text,
    replay_blocks,
)
from planfirst.plan.model import Usage
from planfirst.settings import Settings

log = logging.getLogger(__name__)


class Messages(Protocol):
    """What a tool loop needs from the model behind it: one retried call and its answer's parts."""

    name: str
    settings: Settings
    info: ModelInfo

    async def fit(self, params: dict[str, Any], purpose: str, notes: list[str]) -> None:
        """Stop (or lower max_tokens) before a request that does not fit the window."""
        ...

    async def call(
        self,
        params: dict[str, Any],
        ev: ModelEvents,
        submit_name: str | None,
        *,
        check: Callable[[], None] | None = None,
        spend: Callable[[Usage], None] | None = None,
    ) -> Any:
        """One Messages call, retried; the final message."""
        ...

    def usage_of(self, msg: Any) -> Usage:
        """What an answered call cost."""
        ...

    def refusal(self, msg: Any, purpose: str) -> ModelError:
        """A `refusal` stop as an error."""
        ...

    def with_id(self, message: str) -> str:
        """A run-loop error message with the last answer's request-id."""
        ...


class ToolLoop:
    """One run of the tool loop for `request` against `model` (see the module docstring)."""

    def __init__(
        self,
        model: Messages,
        facts: ModelFacts,
        request: ModelRequest,
        handler: ToolHandler,
        events: ModelEvents | None,
        usage: Usage,
        notes: list[str],
    ) -> None:
        self.model = model
        self.facts = facts
        self.request = request
        self.handler = handler
        self.ev: ModelEvents = events or NullEvents()
        self.usage = usage
        self.notes = notes
        self.submit = request.submit
        self.build = RequestBuilder(model.name, model.settings, model.info, facts)
        self.tools = self.build.tools(request)
        self.system, first = self.build.opening(request)
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": first}]
        self.build.note_prefix(self.tools, request, notes)
        self.max_tokens = min(model.settings.max_tokens, facts.max_tokens)
        self.thinking_on = bool(
            request.thinking and model.settings.thinking.on_for(request.purpose)
        )
        self.turns = 0
        self.reasks = 0
        self.nudged = False
        self.widened = False
        self.moving_bp: dict[str, Any] | None = None
        if request.purpose == "execute" and request.instruction:
            # an execution always takes a second request (after the edit tool's results): a
            # breakpoint after the step's files lets it read them from the cache (3 of 4)
            self.moving_bp = first[-1]
            self.moving_bp["cache_control"] = dict(EPHEMERAL)
        self.meter = METER.get()

    async def run(self) -> ModelRun:
        """Turns until the submit tool is called validly (or end_turn without one)."""
        request, submit = self.request, self.submit
        while True:
            if self.turns >= request.max_turns:
                raise ModelError(
                    self.model.with_id(
                        f"{self.model.name} did not finish within {request.max_turns} turns"
                        + (f" without calling {submit.name}" if submit else "")
                    ),
                    kind="max_turns",
                )
            params = self.build.params(
                self.messages,
                self.system,
                self.tools,
                self.max_tokens,
                self.thinking_on,
                submit,
                self.notes,
                request.purpose,
            )
            await self.model.fit(params, request.purpose, self.notes)
            msg = await self.model.call(
                params,
                self.ev,
                submit.name if submit else None,
                check=functools.partial(self._check_budget, params),
                spend=self._spend,
            )
            self._spend(self.model.usage_of(msg))
            if self._widened_after_stop(msg, params):
                continue
            self.turns += 1
            content = replay_blocks(msg.content) or [{"type": "text", "text": "(no answer)"}]
            self.messages.append({"role": "assistant", "content": content})
            text = "".join(b.text for b in msg.content if b.type == "text")
            tool_uses = [b for b in msg.content if b.type == "tool_use"]
            if msg.stop_reason == "pause_turn":
                continue
            if not tool_uses:
                if submit is None:
                    return self._done(None, text)
                reply = self._nudge(text)
            else:
                reply, submitted = await self._answer(tool_uses)
                if submitted is not None:
                    return self._done(submitted, text)
            self._send(reply)

    # ------------------------------------------------------------------ budget

    def _check_budget(self, params: dict[str, Any]) -> None:
        """Before every attempt (a retry re-sends the whole prompt): a budget cap may stop here,
        before anything is spent, or lower max_tokens so that the whole answer fits what the cap
        has left (docs/reliability.md case 41)."""
        if self.meter is None:
            return
        budget = (params.get("thinking") or {}).get("budget_tokens")
        allowed = self.meter.before_request(
            RequestQuote(
                self.model.name,
                self.request.purpose,
                window_mod.request_estimate(params),
                int(params["max_tokens"]),
                min_tokens=(budget + 1024) if budget else 1024,
            )
        )
        if allowed is not None and allowed < params["max_tokens"]:
            params["max_tokens"] = allowed
            note_once(
                self.notes,
                f"max_tokens lowered to {allowed} so the whole answer stays within the budget cap",
            )

    def _spend(self, answered: Usage) -> None:
        self.usage.add(answered)
        if self.meter is not None:
            safe(self.meter.after_response, self.model.name, answered)

    # ------------------------------------------------------------------ stops

    def _widened_after_stop(self, msg: Any, params: dict[str, Any]) -> bool:
        """Raise for a refusal, a truncated answer or a context-window stop; True when a
        truncated answer is retried once with a wider max_tokens."""
        stop = msg.stop_reason
        name, facts, max_tokens = self.model.name, self.facts, self.max_tokens
        if stop == "refusal":
            raise self.model.refusal(msg, self.request.purpose)
        if stop == "max_tokens":
            # Truncated output is never accepted; widen once, then give up clearly.
            bigger = min(max_tokens * 2, facts.max_tokens)
            # not when the window or a budget cap lowered it: a wider request would be lowered
            # again
            lowered = int(params["max_tokens"]) < max_tokens
            if not self.widened and bigger > max_tokens and not lowered:
                self.widened = True
                self.notes.append(
                    f"answer hit max_tokens={max_tokens}; retried once with max_tokens={bigger}"
                )
                ev_retry = getattr(self.ev, "on_retry", None)
                if ev_retry:
                    safe(ev_retry, 1, f"output truncated at {max_tokens} tokens", 0.0)
                self.max_tokens = bigger
                return True
            what = "the " + self.submit.name + " input" if self.submit else "the answer"
            sent = int(params["max_tokens"])
            fix = (
                f"Raise planfirst.maxTokens (this model allows up to {facts.max_tokens})"
                if sent >= max_tokens
                else "The budget cap lowered it: raise the cap (planfirst.budget.*)"
            )
            raise ModelError(
                self.model.with_id(
                    f"{name} ran out of output tokens (max_tokens={sent}) before "
                    f"finishing {what}; nothing was accepted. {fix} or narrow the task"
                ),
                kind="truncated",
            )
        if stop == "model_context_window_exceeded":
            raise ModelError(
                self.model.with_id(
                    f"the prompt and answer exceed {name}'s context window of "
                    f"{facts.max_input_tokens:,} tokens; lower planfirst.context.tokenBudget "
                    "or narrow the task"
                ),
                kind="too_big",
            )
        return False

    # ------------------------------------------------------------------ replies

    def _nudge(self, text: str) -> list[dict[str, Any]]:
        """Ask once for the submit tool after a turn that ended without it."""
        assert self.submit is not None
        name = self.submit.name
        if self.nudged:
            raise ModelError(
                self.model.with_id(
                    f"{self.model.name} ended its turn without calling {name}, even "
                    f"after being asked to; it said: {text[:300]!r}"
                ),
                kind="no_submit",
            )
        self.nudged = True
        return [
            {
                "type": "text",
                "text": f"You ended your turn without calling {name}. Call "
                f"{name} now with your complete answer; do not answer in text.",
            }
        ]

    async def _answer(self, tool_uses: list[Any]) -> tuple[list[dict[str, Any]], BaseModel | None]:
        """The tool results for one turn's tool calls, and the submitted answer if valid."""
        reply: list[dict[str, Any]] = []
        submitted: BaseModel | None = None
        for tu in tool_uses:
            tool_input = tu.input if isinstance(tu.input, dict) else {}
            if self.submit is not None and tu.name == self.submit.name:
                try:
                    submitted = self.submit.schema.model_validate(tool_input)
                except ValidationError as e:
                    reply.append(self._reask(tu.id, e))
                    continue
                reply.append({"type": "tool_result", "tool_use_id": tu.id, "content": "Accepted."})
                continue
            on_tool = getattr(self.ev, "on_tool_call", None)
            if on_tool:
                safe(on_tool, tu.name, tool_input)
            outcome = await self.handler(tu.name, tool_input)
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": tu.id,
                "content": outcome.text or "(no output)",
            }
            if outcome.is_error:
                result["is_error"] = True
            reply.append(result)
        return reply, submitted

    def _reask(self, tool_use_id: str, e: ValidationError) -> dict[str, Any]:
        """The error result for an invalid submit, or the end once the re-asks are spent."""
        assert self.submit is not None
        self.reasks += 1
        if self.reasks > self.request.max_reasks:
            raise ModelError(
                self.model.with_id(
                    f"{self.model.name}'s {self.submit.name} output was still invalid "
                    f"after {self.request.max_reasks} re-asks: {error_lines(e)}"
                ),
                kind="invalid_output",
            ) from None
        return {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "is_error": True,
            "content": reask_text(self.submit.name, e),
        }

    def _send(self, reply: list[dict[str, Any]]) -> None:
        """Append the user turn; move the conversation breakpoint to its newest block so the
        next turn reads the whole history from cache (system + stable + this = 3 of 4)."""
        if self.moving_bp is not None:
            self.moving_bp.pop("cache_control", None)
        self.moving_bp = reply[-1]
        self.moving_bp["cache_control"] = dict(EPHEMERAL)
        self.messages.append({"role": "user", "content": reply})

    def _done(self, submitted: BaseModel | None, text: str) -> ModelRun:
        return ModelRun(
            model=self.model.name,
            submitted=submitted,
            final_text=text,
            usage=self.usage,
            turns=self.turns,
            prompt_hash=prompt_hash(self.model.name, self.request),
            notes=self.notes,
        )


def safe(fn: Callable[..., Any], *args: Any) -> None:
    """Call an event callback; a failing callback is logged, never fatal to the run."""
    try:
        fn(*args)
    except Exception:
        log.exception("model event callback %s failed", getattr(fn, "__name__", fn))
