"""The plan document as a table of sections, in document order.

Each `Section` has a title, a body that writes its lines, a test for whether the plan shows it,
and (for the model-filled sections a user may edit in plan.md) the field it is parsed back into
by `parse_markdown` (plan/render.py). Server-owned sections (changes, context, findings,
critique, results, diagnosis) have no field: their lines are blockquotes and never parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from planfirst.plan import revision_view
from planfirst.plan.criteria import criteria_commands
from planfirst.plan.markup import Writer, code, escape_prose, item, step_id_comment
from planfirst.plan.model import Finding, Plan, RunOutcome, StepRun, StepStatus

STATUS_MARK = {
    StepStatus.PENDING: "[ ] pending",
    StepStatus.RUNNING: "[~] running",
    StepStatus.APPLIED: "[~] applied, not yet validated",
    StepStatus.DONE: "[x] done",
    StepStatus.FAILED: "[!] failed",
    StepStatus.UNDONE: "[ ] undone",
}


def _always(plan: Plan) -> bool:
    return True


@dataclass(frozen=True)
class Section:
    """One `## title` section of the plan document."""

    title: str
    body: Callable[[Writer, Plan], None]
    shown: Callable[[Plan], bool] = _always
    field: str | None = None  # what parse_markdown reads it back into; None: server-owned
    heading: Callable[[Plan], str] | None = None  # a title that depends on the plan

    def title_for(self, plan: Plan) -> str:
        """The section's heading text for this plan."""
        return self.heading(plan) if self.heading is not None else self.title


def finding_details(w: Writer, f: Finding, lead: str) -> None:
    """A critic's evidence and fix under its finding (server-owned blockquote lines)."""
    for e in f.evidence:
        w.add(f"{lead}evidence: {e}")
    if f.fix:
        w.add(f"{lead}fix: {f.fix}")


def _changes(w: Writer, plan: Plan) -> None:
    w.add(*revision_view.changes_lines(plan))


def _task(w: Writer, plan: Plan) -> None:
    w.add(escape_prose(plan.task.strip()) or "_(none)_")


def _summary(w: Writer, plan: Plan) -> None:
    w.add(escape_prose(plan.body.summary.strip()) or "_(none)_")


def _files_to_modify(w: Writer, plan: Plan) -> None:
    if not plan.body.files_to_modify:
        w.add("_(none)_")
    for f in plan.body.files_to_modify:
        item(w, f"{code(f.path)} — {f.changes.strip()}")
        if f.depends_on:
            w.add("  - depends on: " + ", ".join(code(d) for d in f.depends_on))


def _files_to_create(w: Writer, plan: Plan) -> None:
    if not plan.body.files_to_create:
        w.add("_(none)_")
    for f in plan.body.files_to_create:
        item(w, f"{code(f.path)} — {f.purpose.strip()}")
        if f.exports:
            w.add("  - exports: " + ", ".join(code(e) for e in f.exports))


def _dependency_changes(w: Writer, plan: Plan) -> None:
    d = plan.body.dependency_changes
    if not d.packages and not d.config:
        w.add("_(none)_")
    for p in d.packages:
        ver = f" {code(p.version)}" if p.version else ""
        item(w, f"{code(p.name)}{ver} ({p.manager})")
    for cfg in d.config:
        item(w, f"config: {cfg.strip()}")


def _steps(w: Writer, plan: Plan) -> None:
    """The steps, each a `### Step` block; where each one is goes to `w.steps`."""
    by_step: dict[int, list[Finding]] = {}
    for f in plan.findings:
        if f.step is not None:
            by_step.setdefault(f.step, []).append(f)
    notes_index = revision_view.NotesIndex(plan)
    for s in plan.body.steps:
        st = plan.state(s.order)
        start = w.n
        w.add(f"### Step {s.order} · {STATUS_MARK[st.status]}")
        w.add(step_id_comment(s.id), *revision_view.step_notes(plan, s, notes_index), "")
        w.add(escape_prose(s.description.strip()) or "_(no description)_", "")
        if s.files_to_modify:
            w.add("- Modify: " + ", ".join(code(p) for p in s.files_to_modify))
        if s.files_to_create:
            w.add("- Create: " + ", ".join(code(p) for p in s.files_to_create))
        w.add("- Validation:" + ("" if s.validation else " _(none)_"))
        for cmd in s.validation:
            w.add(f"  - {code(cmd)}")
        run = st.last_run
        if run is not None:
            w.add("")
            line = f"> Last run: attempt {run.attempt} · {outcome_words(run)}"
            if run.validation:
                ok = all(v.passed for v in run.validation)
                line += " · validation " + ("passed" if ok else "failed")
            if run.error:
                line += f" · {run.error.splitlines()[0][:200]}"
            w.add(line)
        for f in by_step.get(s.order, []):
            w.add(f"> {f.severity}: {f.message} ({f.rule})")
            finding_details(w, f, "> ")
        while w.lines[-1] == "":
            w.lines.pop()
        w.steps[s.order] = (start, w.n - 1)
        w.add("")


def outcome_words(run: StepRun) -> str:
    """A run's outcome in words: "applied", or "partly applied (left out: `a.py`)" when the
    review applied only part of it (#33)."""
    if run.outcome != RunOutcome.APPLIED or not run.partly_applied:
        return str(run.outcome)
    parts = []
    if run.left_out:
        parts.append("left out: " + ", ".join(code(p) for p in run.left_out))
    if run.applied_in_part:
        parts.append("in part: " + ", ".join(code(p) for p in run.applied_in_part))
    return f"partly applied ({'; '.join(parts)})"


def _bullets(w: Writer, items: list[str]) -> None:
    if not items:
        w.add("_(none)_")
    for it in items:
        item(w, it.strip())


def _test_criteria(w: Writer, plan: Plan) -> None:
    _bullets(w, plan.body.test_criteria)
    runs = criteria_commands(plan.body.test_criteria)
    w.add("")
    if runs:
        w.add(
            "> Runs after the last step: "
            + ", ".join(code(c) for c in runs)
            + ". Every other criterion is for you to check."
        )
    else:
        w.add(
            "> No criterion runs as a command (a command runs only when a criterion starts with it in backticks)."
        )


def _risks(w: Writer, plan: Plan) -> None:
    _bullets(w, plan.body.risks)


def _assumptions(w: Writer, plan: Plan) -> None:
    _bullets(w, plan.body.assumptions)


def _context(w: Writer, plan: Plan) -> None:
    prov = plan.provenance
    w.add(
        f"> {len(prov.included)} file(s) given to the model (~{prov.context_tokens:,} tokens); "
        f"{len(prov.cut)} left out."
    )
    for e in prov.included:
        w.add(f"> - included {code(e.path)} ({e.reason})")
    for e in prov.cut:
        w.add(f"> - left out {code(e.path)} ({e.reason})")


def _review_findings(w: Writer, plan: Plan) -> None:
    for f in plan.findings:
        where = f"step {f.step}: " if f.step else ""
        w.add(f"> - **{f.severity}** {where}{f.message} ({f.rule})")
        finding_details(w, f, ">   ")


def _critique_shown(plan: Plan) -> bool:
    crit = plan.provenance.critique
    return crit is not None and bool(crit.fixed or crit.notes)


def _critique(w: Writer, plan: Plan) -> None:
    crit = plan.provenance.critique
    assert crit is not None  # shown only with a critique
    for m in crit.fixed:
        w.add(f"> - fixed by the tightening round: {m}")
    for n in crit.notes:
        w.add(f"> - {n}")


def _final_validation(w: Writer, plan: Plan) -> None:
    for v in plan.final_validation:
        w.add(f"> - {code(v.command)}: {'passed' if v.passed else 'FAILED'}")


def _diagnosis(w: Writer, plan: Plan) -> None:
    d = plan.diagnosis
    assert d is not None  # shown only with a diagnosis
    if d.suspect_step:
        w.add(f"> Suspect step: {d.suspect_step}")
    w.add(f"> Broken assumption: {d.broken_assumption}")
    w.add(f"> What the output shows: {d.explanation}")
    w.add(f"> Suggested fix: {d.suggested_fix}")


PLAN_SECTIONS: tuple[Section, ...] = (
    Section(
        "Changes",
        _changes,
        shown=lambda plan: bool(revision_view.changes_title(plan)),
        heading=lambda plan: revision_view.changes_title(plan) or "",
    ),
    Section("Task", _task, field="task"),
    Section("Summary", _summary, field="summary"),
    Section("Files to modify", _files_to_modify, field="files_to_modify"),
    Section("Files to create", _files_to_create, field="files_to_create"),
    Section("Dependency changes", _dependency_changes, field="dependency_changes"),
    Section("Steps", _steps, field="steps"),
    Section("Test criteria", _test_criteria, field="test_criteria"),
    Section("Risks", _risks, field="risks"),
    Section("Assumptions", _assumptions, field="assumptions"),
    Section(
        "Context",
        _context,
        shown=lambda plan: bool(plan.provenance.included or plan.provenance.cut),
    ),
    Section("Review findings", _review_findings, shown=lambda plan: bool(plan.findings)),
    Section("Critique", _critique, shown=_critique_shown),
    Section(
        "Test criteria results", _final_validation, shown=lambda plan: bool(plan.final_validation)
    ),
    Section("Diagnosis", _diagnosis, shown=lambda plan: bool(plan.diagnosis)),
)

# The sections parse_markdown reads back: heading → field.
SECTIONS = {s.title: s.field for s in PLAN_SECTIONS if s.field is not None}
