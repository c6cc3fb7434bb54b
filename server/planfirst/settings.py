"""Typed settings, validated once, shared by the server, the CLI and the core.

Sources, later wins: defaults < environment < `initializationOptions` < `workspace/configuration`.
Workspace files are never a source: settings that decide trust (the API URL, the key, the
command allow-list, approval) come only from the user or the client (RELIABILITY.md case 15).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

DEFAULT_ALLOW = [
    "pytest",
    "python",
    "python3",
    "ruff",
    "mypy",
    "flake8",
    "pylint",
    "pyright",
    "black",
    "isort",
    "tox",
    "nox",
    "npm",
    "npx",
    "yarn",
    "pnpm",
    "node",
    "tsc",
    "eslint",
    "jest",
    "vitest",
    "cargo",
    "go",
    "make",
    "gcc",
    "clang",
    "cc",
    "true",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AnthropicSettings(_Section):
    """How to reach the model API."""

    base_url: str | None = Field(default=None, alias="baseUrl")
    api_key: SecretStr | None = Field(default=None, alias="apiKey", repr=False)
    request_timeout_s: float = Field(default=600.0, alias="requestTimeout", gt=0)
    deadline_s: float = Field(default=900.0, alias="deadline", gt=0)  # one whole call, retries included
    max_retries: int = Field(default=4, alias="maxRetries", ge=0, le=10)


class ThinkingSettings(_Section):
    """Extended thinking for the planning model; the catalog decides adaptive vs budget."""

    enabled: bool = True
    effort: Literal["low", "medium", "high", "xhigh", "max"] = "high"
    budget_tokens: int | None = Field(default=None, alias="budgetTokens", ge=1024)


class ValidationSettings(_Section):
    """How validation commands run."""

    allow: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOW))
    timeout_s: float = Field(default=300.0, alias="timeout", gt=0)
    output_cap: int = Field(default=200_000, alias="outputCap", ge=1_000)


class ContextSettings(_Section):
    """What the model may see."""

    token_budget: int = Field(default=24_000, alias="tokenBudget", ge=1_000)
    max_file_bytes: int = Field(default=256_000, alias="maxFileBytes", ge=1_000)
    exclude: list[str] = Field(default_factory=list)
    tree_max_entries: int = Field(default=400, alias="treeMaxEntries", ge=0)


class ExecutionSettings(_Section):
    """The execute-validate-retry loop."""

    max_attempts: int = Field(default=3, alias="maxAttempts", ge=1, le=10)
    max_tool_turns: int = Field(default=25, alias="maxToolTurns", ge=1)


class PlanningSettings(_Section):
    """The planning loop."""

    max_explore_turns: int = Field(default=8, alias="maxExploreTurns", ge=0)
    max_reasks: int = Field(default=2, alias="maxReasks", ge=0, le=5)
    lint_feedback: bool = Field(default=True, alias="lintFeedback")


class LintSettings(_Section):
    """Plan-quality rules (core/plan_lint.py)."""

    disabled: list[str] = Field(default_factory=list)
    max_files_per_step: int = Field(default=5, alias="maxFilesPerStep", ge=1)


class Settings(_Section):
    """Everything configurable, one typed object."""

    planning_model: str = Field(default="claude-opus-4-6", alias="planningModel")
    execution_model: str = Field(default="claude-sonnet-4-6", alias="executionModel")
    max_tokens: int = Field(default=32_000, alias="maxTokens", ge=1024)
    thinking: ThinkingSettings = Field(default_factory=ThinkingSettings)
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    context: ContextSettings = Field(default_factory=ContextSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    lint: LintSettings = Field(default_factory=LintSettings)
    prices: dict[str, dict[str, float]] = Field(default_factory=dict)  # model -> overrides


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        elif v is not None:
            out[k] = v
    return out


def env_layer(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings taken from the environment (the fallback source)."""
    env = os.environ if environ is None else environ
    layer: dict[str, Any] = {}
    anth: dict[str, Any] = {}
    if env.get("ANTHROPIC_BASE_URL"):
        anth["baseUrl"] = env["ANTHROPIC_BASE_URL"]
    if env.get("ANTHROPIC_API_KEY"):
        anth["apiKey"] = env["ANTHROPIC_API_KEY"]
    if anth:
        layer["anthropic"] = anth
    if env.get("PLANFIRST_PLANNING_MODEL"):
        layer["planningModel"] = env["PLANFIRST_PLANNING_MODEL"]
    if env.get("PLANFIRST_EXECUTION_MODEL"):
        layer["executionModel"] = env["PLANFIRST_EXECUTION_MODEL"]
    return layer


def _unwrap(raw: Any) -> dict[str, Any]:
    """Accept `{"planfirst": {...}}` or the bare section."""
    if raw is None or raw == []:
        return {}  # Lua's empty table {} arrives as []
    if not isinstance(raw, dict):
        raise ValueError(f"settings must be a JSON object, got {type(raw).__name__}")
    inner = raw.get("planfirst", raw)
    if inner == []:
        return {}
    if not isinstance(inner, dict):
        raise ValueError("settings 'planfirst' must be a JSON object")
    return inner


def load_settings(*layers: Any, environ: dict[str, str] | None = None) -> tuple[Settings, list[str]]:
    """Merge the layers over env and defaults; return settings and human-readable problems.

    A bad layer is reported and skipped whole; a bad field inside a good layer is reported and
    its default is kept, so one typo never disables everything else.
    """
    problems: list[str] = []
    merged: dict[str, Any] = env_layer(environ)
    for layer in layers:
        try:
            merged = _deep_merge(merged, _unwrap(layer))
        except ValueError as e:
            problems.append(str(e))
    for _ in range(20):
        try:
            return Settings.model_validate(merged), problems
        except ValidationError as e:
            for err in e.errors():
                loc = ".".join(str(x) for x in err["loc"])
                problems.append(f"planfirst.{loc}: {err['msg']} (using the default)")
                _drop(merged, list(err["loc"]))
    return Settings(), problems


def _drop(d: dict[str, Any], loc: list[Any]) -> None:
    cur: Any = d
    for k in loc[:-1]:
        if not isinstance(cur, dict) or k not in cur:
            return
        cur = cur[k]
    if isinstance(cur, dict):
        cur.pop(loc[-1], None)


TRUST_KEYS = (("anthropic", "baseUrl"), ("anthropic", "base_url"), ("anthropic", "apiKey"),
              ("anthropic", "api_key"), ("validation", "allow"))


def strip_trust(layer: Any) -> tuple[dict[str, Any], list[str]]:
    """Drop the settings a workspace must never decide (API URL, key, allow-list).

    Used on `workspace/configuration`, which editors merge with workspace files such as
    `.vscode/settings.json` (RELIABILITY.md case 15). Returns the layer and what was dropped.
    """
    try:
        inner = _unwrap(layer)
    except ValueError:
        return {}, []
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in inner.items()}
    dropped = []
    for section, key in TRUST_KEYS:
        sec = out.get(section)
        if isinstance(sec, dict) and key in sec:
            sec.pop(key)
            dropped.append(f"planfirst.{section}.{key}")
    return out, dropped
