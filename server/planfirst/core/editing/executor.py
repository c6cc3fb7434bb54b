"""(plan, step, fresh file contents) → ProposedChange, via the text editor tool on an overlay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from planfirst.core.editing import outline
from planfirst.core.editing.edits import unified_diff
from planfirst.core.editing.overlay import Overlay
from planfirst.llm import prompts
from planfirst.llm.model import (
    TEXT_EDITOR_TOOL,
    Model,
    ModelEvents,
    ModelRequest,
    ModelRun,
    ToolSpec,
)
from planfirst.plan.model import Plan, PlanBody, RunOutcome, Step

EDITOR_TOOL = ToolSpec(name=TEXT_EDITOR_TOOL, anthropic_type="text_editor_20250728")


@dataclass
class FileChange:
    """One file's proposed new text (old None: a new file; new None: the file is deleted)."""

    path: str
    old: str | None
    new: str | None


@dataclass
class ProposedChange:
    """Everything a step wants to change, before anyone approved it."""

    files: list[FileChange] = field(default_factory=list)
    sent: dict[str, str] = field(default_factory=dict)  # path -> how the prompt carried it
    refused: list[str] = field(default_factory=list)  # writes the workspace refused (Overlay)

    @property
    def diff(self) -> str:
        """The unified diff of all files, for logs and the plan record."""
        return "".join(unified_diff(f.path, f.old, f.new) for f in self.files)

    @property
    def empty(self) -> bool:
        """True when nothing would change."""
        return not self.files


def plan_overview(body: PlanBody) -> str:
    """The part of the plan that is identical for every step (the cacheable prefix)."""
    lines = ["<plan>", f"Summary: {body.summary.strip()}", "", "Files to modify:"]
    lines += [f"- {f.path}: {f.changes.strip()}" for f in body.files_to_modify] or ["- (none)"]
    lines += ["", "Files to create:"]
    lines += [f"- {f.path}: {f.purpose.strip()}" for f in body.files_to_create] or ["- (none)"]
    d = body.dependency_changes
    if d.packages or d.config:
        lines += ["", "Dependency changes:"]
        lines += [f"- {p.name} {p.version} ({p.manager})".replace("  ", " ") for p in d.packages]
        lines += [f"- config: {c}" for c in d.config]
    lines += ["", "Steps (one line each):"]
    for s in body.steps:
        first = s.description.strip().splitlines()[0] if s.description.strip() else ""
        lines.append(f"{s.order}. {first}")
    if body.test_criteria:
        lines += ["", "Test criteria:"] + [f"- {t}" for t in body.test_criteria]
    if body.assumptions:
        lines += ["", "Assumptions:"] + [f"- {a}" for a in body.assumptions]
    if body.risks:
        lines += ["", "Risks:"] + [f"- {r}" for r in body.risks]
    lines.append("</plan>")
    return "\n".join(lines)


def step_text(step: Step) -> str:
    """A step in full, as the model sees it."""
    out = [f"Step {step.order}: {step.description.strip()}"]
    if step.files_to_modify:
        out.append("Modify: " + ", ".join(step.files_to_modify))
    if step.files_to_create:
        out.append("Create: " + ", ".join(step.files_to_create))
    if step.validation:
        out.append("Validation: " + " ; ".join(step.validation))
    return "\n".join(out)


def completed_summary(plan: Plan, current: int) -> str:
    """Completed steps in one line each, so long plans do not blow the context."""
    out = []
    for s in plan.body.steps:
        if s.order >= current:
            break
        st = plan.state(s.order)
        first = s.description.strip().splitlines()[0] if s.description.strip() else ""
        # the overview already lists every step and file: one short status line is enough
        out.append(f"{s.order}. [{st.status.value}] {first[:80]}")
    return "\n".join(out)


def neighbours_text(plan: Plan, current: int) -> str:
    """The steps right before and after the current one, in full."""
    out = []
    for n in (current - 1, current + 1):
        try:
            s = plan.body.step(n)
        except KeyError:
            continue
        label = "previous" if n < current else "next"
        out.append(f"({label}) {step_text(s)}")
    return "\n\n".join(out)


@dataclass(frozen=True)
class LargeFiles:
    """When a file goes into the prompt as an outline plus windows (core/editing/outline.py)."""

    max_lines: int = 600
    max_chars: int = 24_000
    sites: dict[str, list[int]] = field(default_factory=dict)  # earlier attempts' edit sites


def file_views(
    step: Step, files: dict[str, str | None], errors: str | None, large: LargeFiles
) -> tuple[dict[str, str | None], dict[str, str]]:
    """Each file as the prompt carries it, and what was sent (for the provenance record)."""
    hints = step_text(step) + "\n" + (errors or "")
    shown: dict[str, str | None] = {}
    sent: dict[str, str] = {}
    for path, text in files.items():
        if text is not None and outline.is_large(text, large.max_lines, large.max_chars):
            v = outline.view(path, text, hints, large.sites.get(path))
            shown[path], sent[path] = v.text, v.sent
        else:
            shown[path] = text
            sent[path] = "missing" if text is None else "whole"
    return shown, sent


def files_block(files: dict[str, str | None], own: set[str] | None = None) -> str:
    """Current file contents as delimited data blocks (a missing file is marked as such, and so
    is a file an earlier attempt of this step created)."""
    parts = []
    for path in sorted(files):
        text = files[path]
        if text is None:
            parts.append(f'<file path="{path}" status="does not exist yet"/>')
        else:
            body = text.replace("</file>", "<\\/file>")
            mark = (
                ' status="created by an earlier attempt of this step; edit it"'
                if own and path in own
                else ""
            )
            parts.append(f'<file path="{path}"{mark}>\n{body}\n</file>')
    return "\n".join(parts)


def build_request(
    plan: Plan,
    step: Step,
    files: dict[str, str | None],
    *,
    stale: list[str],
    errors: str | None,
    attempt: int,
    max_turns: int,
) -> ModelRequest:
    """The execution request: stable plan overview first, the step and files (as `file_views`
    shows them) after it."""
    return ModelRequest(
        purpose="execute",
        system=prompts.EXECUTION_SYSTEM,
        stable_blocks=[plan_overview(plan.body)],
        instruction=prompts.execution_instruction(
            step_text(step),
            completed_summary(plan, step.order),
            neighbours_text(plan, step.order),
            files_block(files, created_by_earlier_attempts(plan, step)),
            stale,
            errors,
            attempt,
        ),
        tools=[EDITOR_TOOL],
        submit=None,
        max_turns=max_turns,
        thinking=True,  # planfirst.thinking.execution decides (off by default)
    )


async def propose_step(
    model: Model,
    plan: Plan,
    step: Step,
    files: dict[str, str | None],
    read_file: Callable[[str], str | None],
    resolve: Callable[[str], str],
    *,
    stale: list[str],
    errors: str | None,
    attempt: int,
    max_turns: int,
    events: ModelEvents | None = None,
    list_dir: Callable[[str], list[str] | None] | None = None,
    large: LargeFiles | None = None,
) -> tuple[ProposedChange, ModelRun]:
    """Run the execution model on an overlay and return what it wants to change. `read_file`
    raises overlay.Unreadable for a path that is not text; `list_dir` lists folders."""
    shown, sent = file_views(step, files, errors, large or LargeFiles())
    request = build_request(
        plan, step, shown, stale=stale, errors=errors, attempt=attempt, max_turns=max_turns
    )
    overlay = Overlay(
        read_file,
        allowed=step.files_to_modify,
        may_create=step.files_to_create,
        resolve=resolve,
        list_dir=list_dir,
        created_by_step=created_by_earlier_attempts(plan, step),
    )
    run = await model.run(request, overlay.handle, events)
    change = ProposedChange(
        [FileChange(p, old, new) for p, (old, new) in sorted(overlay.changes().items())],
        sent,
        overlay.refused,
    )
    return change, run


def created_by_earlier_attempts(plan: Plan, step: Step) -> set[str]:
    """Files this step's earlier applied attempts created and that are still its own: not
    removed by an undo of it (an undo whose preview kept the new file, "Undo some files…",
    leaves it the step's). A later attempt of the same step may edit them."""
    out: set[str] = set()
    for run in plan.state(step.order).runs:  # in the order they happened
        if run.outcome in (RunOutcome.APPLIED, RunOutcome.APPLIED_UNDONE):
            out.update(
                p for p, text in run.before.items() if text is None and run.after.get(p) is not None
            )
        elif run.outcome == RunOutcome.UNDONE:  # the inverse edit: what the undo left on disk
            out.difference_update(p for p in run.after if run.after[p] is None)
    return out & set(step.files_to_create)
