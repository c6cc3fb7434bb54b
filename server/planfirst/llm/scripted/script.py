"""The scripted server's script format as pydantic models: what the script object, a turn, a
fault, a tool call, an expectation, a Models API entry and the `latency` member may hold, checked
when a script is loaded or turns are added (nothing in the server checks the format by hand).

Script format (JSON): either a list of turns or `{"turns": [...], "models": {...}, "latency": ...}`
(`load_models` describes model entries; a `latency` member adds realistic delays: latency.py;
any other member is refused). Each turn is an object:

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

A script that does not fit is refused with a `ScriptError` naming the turn and the problem; the server keeps
the turns as the plain objects it was given (validation never rewrites them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planfirst.llm.catalog import lookup
from planfirst.llm.facts import model_info_json

Script = list[dict[str, Any]]
# What callers may pass: a list of turn objects, {"turns": [...]}, or a JSON file path.
ScriptSource = Sequence[Any] | dict[str, Any] | str | Path

FaultName = Literal["stream_cut", "stream_error"]


class ScriptError(ValueError):
    """A script that cannot be run; the message names the turn and the problem."""


class _Strict(BaseModel):
    """No unknown keys and no coercion: a typo in a script is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ToolCall(BaseModel):
    """One of a turn's parallel tool calls (`"tools": [...]`)."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str
    input: dict[str, Any] = {}
    id: str | None = None


class Fault(BaseModel):
    """An HTTP error answer (`"fault": {"status": 429, ...}`)."""

    model_config = ConfigDict(extra="allow", strict=True)

    status: int
    retry_after: float | None = None
    retry_after_ms: float | None = None
    message: str | None = None
    type: str | None = None
    error_code: str | None = None
    headers: dict[str, Any] | None = None


class Expect(_Strict):
    """Checks on the request a turn answers (`"expect": {...}`)."""

    tools: list[str] | None = None
    no_tools: bool | None = None
    contains: list[str] | None = None
    not_contains: list[str] | None = None
    tool_result_contains: str | list[str] | None = None
    tool_result_error: bool | None = None
    thinking: str | None = None
    tool_choice: str | None = None
    model: str | None = None
    stream: bool | None = None
    max_tokens_at_least: int | None = None


class Turn(_Strict):
    """One scripted answer to one Messages request."""

    tool: str | None = None
    input: dict[str, Any] | None = None
    id: str | None = None
    tools: list[ToolCall] | None = None
    text: str | None = None
    thinking: str | None = None
    fault: FaultName | Fault | None = None
    delay: float | None = None
    delay_chunks: float | None = None
    stop_reason: str | None = None
    stop_details: dict[str, Any] | None = None  # a refusal's {"type", "category", "explanation"}
    usage: dict[str, int] | None = None
    note: str | None = None
    expect: Expect | None = None

    @model_validator(mode="after")
    def _answers_something(self) -> Turn:
        has_content = any(x is not None for x in (self.tool, self.tools, self.text, self.thinking))
        if not has_content and self.fault is None and self.stop_reason is None:
            raise ValueError("give 'text', 'tool', 'tools' or 'fault'")
        return self


class ModelEntry(BaseModel):
    """A Models API entry of the script's `models` table: Models API fields laid over the
    catalogue's answer for `base`, plus the shorthands `always_thinks` and `efforts`."""

    model_config = ConfigDict(extra="allow", strict=True)

    base: str | None = None
    always_thinks: bool = False
    efforts: list[str] | None = None


class LatencySpec(_Strict):
    """The script's `latency` member as an object (latency.py): figures laid over the request
    model's defaults, whose model, and which models it applies to."""

    model: str | None = None
    only: list[str] | None = None
    ttft_s: float | None = Field(default=None, ge=0, le=600)
    output_tokens_per_s: float | None = Field(default=None, gt=0)
    prefill_tokens_per_s: float | None = Field(default=None, gt=0)
    cached_prefill_tokens_per_s: float | None = Field(default=None, gt=0)
    scale: float | None = Field(default=None, ge=0, le=100)


class ScriptFile(_Strict):
    """A script given as an object: its turns, its Models API table, its latency (each checked
    by its own model above, with messages that name the turn, the model or the figure)."""

    turns: list[Any]
    models: Any = None
    latency: Any = None


TURN_KEYS = sorted(Turn.model_fields)
SCRIPT_KEYS = sorted(ScriptFile.model_fields)
EXPECT_KEYS = sorted(Expect.model_fields)
FAULT_NAMES = ["stream_cut", "stream_error"]


def _message(error: ValidationError, turn: dict[str, Any]) -> str:
    """The first problem pydantic found, in the words a script writer needs."""
    errors = error.errors()
    unknown = sorted(
        str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden" and len(e["loc"]) == 1
    )
    if unknown:
        return f"unknown keys {unknown}; allowed: {TURN_KEYS}"
    bad_expect = sorted(
        str(e["loc"][1])
        for e in errors
        if e["type"] == "extra_forbidden" and e["loc"][:1] == ("expect",) and len(e["loc"]) == 2
    )
    if bad_expect:
        return f"unknown expect keys {bad_expect}; allowed: {EXPECT_KEYS}"
    first = errors[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    if field == "fault":
        fault = turn.get("fault")
        if isinstance(fault, str):
            return f"fault {fault!r} is not one of {FAULT_NAMES}"
        inner = [e for e in errors if e["loc"][:2] == ("fault", "Fault") and len(e["loc"]) > 2]
        if isinstance(fault, dict) and "status" in fault and inner:  # a bad field of a fault
            return f"'fault.{'.'.join(str(p) for p in inner[0]['loc'][2:])}': {inner[0]['msg']}"
        return "'fault' must be {'status': N, ...} or a fault name"
    if field == "tools":
        return "'tools' must be a list of {'name', 'input'} objects"
    if field == "tool":
        return "'tool' must be a tool name"
    if field == "input":
        return "'input' must be an object"
    if field == "expect" and len(first["loc"]) == 1:
        return "'expect' must be an object"
    if not first["loc"]:  # the model validator
        return str(first["msg"]).removeprefix("Value error, ")
    where = ".".join(str(p) for p in first["loc"])
    return f"{where!r}: {first['msg']}"


def check_turn(i: int, turn: Any) -> dict[str, Any]:
    """Turn `i` (1-based) as given, once it fits the format; else a ScriptError naming it."""
    if not isinstance(turn, dict):
        raise ScriptError(f"turn {i}: must be an object, got {type(turn).__name__}")
    try:
        Turn.model_validate(turn)
    except ValidationError as e:
        raise ScriptError(f"turn {i}: {_message(e, turn)}") from None
    return turn


def _read(script: ScriptSource) -> Any:
    if isinstance(script, str | Path):
        try:
            return json.loads(Path(script).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ScriptError(f"cannot read script {script}: {e}") from e
    return script


def load_script(script: ScriptSource) -> Script:
    """Load and check a script from a list, a `{"turns": [...]}` dict or a JSON file path."""
    raw = _read(script)
    whole = raw if isinstance(raw, dict) else None
    if whole is not None:
        raw = whole.get("turns")
    if not isinstance(raw, list):
        raise ScriptError("a script is a JSON list of turns or an object with a 'turns' list")
    if whole is not None:
        try:
            ScriptFile.model_validate(whole)
        except ValidationError:  # a member it does not know: a typo such as "model" for "models"
            unknown = sorted(str(k) for k in whole if k not in ScriptFile.model_fields)
            raise ScriptError(f"unknown script keys {unknown}; allowed: {SCRIPT_KEYS}") from None
    return [check_turn(i, turn) for i, turn in enumerate(raw, 1)]


def load_models(script: ScriptSource) -> dict[str, dict[str, Any]]:
    """The script's Models API table (`{"models": {id: entry}}`), each entry expanded.

    An entry holds Models API fields (`lifecycle`, `retires_at`, `max_tokens`,
    `max_input_tokens`, `capabilities`, ...) laid over the catalogue's answer for `base` (default:
    the id itself, else claude-sonnet-5-5), plus shorthands: `always_thinks: true` (thinking
    cannot be disabled), `thinks_by_default: true`, `efforts: [...]`.
    """
    raw = _read(script)
    models = raw.get("models") if isinstance(raw, dict) else None
    if models is None:
        return {}
    if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
        raise ScriptError("'models' must map model ids to objects")
    return {name: expand_model(name, entry) for name, entry in models.items()}


def expand_model(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The Models API answer for `name` from its entry in a `models` table (see load_models)."""
    try:
        ModelEntry.model_validate(given)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ScriptError(f"model {name!r}: {where!r}: {first['msg']}") from None
    entry = dict(given)
    base_name = str(entry.pop("base", "") or name)
    base = lookup(base_name)
    if not base.known:
        base = lookup("claude-sonnet-5-5")
    out = model_info_json(base)
    out["_rules"] = base.name  # the catalogue row whose per-model rules apply (not served)
    out["id"] = name
    out["display_name"] = name
    caps = out["capabilities"]
    if entry.pop("always_thinks", False):
        caps["thinking"]["types"]["disabled"] = {"supported": False}
        caps["thinking"]["types"]["between_tools"] = {"supported": False}
    if "efforts" in entry:
        levels = list(entry.pop("efforts") or [])
        caps["effort"] = {"supported": bool(levels)} | {
            lvl: {"supported": lvl in levels} for lvl in ("low", "medium", "high", "xhigh", "max")
        }
    out.update(entry)
    return out
