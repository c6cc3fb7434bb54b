"""The one source of planfirst's `workspace/executeCommand` protocol: every command's name, its
single object argument and its result, as typed dicts with the wire's camelCase keys.

lsp/app.py advertises `COMMANDS` from here; lsp/features.py validates each argument against its
`Params` type (pydantic, strict, unknown keys refused) before a handler runs; the VS Code
extension's `editor-client/src/protocol.ts` holds a block generated from this module
(`python -m planfirst.lsp.protocol --write editor-client/src/protocol.ts`), and
tests/test_protocol_source.py fails when the two drift (rust-analyzer's lsp_ext.ts tidy check).

Standard library plus `annotated_types` only: lsp/app.py imports this module to answer
`initialize`, which must not wait for pydantic (issue #17).
"""

import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, Union, get_args, get_origin

from annotated_types import Ge, MaxLen
from typing_extensions import TypedDict

# pydantic reads this from each params type: "yes" is not a bool, "1" not a step number, and an
# unknown key is an error (a misspelt `planID` would otherwise be silently ignored)
_STRICT = {"extra": "forbid", "strict": True}

PlanId = Annotated[str, MaxLen(200)]  # bounded: error messages echo it
Text = Annotated[str, MaxLen(20_000)]
Order = Annotated[int, Ge(1)]


class Position(TypedDict):
    """An LSP position (zero-based)."""

    line: Annotated[int, Ge(0)]
    character: Annotated[int, Ge(0)]


class LspRange(TypedDict):
    """An LSP range."""

    start: Position
    end: Position


# ---------------------------------------------------------------------------------- params


class GenerateParams(TypedDict, total=False):
    """planfirst.generatePlan: the task, and the selection or files it is about."""

    task: Text
    uri: Annotated[str, MaxLen(8_192)] | None
    range: LspRange | None
    files: Annotated[list[Annotated[str, MaxLen(4_096)]], MaxLen(200)]


class ReviseParams(TypedDict):
    """planfirst.revisePlan: feedback, and optionally the only steps to change."""

    planId: PlanId
    feedback: NotRequired[Text]
    # by number or step id (core/revisions.py)
    steps: NotRequired[Annotated[list[Order | Annotated[str, MaxLen(40)]], MaxLen(100)]]


DiffParams = TypedDict(
    "DiffParams",
    {
        "planId": NotRequired[PlanId | None],
        "from": NotRequired[Order | None],
        "to": NotRequired[Order | None],
    },
)
DiffParams.__doc__ = "planfirst.diffPlan: two revisions of a plan (default: the last two)."


class PlanParams(TypedDict, total=False):
    """A command about one plan (default: the active plan)."""

    planId: PlanId | None


class ApproveParams(PlanParams, total=False):
    """planfirst.approvePlan: `preview` only returns the estimate; approves nothing."""

    force: bool
    executionModel: Annotated[str, MaxLen(100)] | None
    preview: bool
    revision: Annotated[int, Ge(1)] | None  # the revision the user saw; another is refused


class StepParams(PlanParams, total=False):
    """A command about one step (default: the step the command picks)."""

    step: Order | None


class PreviewParams(StepParams, total=False):
    """planfirst.applyPreview / discardPreview: which waiting preview (default: the newest)."""

    attempt: Order | None


class NoParams(TypedDict):
    """A command without parameters (an empty object)."""


# ---------------------------------------------------------------------------------- results


class CostFigure(TypedDict):
    """A cost range on one model, in US dollars."""

    model: str
    low: float
    high: float
    prices_date: NotRequired[str]


class RevisionChange(TypedDict):
    """One step a revision changed."""

    id: str
    before: int | None
    after: int | None
    kinds: list[str]


class GenerateResult(TypedDict):
    """The new plan and its document."""

    planId: str
    uri: str
    revision: int
    findings: int


class RevisionResult(TypedDict):
    """What a revision (revisePlan, reloadPlan) changed and what it needs from the user."""

    planId: str
    revision: int
    changes: list[RevisionChange]
    needsApproval: list[int]
    needsRedo: list[int]
    notAskedFor: list[str]
    undoOrder: list[str]  # a step put before steps whose edit is on disk: what it means for undo
    uri: NotRequired[str]
    status: NotRequired[str]


DiffResult = TypedDict(
    "DiffResult", {"planId": str, "from": int, "to": int, "uri": str | None, "diff": str}
)
DiffResult.__doc__ = "The revision diff document and its text."


class ApproveResult(TypedDict):
    """The approved plan; with `preview`, only the estimate and the choices."""

    planId: str
    status: NotRequired[str]
    executionModel: NotRequired[str]
    estimate: NotRequired[CostFigure | None]
    choices: NotRequired[list[CostFigure]]
    preview: NotRequired[bool]


class StepOutcome(TypedDict):
    """The answer to executeNextStep, retryStep and undoStep."""

    planId: str | None
    step: int | None
    status: str
    attempts: int
    problems: int
    message: str
    staleFiles: list[str]


class ShowResult(TypedDict):
    """The plan document shown."""

    planId: str
    uri: str


class StepCounts(TypedDict):
    """How many steps a plan has, has done and has failed."""

    total: int
    done: int
    failed: int


class StepRow(TypedDict):
    """One step of a listed plan."""

    order: int
    status: str
    title: str
    needsRedo: NotRequired[bool]  # done, then changed by a revision
    hasEdit: NotRequired[bool]  # an edit of the step is on disk
    undoable: NotRequired[bool]  # the step planfirst.undoStep accepts now: its edit landed last
    leftOut: NotRequired[list[str]]  # partly applied: files its review left out
    appliedInPart: NotRequired[list[str]]  # partly applied: files applied in part


class PlanSummary(TypedDict):
    """One row of listPlans."""

    id: str
    title: str
    status: str
    revision: int
    steps: StepCounts
    uri: NotRequired[str]
    active: NotRequired[bool]
    stepList: NotRequired[list[StepRow]]
    busy: NotRequired[str | None]  # what runs on the plan now, here or in another process
    elsewhere: NotRequired[bool]  # busy in another planfirst process (cancel it there)


class PreviewDecision(TypedDict):
    """The preview applied or discarded."""

    planId: str
    step: int
    attempt: int
    applied: bool


class CancelResult(TypedDict):
    """The plans whose running operation was cancelled."""

    cancelled: list[str]


class StepReport(TypedDict):
    """One step of a plan's closing report (the terminal's summary table)."""

    order: int
    title: str
    status: str
    attempts: int
    inputTokens: int
    outputTokens: int
    costUsd: float
    seconds: float
    validation: str


class ChangedFile(TypedDict):
    """A file the plan changed: its text when the plan started and now (null: absent)."""

    path: str
    uri: str
    before: str | None
    after: str | None


class PlanReport(TypedDict):
    """planfirst.planReport: per step attempts, tokens, cost and time, and every file the plan
    changed with its text at the plan's start (for "Review all changes")."""

    planId: str
    title: str
    status: str
    steps: list[StepReport]
    costUsd: float
    seconds: float
    files: list[ChangedFile]
    omitted: int  # files not listed: outside the workspace, excluded, a secret, or too large


@dataclass(frozen=True)
class Command:
    """One server command: its argument and its result."""

    params: Any
    result: Any


COMMANDS: dict[str, Command] = {
    "planfirst.generatePlan": Command(GenerateParams, GenerateResult),
    "planfirst.revisePlan": Command(ReviseParams, RevisionResult),
    "planfirst.diffPlan": Command(DiffParams, DiffResult),
    "planfirst.approvePlan": Command(ApproveParams, ApproveResult),
    "planfirst.executeNextStep": Command(PlanParams, StepOutcome),
    "planfirst.retryStep": Command(StepParams, StepOutcome),
    "planfirst.undoStep": Command(StepParams, StepOutcome),
    "planfirst.showPlan": Command(PlanParams, ShowResult),
    "planfirst.listPlans": Command(NoParams, list[PlanSummary]),
    "planfirst.planReport": Command(PlanParams, PlanReport),
    "planfirst.applyPreview": Command(PreviewParams, PreviewDecision),
    "planfirst.discardPreview": Command(PreviewParams, PreviewDecision),
    "planfirst.reloadPlan": Command(PlanParams, RevisionResult),
    "planfirst.cancel": Command(PlanParams, CancelResult),
}

_STRICT_TYPES: tuple[Any, ...] = (
    GenerateParams,
    ReviseParams,
    DiffParams,
    PlanParams,
    ApproveParams,
    StepParams,
    PreviewParams,
    NoParams,
    Position,
    LspRange,
)
for _t in _STRICT_TYPES:
    _t.__pydantic_config__ = _STRICT


# ---------------------------------------------------------------------------------- TypeScript

BEGIN = "// BEGIN GENERATED from server/planfirst/lsp/protocol.py (do not edit by hand)"
END = "// END GENERATED"


def _is_typed_dict(t: Any) -> bool:
    return isinstance(t, type) and hasattr(t, "__required_keys__")


def _ts(t: Any, named: dict[str, Any]) -> str:
    """The TypeScript spelling of a Python annotation; typed dicts are named and collected."""
    origin = get_origin(t)
    if origin is Annotated:
        return _ts(get_args(t)[0], named)
    if origin is NotRequired:
        return _ts(get_args(t)[0], named)
    if origin in (Union, types.UnionType):
        return " | ".join(_ts(a, named) for a in get_args(t))
    if origin is list:
        inner = _ts(get_args(t)[0], named)
        return f"({inner})[]" if "|" in inner else f"{inner}[]"
    if origin is dict:
        return f"Record<string, {_ts(get_args(t)[1], named)}>"
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(t))
    if _is_typed_dict(t):
        named.setdefault(t.__name__, t)
        return str(t.__name__)
    simple = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}
    if t in simple:
        return simple[t]
    return "unknown"


def _interface(t: Any, named: dict[str, Any]) -> str:
    hints = typing.get_type_hints(t, include_extras=True)
    doc = " ".join((t.__doc__ or "").split())
    lines = [f"/** {doc} */"] if doc else []
    if not hints:
        lines.append(f"export type {t.__name__} = Record<string, never>;")
        return "\n".join(lines)
    lines.append(f"export interface {t.__name__} {{")
    for key, hint in hints.items():
        optional = "?" if key in t.__optional_keys__ else ""
        name = key if key.isidentifier() else repr(key)
        lines.append(f"    {name}{optional}: {_ts(hint, named)};")
    lines.append("}")
    return "\n".join(lines)


def typescript() -> str:
    """The generated block of editor-client/src/protocol.ts, markers included."""
    named: dict[str, Any] = {}
    table = [
        f"    '{name}': [{_ts(c.params, named)}, {_ts(c.result, named)}];"
        for name, c in COMMANDS.items()
    ]
    done: set[str] = set()
    blocks: list[str] = []
    while len(done) < len(named):  # interfaces may name more interfaces
        for name in sorted(set(named) - done):
            blocks.append(_interface(named[name], named))
            done.add(name)
    return "\n".join(
        [
            BEGIN,
            *(b + "\n" for b in blocks),
            "/** Command ids and argument/result shapes of the server's commands (one object argument each). */",
            "export interface ServerCommands {",
            *table,
            "}",
            "export type ServerCommandId = keyof ServerCommands;",
            END,
        ]
    )


def splice(text: str) -> str:
    """`text` (protocol.ts) with its generated block replaced by the current one."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + typescript() + text[end:]


def main(argv: list[str]) -> int:
    """`--write FILE` rewrites the generated block of FILE; `--check FILE` exits 1 if it drifted."""
    if len(argv) != 2 or argv[0] not in ("--write", "--check"):
        print(
            "usage: python -m planfirst.lsp.protocol --write|--check editor-client/src/protocol.ts"
        )
        return 2
    path = Path(argv[1])
    text = path.read_text(encoding="utf-8")
    new = splice(text)
    if argv[0] == "--write":
        path.write_text(new, encoding="utf-8")
        return 0
    if new != text:
        print(f"{path} is out of date: run python -m planfirst.lsp.protocol --write {path}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
