"""The Model protocol the core depends on. Only llm/ knows how a model is reached."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from planfirst.errors import PlanfirstError
from planfirst.plan.model import Usage

# The client tool Claude models are trained on for editing files (text_editor_20250728).
TEXT_EDITOR_TOOL = "str_replace_based_edit_tool"


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model. `anthropic_type` marks a built-in schema-less tool."""

    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    anthropic_type: str | None = None  # e.g. "text_editor_20250728"


@dataclass(frozen=True)
class SubmitSpec:
    """The terminal tool: the model ends by calling it with an instance of `schema`."""

    name: str
    description: str
    schema: type[BaseModel]


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool handler returns to the model."""

    text: str
    is_error: bool = False


ToolHandler = Callable[[str, dict[str, Any]], Awaitable[ToolOutcome]]


@dataclass
class ModelRequest:
    """One conversation with the model.

    The prompt is laid out so its prefix is byte-identical across calls of the same plan:
    `system`, then `stable_blocks` (plan, context — cache breakpoint after the last one), then
    `instruction` (what changes per call: the step, the errors).
    """

    purpose: str  # "plan" | "execute" | "diagnose"
    system: str
    stable_blocks: list[str]
    instruction: str
    tools: list[ToolSpec] = field(default_factory=list)
    submit: SubmitSpec | None = None
    max_turns: int = 10
    max_reasks: int = 2
    thinking: bool = False


@dataclass
class ModelRun:
    """The outcome of a ModelRequest."""

    model: str
    submitted: BaseModel | None
    final_text: str
    usage: Usage
    turns: int
    prompt_hash: str
    notes: list[str] = field(
        default_factory=list
    )  # e.g. "prompt below the minimum cacheable length"


class ModelEvents(Protocol):
    """Streaming callbacks; every method is optional to act on."""

    def on_text(self, delta: str) -> None: ...
    def on_thinking(self, delta: str) -> None: ...
    def on_partial_submit(self, snapshot: dict[str, Any]) -> None: ...
    def on_tool_call(self, name: str, tool_input: dict[str, Any]) -> None: ...
    def on_retry(self, attempt: int, reason: str, wait_s: float) -> None: ...


class NullEvents:
    """ModelEvents that ignore everything."""

    def on_text(self, delta: str) -> None:
        pass

    def on_thinking(self, delta: str) -> None:
        pass

    def on_partial_submit(self, snapshot: dict[str, Any]) -> None:
        pass

    def on_tool_call(self, name: str, tool_input: dict[str, Any]) -> None:
        pass

    def on_retry(self, attempt: int, reason: str, wait_s: float) -> None:
        pass


class ModelError(PlanfirstError):
    """A model call failed for good; `message` is written for the user, `kind` (its `code`) is
    what an editor branches on."""

    def __init__(self, message: str, kind: str = "error", retryable: bool = False) -> None:
        super().__init__(message, kind)
        self.kind = kind  # auth | rate_limit | spend_limit | overloaded | server | timeout |
        # conflict | connection | bad_request | too_big | truncated | refusal | invalid_output |
        # no_submit | max_turns | deadline
        self.retryable = retryable
        # what the failed run had already spent (requests answered before the failure)
        self.usage: Usage | None = None
        # a refusal: another model to try (the documented fallback) and the refusal's category
        self.fallback: str | None = None
        self.refusal_category: str | None = None


class BudgetStop(ModelError):
    """A budget cap stopped the run before a request that could cross it (core/workflow/budget.py)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="budget")


@dataclass(frozen=True)
class RequestQuote:
    """What a model is about to send: enough for a budget to price the request's worst case."""

    model: str
    purpose: str
    prompt_tokens: int  # a conservative local estimate of the whole prompt
    max_tokens: int  # the max_tokens the request would be sent with
    min_tokens: int = 1024  # the least max_tokens the request can be sent with


class Meter(Protocol):
    """Consulted around every model request of an operation (budget caps, live usage)."""

    def before_request(self, quote: RequestQuote) -> int | None:
        """Raise BudgetStop to stop before the request is sent; or return a lower max_tokens
        (at least `quote.min_tokens`) that keeps the request's worst case within the caps."""
        ...

    def after_response(self, model: str, usage: Usage) -> None:
        """The usage (with its cost) of one answered request."""
        ...


# The meter of the running operation: task-local, so concurrent operations never share one and
# every request made inside an operation (planning, critique, steps, diagnosis) is counted.
METER: ContextVar[Meter | None] = ContextVar("planfirst_meter", default=None)


class Model(Protocol):
    """A model the core can run: a streamed tool loop that may end in a structured submit."""

    name: str

    async def run(
        self, request: ModelRequest, handler: ToolHandler, events: ModelEvents | None = None
    ) -> ModelRun: ...
