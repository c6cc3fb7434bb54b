"""Shared helpers for the model-layer tests: settings, a recording event sink, tiny schemas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from planfirst.llm.anthropic import AnthropicModel
from planfirst.llm.model import ModelRequest, SubmitSpec, ToolOutcome, ToolSpec
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.settings import Settings, load_settings

# A fake key that looks real enough to be noticed if it leaks into a message.
API_KEY = "sk-ant-test-CANARY-0123456789abcdef"

# ~3,000 tokens at 4 chars/token: above every model's minimum cacheable length but the largest.
BIG_CONTEXT = "def helper(x):\n    return x * 2  # context line\n" * 250


class Answer(BaseModel):
    """A tiny submit schema."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="A short title")
    count: int = Field(ge=1, description="How many, at least 1")
    tags: list[str] = Field(default_factory=list)


def make_settings(**over: Any) -> Settings:
    """Settings for tests: short deadlines, few retries; `over` uses the camelCase aliases."""
    layer: dict[str, Any] = {
        "anthropic": {"deadline": 10.0, "requestTimeout": 5.0, "maxRetries": 3}
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(layer.get(k), dict):
            layer[k] = {**layer[k], **v}
        else:
            layer[k] = v
    settings, problems = load_settings(layer, environ={})
    assert not problems, problems
    return settings


_OPEN: list[AnthropicModel] = []


def make_model(
    server: ScriptedServer, model: str = "claude-sonnet-4-6", stream: bool = True, **over: Any
) -> AnthropicModel:
    """An AnthropicModel pointed at `server` with tiny backoff (closed by `close_models`)."""
    m = AnthropicModel(
        model,
        make_settings(**over),
        api_key=API_KEY,
        base_url=server.base_url,
        backoff_base_s=0.01,
        stream=stream,
    )
    _OPEN.append(m)
    return m


async def close_models() -> None:
    """Close every model made by `make_model` (their HTTP pools belong to the test's loop)."""
    while _OPEN:
        await _OPEN.pop().aclose()


def submit_request(
    *,
    stable: list[str] | None = None,
    instruction: str = "Give the answer.",
    tools: list[ToolSpec] | None = None,
    thinking: bool = False,
    max_reasks: int = 2,
    max_turns: int = 10,
    schema: type[BaseModel] = Answer,
    name: str = "submit_answer",
) -> ModelRequest:
    """A request ending in a structured submit."""
    return ModelRequest(
        purpose="plan",
        system="You are a careful planner.",
        stable_blocks=stable if stable is not None else ["<context>small</context>"],
        instruction=instruction,
        tools=tools or [],
        submit=SubmitSpec(name=name, description="Submit the final answer.", schema=schema),
        max_turns=max_turns,
        max_reasks=max_reasks,
        thinking=thinking,
    )


class Recorder:
    """ModelEvents that records every callback."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.partials: list[dict[str, Any]] = []
        self.tool_calls: list[tuple[str, dict[str, Any]]] = []
        self.retries: list[tuple[int, str, float]] = []

    def on_text(self, delta: str) -> None:
        self.text.append(delta)

    def on_thinking(self, delta: str) -> None:
        self.thinking.append(delta)

    def on_partial_submit(self, snapshot: dict[str, Any]) -> None:
        self.partials.append(dict(snapshot))

    def on_tool_call(self, name: str, tool_input: dict[str, Any]) -> None:
        self.tool_calls.append((name, tool_input))

    def on_retry(self, attempt: int, reason: str, wait_s: float) -> None:
        self.retries.append((attempt, reason, wait_s))


class Handler:
    """A tool handler that records calls and answers from a table."""

    def __init__(self, answers: dict[str, ToolOutcome] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers = answers or {}

    async def __call__(self, name: str, tool_input: dict[str, Any]) -> ToolOutcome:
        self.calls.append((name, tool_input))
        return self.answers.get(name, ToolOutcome(text=f"ran {name}"))


def valid_plan() -> dict[str, Any]:
    """A PlanBody input that validates."""
    return {
        "summary": "Add a greeting function and test it.",
        "files_to_modify": [{"path": "app.py", "changes": "add greet()"}],
        "files_to_create": [{"path": "tests/test_app.py", "purpose": "tests for greet"}],
        "steps": [
            {
                "order": 1,
                "description": "Add greet() to app.py",
                "files_to_modify": ["app.py"],
                "validation": ["python -c 'import app'"],
            },
            {
                "order": 2,
                "description": "Test greet() in tests/test_app.py",
                "files_to_create": ["tests/test_app.py"],
                "validation": ["pytest -q tests/test_app.py"],
            },
        ],
        "test_criteria": ["`pytest -q`"],
    }
