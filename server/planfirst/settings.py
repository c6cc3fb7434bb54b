"""Typed settings, validated once, shared by the server, the CLI and the core.

Sources, later wins: defaults < environment < `initializationOptions` < `workspace/configuration`,
except that a workspace layer only narrows (`_narrow_only`, docs/reliability.md case 37).
Every layer is read through an allow-list of known keys, one section deep (`sanitize`). Settings
that decide trust (the API URL, the key, the command allow-list) come only from the environment
and `initializationOptions`, never from `workspace/configuration` or a pushed configuration, which
editors merge with workspace files such as `.vscode/settings.json` (docs/reliability.md cases 15
and 23).
"""

from __future__ import annotations

import copy
import logging
import os
import typing
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from planfirst.llm.catalog import DEFAULT_EXECUTION_MODEL, DEFAULT_PLANNING_MODEL
from planfirst.plan.model import normalise_rel_path

DEFAULT_PLANS_DIR = ".planfirst/plans"
PLANS_DIR_ENV = "PLANFIRST_PLANS_DIR"  # the environment's plansDir (empty: none)

log = logging.getLogger(__name__)

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

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """A boolean is not a number: `"maxCostPerPlan": true` was read as a $1 cap, `false` as
        $0, without a word (docs/reliability.md case 49)."""
        if isinstance(v, bool) and info.field_name is not None:
            field = cls.model_fields.get(info.field_name)
            kinds = _kinds(field.annotation) if field is not None else set()
            if kinds & {int, float} and bool not in kinds:
                raise ValueError(f"{str(v).lower()} is a boolean, not a number")
        return v


class AnthropicSettings(_Section):
    """How to reach the model API."""

    base_url: str | None = Field(default=None, alias="baseUrl")
    api_key: SecretStr | None = Field(default=None, alias="apiKey", repr=False)
    request_timeout_s: float = Field(default=600.0, alias="requestTimeout", gt=0)
    deadline_s: float = Field(
        default=900.0, alias="deadline", gt=0
    )  # one whole call, retries included
    max_retries: int = Field(default=4, alias="maxRetries", ge=0, le=10)


Effort = Literal["low", "medium", "high", "xhigh", "max"]
# request purpose -> phase
PHASES = {
    "plan": "planning",
    "execute": "execution",
    "critique": "critique",
    "diagnose": "diagnosis",
}


class ThinkingSettings(_Section):
    """Thinking and effort per phase; the model's facts decide how "on" and "off" are sent.

    `enabled` is the master switch (false: no phase thinks). `effort` is the planning effort and
    the default of critique and diagnosis. Execution does not think by default, at effort
    `low`: the cost bench (bench/bench_cost.py) measured low against medium (docs/models.md).
    """

    enabled: bool = True
    effort: Effort = "high"
    budget_tokens: int | None = Field(default=None, alias="budgetTokens", ge=1024)
    planning: bool = True
    execution: bool = False
    critique: bool = True
    diagnosis: bool = True
    execution_effort: Effort = Field(default="low", alias="executionEffort")
    critique_effort: Effort | None = Field(default=None, alias="critiqueEffort")
    diagnosis_effort: Effort | None = Field(default=None, alias="diagnosisEffort")

    def on_for(self, purpose: str) -> bool:
        """Whether requests of `purpose` ("plan", "execute", "critique", "diagnose") think."""
        phase = PHASES.get(purpose, "planning")
        return self.enabled and bool(getattr(self, phase))

    def effort_for(self, purpose: str) -> str:
        """The effort for requests of `purpose`, thinking on or off."""
        phase = PHASES.get(purpose, "planning")
        if phase == "execution":
            return self.execution_effort
        own = {"critique": self.critique_effort, "diagnosis": self.diagnosis_effort}.get(phase)
        return own or self.effort


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
    # a file over either limit is sent as an outline plus windows (core/editing/outline.py)
    large_file_lines: int = Field(default=600, alias="largeFileLines", ge=50)
    large_file_chars: int = Field(default=24_000, alias="largeFileChars", ge=2_000)


class PlanningSettings(_Section):
    """The planning loop."""

    max_explore_turns: int = Field(default=8, alias="maxExploreTurns", ge=0)
    max_reasks: int = Field(default=2, alias="maxReasks", ge=0, le=5)
    lint_feedback: bool = Field(default=True, alias="lintFeedback")


class CritiqueSettings(_Section):
    """The critique pass after planning (core/planning/critique.py): a second model reviews the plan."""

    # the critique pass on or off (an editor shows it as a switch, not a word in a model field)
    switched_on: bool = Field(default=True, alias="enabled")
    # "" = the planning model; "off" also turns the critique pass off (older settings)
    model: str = ""
    max_turns: int = Field(default=6, alias="maxTurns", ge=0, le=20)  # exploration turns
    tighten: bool = True  # one round that sends error findings back to the planner

    @property
    def enabled(self) -> bool:
        """False when the critique is turned off (`enabled: false`, or the model "off")."""
        return self.switched_on and self.model.strip().lower() != "off"


class LintSettings(_Section):
    """Plan-quality rules (core/planning/plan_lint.py)."""

    disabled: list[str] = Field(default_factory=list)
    max_files_per_step: int = Field(default=5, alias="maxFilesPerStep", ge=1)


class BudgetSettings(_Section):
    """Spending caps in US dollars (None: no cap; 0: nothing may be spent) and the attempts the
    estimate assumes (core/workflow/budget.py, core/planning/cost.py). A cap that is set but invalid is taken as
    0, never as "no cap" (load_settings, #29)."""

    max_cost_per_plan: float | None = Field(default=None, alias="maxCostPerPlan", ge=0)
    max_cost_per_step: float | None = Field(default=None, alias="maxCostPerStep", ge=0)
    max_cost_planning: float | None = Field(default=None, alias="maxCostPlanning", ge=0)
    # None: learned from this workspace's past runs (.planfirst/), else 1.3
    expected_attempts: float | None = Field(default=None, alias="expectedAttempts", ge=1, le=10)


class McpSettings(_Section):
    """MCP servers whose read-only tools planning may use (core/planning/mcp.py). User-only: a
    repository must never start processes (TRUST)."""

    # name -> {"command", "args", "env"} (stdio) or {"url"} (streamable HTTP), as Claude Desktop
    servers: dict[str, Any] = Field(default_factory=dict)


class Settings(_Section):
    """Everything configurable, one typed object."""

    planning_model: str = Field(default=DEFAULT_PLANNING_MODEL, alias="planningModel")
    execution_model: str = Field(default=DEFAULT_EXECUTION_MODEL, alias="executionModel")
    max_tokens: int = Field(default=32_000, alias="maxTokens", ge=1024)
    thinking: ThinkingSettings = Field(default_factory=ThinkingSettings)
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    context: ContextSettings = Field(default_factory=ContextSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    lint: LintSettings = Field(default_factory=LintSettings)
    critique: CritiqueSettings = Field(default_factory=CritiqueSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    # who previews a step's edit: the editor, planfirst's own diff document, or decided per client
    preview: Literal["editor", "planfirst", "auto"] = "auto"
    prices: dict[str, dict[str, float]] = Field(default_factory=dict)  # model -> overrides
    # where plans are kept, relative to the workspace root (commit it to share plans, #18)
    plans_dir: str = Field(default=DEFAULT_PLANS_DIR, alias="plansDir")

    @field_validator("prices", mode="before")
    @classmethod
    def _prices(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for model, rates in v.items():
                for k, r in rates.items() if isinstance(rates, dict) else ():
                    if isinstance(r, bool):
                        raise ValueError(f"{model}.{k}: {str(r).lower()} is a boolean, not a price")
        return v

    @field_validator("plans_dir")
    @classmethod
    def _plans_dir(cls, v: str) -> str:
        return check_plans_dir(v)


def check_plans_dir(value: str) -> str:
    """The normalised plans directory, or ValueError saying why it cannot be one."""
    norm = normalise_rel_path(value.rstrip("/") if isinstance(value, str) else value)
    # compared case-insensitively (`.GIT` is `.git` on macOS and Windows, case 16), and without
    # the trailing dots and spaces Windows drops from a name (`.git.` is `.git` there)
    parts = [p.casefold().rstrip(". ") or p for p in norm.split("/")]
    if ".git" in parts:
        raise ValueError(f"plansDir {value!r} is inside .git; choose a directory of the workspace")
    if parts[0] == ".planfirst" and norm != DEFAULT_PLANS_DIR:
        raise ValueError(
            f"plansDir {value!r}: inside .planfirst/ only {DEFAULT_PLANS_DIR!r} holds plans"
        )
    return norm


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
    if env.get("PLANFIRST_CRITIQUE_MODEL"):
        layer["critique"] = {"model": env["PLANFIRST_CRITIQUE_MODEL"]}
    if env.get(PLANS_DIR_ENV):
        layer["plansDir"] = env[PLANS_DIR_ENV]
    budget = {
        key: env[var] for var, key in _BUDGET_ENV.items() if env.get(var)
    }  # strings: validation turns them into numbers (or reports them)
    if budget:
        layer["budget"] = budget
    return layer


_BUDGET_ENV = {
    "PLANFIRST_MAX_COST_PER_PLAN": "maxCostPerPlan",
    "PLANFIRST_MAX_COST_PER_STEP": "maxCostPerStep",
    "PLANFIRST_MAX_COST_PLANNING": "maxCostPlanning",
}

# Settings that decide trust (where requests and the key go, what runs without asking): read only
# from initializationOptions and the environment, never from a workspace (docs/reliability.md
# cases 15 and 23). Section alias, key alias.
# The budget caps too: a cloned repository must not raise the user's spending limit.
TRUST = frozenset(
    {
        ("anthropic", "baseUrl"),
        ("anthropic", "apiKey"),
        ("validation", "allow"),
        ("budget", "maxCostPerPlan"),
        ("budget", "maxCostPerStep"),
        ("budget", "maxCostPlanning"),
        # retries re-send the whole prompt: a repository must not multiply what a step spends
        ("anthropic", "maxRetries"),
        ("mcp", "servers"),  # a repository must not start processes (#30)
    }
)
# Top-level settings read only from the user's own layers: prices decide what a cap allows,
# maxTokens what one request can cost (docs/reliability.md cases 37 and 41).
USER_ONLY = frozenset({"prices", "maxTokens"})


# A workspace setting can only narrow what the user set (docs/reliability.md case 37). Lists that
# keep things from the model or from review are extended by a workspace, never replaced or
# emptied; a workspace cannot turn off the plan-review rules that guard safety; and numbers that
# spend money or widen what the model may do are lowered by a workspace, never raised above what
# the user (or the default) allows. Section alias (None: top level), key alias.
UNION_LISTS = frozenset({("context", "exclude"), ("lint", "disabled")})
SAFETY_LINT_RULES = frozenset(
    {
        "protected-file",
        "edits-validation-script",
        "validation-not-allowed",
        "validation-shell-syntax",
        "validation-unparseable",
        "misleading-name",
    }
)
CEILINGS = frozenset(
    {
        ("context", "tokenBudget"),
        ("context", "maxFileBytes"),
        ("execution", "maxAttempts"),
        ("execution", "maxToolTurns"),
        ("planning", "maxExploreTurns"),
        ("planning", "maxReasks"),
        ("critique", "maxTurns"),
        # more of the tree, whole large files, longer command output: more tokens in every request
        ("context", "treeMaxEntries"),
        ("execution", "largeFileLines"),
        ("execution", "largeFileChars"),
        ("validation", "outputCap"),
        ("validation", "timeout"),
    }
)
# Thinking spends output tokens on every request: a workspace may turn a phase's thinking off or
# lower its effort, never turn it on or raise it (the effort keys fall back to `effort`).
THINKING_SWITCHES = ("enabled", "planning", "execution", "critique", "diagnosis")
EFFORTS = ("low", "medium", "high", "xhigh", "max")
EFFORT_KEYS = {
    "effort": None,
    "executionEffort": None,
    "critiqueEffort": "effort",
    "diagnosisEffort": "effort",
}


def _narrow_only(merged: dict[str, Any], clean: dict[str, Any]) -> list[str]:
    """Make a clean workspace layer narrow-only against what is `merged` below it (in place);
    return what was ignored, for the user."""
    out: list[str] = []
    for section in sorted(_sections()):
        if section in clean and not isinstance(clean[section], dict):
            # a wrongly typed section would replace the user's whole section on merge, and
            # validation would then drop it: `"budget": 5` lifted every cap, `"context": "x"`
            # sent the user's excluded files (docs/reliability.md cases 37 and 47)
            del clean[section]
            out.append(
                f"ignored workspace setting planfirst.{section}: not an object (the user's "
                f"planfirst.{section} settings are kept)"
            )
    defaults = Settings().model_dump(by_alias=True)
    for section, key in sorted(UNION_LISTS | CEILINGS):
        sec = clean.get(section)
        if not isinstance(sec, dict) or key not in sec:
            continue
        below = merged.get(section)
        base = below.get(key) if isinstance(below, dict) and key in below else None
        if base is None:
            base = defaults[section][key]
        new = sec[key]
        if (section, key) in UNION_LISTS:
            if not isinstance(new, list) or not all(isinstance(v, str) for v in new):
                # a wrongly typed value would fail validation, which drops the user's list too
                del sec[key]
                out.append(
                    f"ignored workspace setting planfirst.{section}.{key}: not a list of strings"
                )
                continue
            if not isinstance(base, list):
                continue
            if key == "disabled":
                kept = [r for r in new if r not in SAFETY_LINT_RULES or r in base]
                if len(kept) != len(new):
                    out.append(
                        f"ignored workspace setting planfirst.lint.disabled for "
                        f"{', '.join(sorted(set(new) - set(kept)))}: rules that guard safety are "
                        "turned off only in user settings"
                    )
                new = kept
            sec[key] = [*base, *(v for v in new if v not in base)]
        elif not _number(new) or (_number(base) and new > base):
            # not a number: validation would coerce "900000" (or drop the user's value with it)
            del sec[key]
            out.append(
                f"ignored workspace setting planfirst.{section}.{key} = {new!r}: a workspace may "
                f"lower it, not raise it above {base} (set it in user settings)"
            )
    if (
        "preview" in clean
        and clean["preview"] != "planfirst"
        and merged.get("preview") == "planfirst"
    ):
        del clean[
            "preview"
        ]  # "auto" trusts some editors' previews where the user chose planfirst's
        out.append(
            'ignored workspace setting planfirst.preview: the user chose "planfirst" (set it in '
            "user settings)"
        )
    out.extend(_narrow_thinking(merged, clean, defaults["thinking"]))
    out.extend(_narrow_models(merged, clean, defaults))
    return out


# Switches that spend money when on (the critic's run per plan, its tightening round, lint
# re-asks): a workspace may turn them off, never back on (red team rt8).
OFF_ONLY = (("critique", "enabled"), ("critique", "tighten"), ("planning", "lintFeedback"))


def _dearer(new: Any, base: Any, prices: Any) -> bool:
    """Whether model `new` may bill more per token than `base` at the user's prices (an unknown
    model is priced as the dearest known one, catalog.lookup), at any prompt length."""
    if not isinstance(new, str) or not isinstance(base, str):
        return True
    if new == base:
        return False
    from planfirst.llm.catalog import lookup

    try:
        a, b = lookup(new, prices), lookup(base, prices)
        for tokens in (0, 10**8):  # below and above a long-prompt tier
            ra, rb = a.rates(tokens), b.rates(tokens)
            fields = ("input", "output", "cache_write", "cache_read")
            if any(getattr(ra, f) > getattr(rb, f) for f in fields):
                return True
    except Exception:  # prices not yet validated (validation reports them): refuse
        return True
    return False


def _narrow_models(
    merged: dict[str, Any], clean: dict[str, Any], defaults: dict[str, Any]
) -> list[str]:
    """The models part of `_narrow_only`: a workspace may choose a model no dearer than the one
    the user (or the default) chose, and turn the spending switches off, not on. A model id is
    not a number, so no ceiling held it: a repository's `"planningModel":
    "claude-mythos-preview"` made every plan cost almost four times as much (red team rt8)."""
    out: list[str] = []
    prices = merged.get("prices") if isinstance(merged.get("prices"), dict) else None
    planning = merged.get("planningModel", defaults["planningModel"])
    for key in ("planningModel", "executionModel"):
        if key not in clean:
            continue
        base = merged.get(key, defaults[key])
        if _dearer(clean[key], base, prices):
            out.append(
                f"ignored workspace setting planfirst.{key} = {clean.pop(key)!r}: a workspace "
                f"may choose a model no dearer than {base!r} (set it in user settings)"
            )
    got = merged.get("critique")
    below: dict[str, Any] = got if isinstance(got, dict) else {}
    sec = clean.get("critique")
    if isinstance(sec, dict) and "model" in sec:
        new = sec["model"]
        own = below.get("model", defaults["critique"]["model"])
        off = isinstance(own, str) and own.strip().lower() == "off"
        critic = own.strip() if isinstance(own, str) and own.strip() else planning
        chosen = new.strip() if isinstance(new, str) else new
        if not (isinstance(chosen, str) and chosen.lower() == "off") and (
            off or _dearer(chosen or clean.get("planningModel", planning), critic, prices)
        ):
            del sec["model"]
            out.append(
                f"ignored workspace setting planfirst.critique.model = {new!r}: a workspace may "
                f"choose a critic no dearer than {'none' if off else repr(critic)} (set it in "
                "user settings)"
            )
    for section, key in OFF_ONLY:
        sec = clean.get(section)
        if not isinstance(sec, dict) or key not in sec or sec[key] is False:
            continue
        mine = merged.get(section)
        base = mine.get(key) if isinstance(mine, dict) and key in mine else defaults[section][key]
        if base is not True:
            del sec[key]
            out.append(
                f"ignored workspace setting planfirst.{section}.{key}: a workspace may turn it "
                "off, not on (set it in user settings)"
            )
    return out


def _narrow_thinking(
    merged: dict[str, Any], clean: dict[str, Any], defaults: dict[str, Any]
) -> list[str]:
    """The thinking part of `_narrow_only`: switches only off, efforts only lower."""
    sec = clean.get("thinking")
    if not isinstance(sec, dict):
        return []
    below = {**defaults, **(b if isinstance(b := merged.get("thinking"), dict) else {})}
    out: list[str] = []
    for key in THINKING_SWITCHES:
        if key in sec and sec[key] is not False and below.get(key) is not True:
            del sec[key]  # also a string such as "yes", which validation would read as true
            out.append(
                f"ignored workspace setting planfirst.thinking.{key}: a workspace may turn "
                "thinking off, not on (set it in user settings)"
            )
    if "budgetTokens" in sec:
        # on a budget-thinking model the derived budget is half of maxTokens: a workspace's
        # 31999 doubled every planning request's thinking (red team rt9)
        mt = merged.get("maxTokens")
        tokens = int(mt) if isinstance(mt, int | float) and not isinstance(mt, bool) else 32_000
        base = below.get("budgetTokens") or max(1024, tokens // 2)
        new = sec["budgetTokens"]
        if not _number(new) or new > base:
            del sec["budgetTokens"]
            out.append(
                f"ignored workspace setting planfirst.thinking.budgetTokens = {new!r}: a "
                f"workspace may lower it, not raise it above {base} (set it in user settings)"
            )
    for key, fallback in EFFORT_KEYS.items():
        if key not in sec:
            continue
        base = below.get(key) or (below.get(fallback) if fallback else None)
        new = sec[key]
        if new not in EFFORTS or base not in EFFORTS or EFFORTS.index(new) > EFFORTS.index(base):
            del sec[key]
            out.append(
                f"ignored workspace setting planfirst.thinking.{key} = {new!r}: a workspace may "
                f"lower the effort, not raise it above {base} (set it in user settings)"
            )
    return out


def _kinds(annotation: Any) -> set[Any]:
    """The types an annotation allows (the members of a union, `X | None`)."""
    args = typing.get_args(annotation)
    return {a for a in args} if args else {annotation}


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _unwrap(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """The `planfirst` section of a layer: `{"planfirst": {...}}` or the bare section, unwrapped
    exactly once (a `planfirst` key inside the section is an unknown key, never a second section).
    """
    if raw is None or raw == []:
        return {}, []  # Lua's empty table {} arrives as []
    if not isinstance(raw, dict):
        raise ValueError(f"settings must be a JSON object, got {type(raw).__name__}")
    if "planfirst" not in raw:
        return raw, []
    others = [f"{k}" for k in raw if k != "planfirst"]
    inner = raw["planfirst"]
    if inner == [] or inner is None:
        return {}, others
    if not isinstance(inner, dict):
        raise ValueError("settings 'planfirst' must be a JSON object")
    return inner, others


def _keys(model: type[BaseModel]) -> dict[str, str]:
    """Accepted spelling (the camelCase alias, or the field name) -> the alias."""
    out: dict[str, str] = {}
    for name, field in model.model_fields.items():
        alias = field.alias or name
        out[alias] = alias
        out[name] = alias
    return out


def _sections() -> dict[str, type[BaseModel]]:
    """Top-level alias -> the model of a nested section (the only level below the top)."""
    out: dict[str, type[BaseModel]] = {}
    for name, field in Settings.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, _Section):
            out[field.alias or name] = ann
    return out


def sanitize(raw: Any, *, trusted: bool) -> tuple[dict[str, Any], list[str]]:
    """One settings layer through the allow-list of known keys (docs/reliability.md case 23).

    The section is unwrapped once; each top-level key and each key of a known section must be a
    known setting (exact spelling: the camelCase alias or the field name), anything else is
    dropped. Trust keys (TRUST) are kept only when `trusted` (initializationOptions, the
    environment); a workspace layer loses them whatever shape they come in. Returns the clean
    layer (aliases only) and the dotted names of what was dropped, with the reason.
    """
    inner, others = _unwrap(raw)
    dropped = [f"{k} (unknown setting, outside the planfirst section)" for k in others]
    top = _keys(Settings)
    sections = _sections()
    out: dict[str, Any] = {}
    for key, value in inner.items():
        alias = top.get(key) if isinstance(key, str) else None
        if alias is None:
            dropped.append(f"planfirst.{key} (unknown setting)")
            continue
        model = sections.get(alias)
        if model is None or not isinstance(value, dict):
            if alias in out:
                dropped.append(f"planfirst.{key} (duplicate of planfirst.{alias})")
                continue
            if alias in USER_ONLY and not trusted:
                # prices decide what a budget cap allows (a workspace cannot make models free);
                # maxTokens what one request can cost
                dropped.append(f"planfirst.{key} (trust setting: only from user settings)")
                continue
            if alias == "preview" and value == "editor" and not trusted:
                # turning planfirst's own preview off lets edits land unseen in editors without one
                dropped.append(f'planfirst.{key} ("editor" only from user settings)')
                continue
            out[alias] = value  # a leaf (or a wrongly typed section: validation reports it)
            continue
        known = _keys(model)
        prev = out.get(alias)
        sec: dict[str, Any] = prev if isinstance(prev, dict) else {}
        for k, v in value.items():
            a = known.get(k) if isinstance(k, str) else None
            if a is None:
                dropped.append(f"planfirst.{alias}.{k} (unknown setting)")
            elif (alias, a) in TRUST and not trusted:
                dropped.append(f"planfirst.{alias}.{k} (trust setting: only from user settings)")
            elif a in sec:
                dropped.append(f"planfirst.{alias}.{k} (duplicate of planfirst.{alias}.{a})")
            else:
                sec[a] = v
        if sec:
            out[alias] = sec
    return out, dropped


def load_settings(
    user: Any = None, *workspace: Any, environ: dict[str, str] | None = None
) -> tuple[Settings, list[str]]:
    """Merge env < `user` (initializationOptions) < `workspace` layers over the defaults.

    Every layer goes through `sanitize`; only `user` and the environment may set trust keys.
    Returns the settings and human-readable problems: a bad layer is reported and skipped whole; a
    bad field inside a good layer is reported and its default is kept, so one typo never disables
    everything else. A dropped key is logged, and reported only when it is a trust key whose
    workspace value differs from the effective one (a hostile or mistaken workspace setting).
    """
    problems: list[str] = []
    merged: dict[str, Any] = env_layer(environ)
    users: dict[str, Any] = copy.deepcopy(merged)  # env < user: what a workspace falls back to
    for i, layer in enumerate((user, *workspace)):
        try:
            clean, dropped = sanitize(layer, trusted=i == 0)
        except ValueError as e:
            problems.append(str(e))
            continue
        for d in dropped:
            log.warning("settings: ignored %s", d)
        if i > 0:
            problems.extend(_narrow_only(merged, clean))
        merged = _deep_merge(merged, clean)
        if i == 0:
            users = copy.deepcopy(merged)
        if i > 0:
            problems.extend(_overridden_trust(layer, merged))
    restored: set[tuple[Any, ...]] = set()
    for _ in range(20):
        try:
            return Settings.model_validate(merged), problems
        except ValidationError as e:
            for err in e.errors():
                loc = ".".join(str(x) for x in err["loc"])
                if tuple(err["loc"]) in _CAPS:
                    # the default of a cap is "no cap": a cap set wrong must not lift the limit
                    problems.append(
                        f"planfirst.{loc}: {err['msg']} (nothing may be spent until it is fixed: "
                        "taken as $0)"
                    )
                    merged["budget"][err["loc"][1]] = 0
                    continue
                key = tuple(err["loc"])
                mine = _get(users, list(key))
                theirs = _get(merged, list(key))  # repr: NaN is not equal to itself
                if mine is not _MISSING and key not in restored and repr(theirs) != repr(mine):
                    # an invalid workspace value (0 attempts, a NaN budget) must not reset the
                    # user's own lower value to the default (docs/reliability.md case 48)
                    restored.add(key)
                    problems.append(f"planfirst.{loc}: {err['msg']} (using your own setting)")
                    _put(merged, list(key), copy.deepcopy(mine))
                    continue
                problems.append(f"planfirst.{loc}: {err['msg']} (using the default)")
                _drop(merged, list(err["loc"]))
    return Settings(), problems


_CAPS = {("budget", "maxCostPerPlan"), ("budget", "maxCostPerStep"), ("budget", "maxCostPlanning")}


def _overridden_trust(layer: Any, effective: dict[str, Any]) -> list[str]:
    """Trust keys a workspace layer set (in the plain shape) to a value other than the effective one."""
    try:
        inner, _ = _unwrap(layer)
    except ValueError:
        return []
    out = [
        f"ignored workspace setting planfirst.{key}: it decides what requests cost, "
        "so it is read only from user settings"
        for key in sorted(USER_ONLY)
        if key in inner and inner[key] != effective.get(key)
    ]
    for section, key in sorted(TRUST):
        sec = inner.get(section)
        if (
            isinstance(sec, dict)
            and key in sec
            and sec[key] != (effective.get(section) or {}).get(key)
        ):
            out.append(
                f"ignored workspace setting planfirst.{section}.{key}: it decides trust, "
                "so it is read only from user settings or the environment"
            )
    return out


_MISSING = object()


def _get(d: dict[str, Any], loc: list[Any]) -> Any:
    cur: Any = d
    for k in loc:
        if not isinstance(cur, dict) or k not in cur:
            return _MISSING
        cur = cur[k]
    return cur


def _put(d: dict[str, Any], loc: list[Any], value: Any) -> None:
    cur: Any = d
    for k in loc[:-1]:
        if not isinstance(cur.get(k), dict):
            cur[k] = {}
        cur = cur[k]
    cur[loc[-1]] = value


def _drop(d: dict[str, Any], loc: list[Any]) -> None:
    cur: Any = d
    for k in loc[:-1]:
        if not isinstance(cur, dict) or k not in cur:
            return
        cur = cur[k]
    if isinstance(cur, dict):
        cur.pop(loc[-1], None)
