"""The plan contract: what the planning model fills, and the server-owned state around it."""

from __future__ import annotations

import posixpath
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from planfirst.plan.cost import CostEstimate

_DRIVE = re.compile(r"^[A-Za-z]:")


def now_iso() -> str:
    """UTC timestamp used everywhere a time is recorded."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def normalise_rel_path(path: str) -> str:
    """Return the normalised workspace-relative POSIX form of `path` or raise ValueError.

    The message is written for the model: it says what is wrong and what to send instead.
    """
    if not isinstance(path, str) or not path.strip():
        raise ValueError("path is empty; give a workspace-relative path such as 'src/app.py'")
    if "\x00" in path:
        raise ValueError(f"path {path!r} contains a NUL byte")
    if "\\" in path:
        raise ValueError(
            f"path {path!r} uses '\\'; use POSIX '/' separators, relative to the workspace root"
        )
    if path.startswith("/") or path.startswith("~") or _DRIVE.match(path):
        raise ValueError(f"path {path!r} is absolute; give it relative to the workspace root")
    parts = path.split("/")
    if ".." in parts:
        raise ValueError(f"path {path!r} contains '..'; paths must stay inside the workspace")
    norm = posixpath.normpath(path)
    if norm in (".", ""):
        raise ValueError(f"path {path!r} names the workspace root, not a file")
    return norm


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileModification(_Strict):
    """An existing file the plan changes."""

    path: str = Field(description="Workspace-relative POSIX path of an existing file")
    changes: str = Field(description="What changes in this file: functions, classes, behaviour")
    depends_on: list[str] = Field(
        default_factory=list,
        description="Paths (from this plan) that must be changed or created before this file",
    )

    @field_validator("path")
    @classmethod
    def _norm(cls, v: str) -> str:
        return normalise_rel_path(v)

    @field_validator("depends_on")
    @classmethod
    def _norm_deps(cls, v: list[str]) -> list[str]:
        return [normalise_rel_path(p) for p in v]


class FileCreation(_Strict):
    """A new file the plan creates."""

    path: str = Field(description="Workspace-relative POSIX path of the new file")
    purpose: str = Field(description="Why the file exists and what it contains")
    exports: list[str] = Field(
        default_factory=list, description="Public names (functions, classes) the file defines"
    )

    @field_validator("path")
    @classmethod
    def _norm(cls, v: str) -> str:
        return normalise_rel_path(v)


class PackageChange(_Strict):
    """One package added, removed or re-pinned."""

    name: str
    version: str = Field(default="", description="Version or range, e.g. '>=2.1,<3'")
    manager: str = Field(default="pip", description="pip, npm, cargo, go, …")


class DependencyChanges(_Strict):
    """Package and configuration changes the plan needs."""

    packages: list[PackageChange] = Field(default_factory=list)
    config: list[str] = Field(default_factory=list, description="Configuration changes, one each")


STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


class Step(_Strict):
    """One execution step: small, ordered, validated on its own."""

    order: int = Field(description="1-based position; steps are numbered 1..N without gaps")
    id: str = Field(
        default="",
        description=(
            "The step's stable id. When revising a plan, give every step you keep (even reworded "
            "or moved) the id it had; leave it empty for a new step"
        ),
    )
    description: str = Field(
        description="What to do, naming the files, functions and classes involved. No code."
    )
    files_to_modify: list[str] = Field(default_factory=list)
    files_to_create: list[str] = Field(default_factory=list)
    validation: list[str] = Field(
        default_factory=list,
        description="Commands that check this step, one string each, e.g. 'pytest -q tests/test_x.py'",
    )

    @field_validator("files_to_modify", "files_to_create")
    @classmethod
    def _norm_paths(cls, v: list[str]) -> list[str]:
        return [normalise_rel_path(p) for p in v]

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        v = v.strip()
        if v and not STEP_ID.match(v):
            raise ValueError(
                f"step id {v[:40]!r} is not valid; keep the id the step had (such as 's2') or leave it empty"
            )
        return v

    def content(self) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """What the user approves of a step: its text, files and validation (not its order or id)."""
        return (
            self.description.strip(),
            tuple(self.files_to_modify),
            tuple(self.files_to_create),
            tuple(self.validation),
        )

    @property
    def files(self) -> list[str]:
        """Every path this step may touch, modifications first."""
        return [
            *self.files_to_modify,
            *(p for p in self.files_to_create if p not in self.files_to_modify),
        ]


class PlanBody(_Strict):
    """The structured plan the planning model returns. Field names are the contract."""

    summary: str = Field(description="Two to five sentences: what changes and why")
    files_to_modify: list[FileModification] = Field(default_factory=list)
    files_to_create: list[FileCreation] = Field(default_factory=list)
    dependency_changes: DependencyChanges = Field(default_factory=DependencyChanges)
    steps: list[Step] = Field(description="Ordered execution steps, 1..N")
    test_criteria: list[str] = Field(
        default_factory=list,
        description="Checks that prove the task is done; prefer runnable commands in backticks",
    )
    risks: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _invariants(self) -> PlanBody:
        errors = plan_invariant_errors(self)
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def step(self, order: int) -> Step:
        """The step numbered `order` (KeyError if absent); constant time (case 42)."""
        found: Step = find_order(self.steps, order)
        return found


# Plans larger than this are refused, from the model and from disk (docs/reliability.md case 42):
# no plan a person reviews has a thousand steps, and a repository must not ship one that makes
# planfirst's work large.
MAX_PLAN_STEPS = 1000


# Positions of steps by order or id, per list object (kept beside the models, not in them: a
# private attribute would take part in model equality). Each entry holds its list, so an id is
# never reused while cached; the table is small and simply cleared when full.
_POSITIONS: dict[tuple[int, str], tuple[list[Any], dict[Any, int]]] = {}


def _positions(items: list[Any], attr: str) -> dict[Any, int]:
    key = (id(items), attr)
    entry = _POSITIONS.get(key)
    if entry is not None and entry[0] is items:
        return entry[1]
    if len(_POSITIONS) >= 64:
        _POSITIONS.clear()
    pos: dict[Any, int] = {}
    _POSITIONS[key] = (items, pos)
    return pos


def _find(items: list[Any], attr: str, value: Any) -> Any | None:
    """The first item of `items` whose `attr` is `value` (None if none), in constant time:
    positions are remembered and re-read whenever the list changed under them, so a lookup in a
    loop over the steps stays linear, not quadratic, in the plan's size (case 42)."""
    pos = _positions(items, attr)
    i = pos.get(value)
    if i is not None and i < len(items) and getattr(items[i], attr) == value:
        return items[i]
    pos.clear()
    for k in range(len(items) - 1, -1, -1):
        pos[getattr(items[k], attr)] = k
    i = pos.get(value)
    return None if i is None else items[i]


def find_order(items: list[Any], order: int) -> Any:
    """The first item of `items` whose `.order` is `order` (KeyError if none), in constant time."""
    found = _find(items, "order", order)
    if found is None:
        raise KeyError(order)
    return found


def plan_invariant_errors(body: PlanBody) -> list[str]:
    """Every broken invariant of a plan, each phrased so that the model can fix it."""
    errors: list[str] = []
    if not body.steps:
        errors.append("steps: the plan has no steps; give at least one")
    if len(body.steps) > MAX_PLAN_STEPS:
        return [
            f"steps: the plan has {len(body.steps)} steps; planfirst takes at most {MAX_PLAN_STEPS} "
            "— plan a smaller task, or group the work into fewer, larger steps"
        ]
    orders = [s.order for s in body.steps]
    ids: dict[str, int] = {}
    for s in body.steps:
        if s.id and s.id in ids:
            errors.append(
                f"steps[{s.order}].id: {s.id!r} is also the id of step {ids[s.id]}; each step has its own id"
            )
        elif s.id:
            ids[s.id] = s.order
    seen: set[int] = set()
    for o in orders:
        if o in seen:
            errors.append(f"steps: order {o} is repeated; number steps 1..N once each")
        seen.add(o)
    expected = list(range(1, len(body.steps) + 1))
    if sorted(set(orders)) != expected and len(seen) == len(orders):
        errors.append(
            f"steps: orders are {orders}; they must be exactly 1..{len(body.steps)} with no gaps"
        )
    if orders != sorted(orders):
        errors.append(f"steps: listed in the order {orders}; list them in ascending order")
    modify = {f.path for f in body.files_to_modify}
    create = {f.path for f in body.files_to_create}
    both = modify & create
    for p in sorted(both):
        errors.append(f"files: {p!r} is in both files_to_modify and files_to_create; keep one")
    for s in body.steps:
        for p in s.files_to_modify:
            if p not in modify and p not in create:
                errors.append(
                    f"steps[{s.order}].files_to_modify: {p!r} is not in the plan's files_to_modify; add it there or drop it"
                )
        for p in s.files_to_create:
            if p not in create:
                errors.append(
                    f"steps[{s.order}].files_to_create: {p!r} is not in the plan's files_to_create; add it there or drop it"
                )
        for cmd in s.validation:
            if not cmd.strip():
                errors.append(f"steps[{s.order}].validation: a command is empty")
    known = modify | create
    graph: dict[str, list[str]] = {}
    for f in body.files_to_modify:
        for d in f.depends_on:
            if d not in known:
                errors.append(
                    f"files_to_modify[{f.path!r}].depends_on: {d!r} is not a file of this plan"
                )
            if d == f.path:
                errors.append(
                    f"files_to_modify[{f.path!r}].depends_on: a file cannot depend on itself"
                )
        graph[f.path] = [d for d in f.depends_on if d != f.path]
    cycle = _find_cycle(graph)
    if cycle:
        errors.append("files_to_modify.depends_on: dependency cycle " + " -> ".join(cycle))
    # A file must not be first touched by a step that comes before the step touching its dependency.
    first_step: dict[str, int] = {}
    for s in sorted(body.steps, key=lambda s: s.order):
        for p in s.files:
            first_step.setdefault(p, s.order)
    for f in body.files_to_modify:
        for d in f.depends_on:
            if f.path in first_step and d in first_step and first_step[d] > first_step[f.path]:
                errors.append(
                    f"steps: {f.path!r} depends on {d!r}, but step {first_step[f.path]} changes it "
                    f"before step {first_step[d]} handles {d!r}; a step must not depend on a later step"
                )
    return errors


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if state.get(m) is None:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for node in list(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


# ---------------------------------------------------------------- server-owned state


class PlanStatus(StrEnum):
    """Where a plan is in its life."""

    DRAFT = "draft"
    APPROVED = "approved"
    EXECUTING = "executing"
    DONE = "done"
    FAILED = "failed"


class StepStatus(StrEnum):
    """Where one step is: pending → running → applied → done | failed (rejected returns to pending)."""

    PENDING = "pending"
    RUNNING = "running"
    APPLIED = "applied"  # edit applied, not yet validated (resume validates it)
    DONE = "done"
    FAILED = "failed"
    UNDONE = "undone"


class RunOutcome(StrEnum):
    """What became of one attempt at a step (stored in plan.json as the plain string)."""

    PENDING = "pending"  # asking the model
    PROPOSED = "proposed"  # the model proposed an edit; waiting for the editor
    APPLIED = "applied"  # the user applied the edit
    REJECTED = "rejected"  # the user declined the edit (or a trust-file confirmation)
    ERROR = "error"  # the model call failed
    CANCELLED = "cancelled"  # cancelled while asking or proposing
    NO_CHANGE = "no_change"  # the model proposed nothing
    INTERRUPTED = "interrupted"  # the server stopped before the edit landed
    UNDONE = "undone"  # the inverse edit of an undo
    APPLIED_UNDONE = "applied-undone"  # an applied edit that was later undone
    CONFLICT = "conflict"  # a file changed while the model worked; nothing was applied


class Usage(BaseModel):
    """Token usage and estimated cost of one or more model calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0

    def add(self, other: Usage) -> Usage:
        """Accumulate `other` into self and return self."""
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_creation_input_tokens += other.cache_creation_input_tokens
        self.cache_read_input_tokens += other.cache_read_input_tokens
        self.cost_usd = round(self.cost_usd + other.cost_usd, 6)
        self.calls += other.calls
        return self


class ValidationResult(BaseModel):
    """One validation command's outcome."""

    command: str
    exit_code: int | None = None
    passed: bool = False
    duration_s: float = 0.0
    output: str = ""
    timed_out: bool = False
    cancelled: bool = False
    refused: str | None = None  # why the command was not run (policy), if it was not


class StepRun(BaseModel):
    """One attempt at a step: what was asked, what was proposed, what happened."""

    attempt: int  # the run's number in the step's history (1 = first run ever)
    # which try of one Execute / Retry this run was (1 = first; 0 in plans written before it was
    # recorded): a server restarted mid-step goes on counting toward maxAttempts from it
    execution_attempt: int = 0
    started_at: str = Field(default_factory=now_iso)
    finished_at: str | None = None
    model: str = ""
    prompt_hash: str = ""
    usage: Usage = Field(default_factory=Usage)
    proposed_diff: str = ""
    outcome: RunOutcome = RunOutcome.PENDING
    error: str | None = None
    stale_files: list[str] = Field(default_factory=list)
    validation: list[ValidationResult] = Field(default_factory=list)
    before: dict[str, str | None] = Field(
        default_factory=dict
    )  # path -> text before (None: did not exist)
    after: dict[str, str | None] = Field(default_factory=dict)  # path -> approved text
    sent: dict[str, str] = Field(default_factory=dict)  # path -> how the prompt carried it
    # when the edit landed, in the plan's order of applied edits (Plan.edit_seq; 0: applied
    # before it was recorded, i.e. before every numbered edit): undo goes by it (core/workflow/records.py)
    applied_seq: int = 0
    # a review that applied part of the proposal ("Some files…", an unticked change): the files
    # left out whole (they keep their text) and the files applied in part; `after` is what landed
    left_out: list[str] = Field(default_factory=list)
    applied_in_part: list[str] = Field(default_factory=list)

    @property
    def partly_applied(self) -> bool:
        """Did the user apply only part of this run's proposal?"""
        return bool(self.left_out or self.applied_in_part)


class StepState(BaseModel):
    """Server-owned state of one step."""

    order: int
    status: StepStatus = StepStatus.PENDING
    runs: list[StepRun] = Field(default_factory=list)
    # the content hash (plan/revision_diff.content_hash) of the step as the user approved it;
    # "" = not approved (or approved before per-step approval was recorded: see plan status)
    approved: str = ""
    # a done step a revision changed: its edit is still on disk, the new text is not done yet
    needs_redo: bool = False

    @property
    def last_run(self) -> StepRun | None:
        """The most recent attempt, if any."""
        return self.runs[-1] if self.runs else None

    def partly_applied(self) -> tuple[list[str], list[str]]:
        """(files left out, files applied in part) of the step's edits on disk now: what a
        review left out of a run, unless a later run on disk applied that file whole."""
        left: dict[str, str] = {}
        for r in self.runs:
            if r.outcome != RunOutcome.APPLIED:
                continue
            for p in r.after:
                left.pop(p, None)
            left.update({p: "out" for p in r.left_out})
            left.update({p: "part" for p in r.applied_in_part})
        return sorted(p for p, k in left.items() if k == "out"), sorted(
            p for p, k in left.items() if k == "part"
        )


class ContextEntry(BaseModel):
    """A file considered for the model's context: included (with hash) or cut (with reason)."""

    path: str
    sha256: str | None = None
    tokens: int = 0
    reason: str = ""  # why included ("selection", "named", "import", "manifest", "test") or cut


class Provenance(BaseModel):
    """Where a plan came from: models, times, the context it saw."""

    planning_model: str = ""
    execution_model: str = ""
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)
    context_files: dict[str, str] = Field(default_factory=dict)  # path -> sha256 at plan time
    included: list[ContextEntry] = Field(default_factory=list)
    cut: list[ContextEntry] = Field(default_factory=list)
    context_tokens: int = 0
    critique: CritiqueRecord | None = None


class Finding(BaseModel):
    """A plan-lint finding (core/planning/plan_lint.py) or a critic's finding (core/planning/critique.py)."""

    rule: str
    severity: str  # error | warning | info
    message: str
    step: int | None = None
    section: str | None = None
    source: str = "lint"  # lint | critique
    field: str | None = None  # the plan field a critique finding concerns
    evidence: list[str] = Field(default_factory=list)  # "path:line — what is there"
    fix: str = ""  # the critic's concrete fix


class CritiqueRecord(BaseModel):
    """The critique pass of the current revision: who critiqued, the tightening round, the cost."""

    model: str = ""
    at: str = Field(default_factory=now_iso)
    rounds: int = 0  # tightening rounds: error findings sent back to the planner (0 or 1)
    fixed: list[str] = Field(default_factory=list)  # findings the tightening round resolved
    usage: Usage = Field(default_factory=Usage)  # the critic's and the tightening round's calls
    notes: list[str] = Field(default_factory=list)  # e.g. why a critique failed


class Diagnosis(_Strict):
    """The model's account of why the test criteria failed, against the plan."""

    suspect_step: int | None = Field(
        default=None, description="The step whose assumption most likely broke, if any"
    )
    broken_assumption: str = Field(description="Which assumption or step expectation did not hold")
    explanation: str = Field(description="What the failing output shows")
    suggested_fix: str = Field(description="What to change in the plan or code, in words")


class StepChange(BaseModel):
    """How one step changed from one revision to the next (plan/revision_diff.py)."""

    id: str
    before: int | None = None  # its order in the previous revision (None: added)
    after: int | None = None  # its order in this revision (None: removed)
    kinds: list[str] = Field(default_factory=list)  # added removed reworded files validation moved
    title: str = ""  # the first line of its description (the old one for a removed step)


class RevisionChanges(BaseModel):
    """What a revision changed against the one before it."""

    from_revision: int
    feedback: str = ""
    steps: list[StepChange] = Field(default_factory=list)  # changed steps only, in plan order
    sections: list[str] = Field(default_factory=list)  # other sections that changed
    targeted: list[str] = Field(default_factory=list)  # step ids the instruction named
    unrequested: list[str] = Field(default_factory=list)  # ids changed although not named
    dependent: list[str] = Field(default_factory=list)  # unchanged ids that lost approval


class Plan(BaseModel):
    """A stored plan: the model-filled body plus everything the server tracks about it."""

    id: str
    title: str
    task: str
    status: PlanStatus = PlanStatus.DRAFT
    revision: int = 1
    feedback: list[str] = Field(default_factory=list)  # revision feedback, oldest first
    body: PlanBody
    steps: list[StepState] = Field(default_factory=list)
    provenance: Provenance = Field(default_factory=Provenance)
    usage: Usage = Field(default_factory=Usage)
    # what diagnoses and revisions cost once the plan was approved (failed, refused and
    # budget-stopped ones included): counted by planfirst.budget.maxCostPerPlan with the steps
    extra_spent: float = 0.0
    findings: list[Finding] = Field(default_factory=list)
    confidence: dict[str, Any] = Field(default_factory=dict)  # plan-lint summary for the header
    final_validation: list[ValidationResult] = Field(default_factory=list)
    diagnosis: Diagnosis | None = None
    # the execution model chosen at approval (None: the planfirst.executionModel setting)
    execution_model: str | None = None
    estimate: CostEstimate | None = None  # before approval: what executing it should cost
    complete: bool = True  # False while a plan is still streaming in; never persisted as done
    step_seq: int = 0  # the highest number given to a step id "s<n>" in this plan's life
    edit_seq: int = 0  # how many edits landed in this plan's life (StepRun.applied_seq)
    changes: RevisionChanges | None = None  # against the previous revision

    @model_validator(mode="after")
    def _sync_steps(self) -> Plan:
        self.assign_step_ids()
        have = {s.order: s for s in self.steps}
        self.steps = [have.get(s.order) or StepState(order=s.order) for s in self.body.steps]
        return self

    def assign_step_ids(self) -> None:
        """Give every step without an id a new one ("s<n>", never reused in this plan's life)."""
        for s in self.body.steps:
            m = re.fullmatch(r"s(\d+)", s.id)
            if m:
                self.step_seq = max(self.step_seq, int(m.group(1)))
        taken = {s.id for s in self.body.steps}
        for s in self.body.steps:
            if not s.id:
                self.step_seq += 1
                while f"s{self.step_seq}" in taken:
                    self.step_seq += 1
                s.id = f"s{self.step_seq}"
                taken.add(s.id)

    def step_by_id(self, step_id: str) -> Step | None:
        """The step with this id, if the plan has it (constant time, like `state`)."""
        found: Step | None = _find(self.body.steps, "id", step_id)
        return found

    def state(self, order: int) -> StepState:
        """The server-owned state of step `order` (KeyError if absent); constant time, so that
        rendering, lenses and listing stay linear in the number of steps (case 42)."""
        found: StepState = find_order(self.steps, order)
        return found

    def next_step(self) -> int | None:
        """The first step not yet done, or None when every step is done."""
        for s in self.steps:
            if s.status != StepStatus.DONE:
                return s.order
        return None

    def counts(self) -> dict[str, int]:
        """Step counts by status, plus the total."""
        out: dict[str, int] = {"total": len(self.steps)}
        for s in self.steps:
            out[s.status.value] = out.get(s.status.value, 0) + 1
        return out

    def summary_row(self) -> dict[str, Any]:
        """The compact listing used by `planfirst.listPlans` and `planfirst plans`."""
        c = self.counts()
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "revision": self.revision,
            "steps": {"total": c["total"], "done": c.get("done", 0), "failed": c.get("failed", 0)},
        }
