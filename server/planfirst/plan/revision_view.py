"""The revision parts of the plan document: what needs approval (header), "Changes in revision
N" and the notes under a changed step (revision_text.py holds the text two revisions are
compared on).

Every line here is server-owned (a blockquote), so parsing a hand-edited plan.md ignores it.
"""

from __future__ import annotations

import bisect

from planfirst.plan.model import Plan, PlanStatus, RunOutcome, Step
from planfirst.plan.revision_diff import change_line, needing_approval, redo_pending


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return flat.replace("<!--", "\\<!--")


def _steps(orders: list[int]) -> str:
    return ("step " if len(orders) == 1 else "steps ") + ", ".join(str(o) for o in orders)


def header_lines(plan: Plan) -> list[str]:
    """What needs approval, and what needs redoing, for the plan's header."""
    out: list[str] = []
    redo = [st.order for st in plan.steps if redo_pending(plan, st.order)]
    if plan.status == PlanStatus.DRAFT and (plan.changes is not None or plan.revision > 1):
        need = needing_approval(plan)
        needed = {id(s) for s in need}  # by identity: `s not in need` compared every pair (case 42)
        keep = [s.order for s in plan.body.steps if id(s) not in needed]
        if need:
            line = f"> **Needs approval:** {_steps([s.order for s in need])}"
            if keep:
                line += f" · {_steps(keep)} keep{'s' if len(keep) == 1 else ''} their approval"
        else:
            line = "> **Needs approval:** no step changed; approve to go on"
        out.append(line)
    if redo:
        out.append(
            f"> **Needs redo:** {_steps(redo)} (done, then changed by a revision: execute again "
            "on top of the edit on disk, or undo it first)"
        )
    return out


def _on_disk(plan: Plan, order: int) -> bool:
    """Whether step `order` has an edit on disk now (an applied run: core/workflow/records.py)."""
    try:
        st = plan.state(order)
    except KeyError:
        return False
    return any(r.outcome == RunOutcome.APPLIED for r in st.runs)


class NotesIndex:
    """The revision's changes by step id and the steps with an edit on disk, built once per
    rendering (a lookup per step in the lists would make rendering quadratic in the plan's size,
    docs/reliability.md case 42)."""

    def __init__(self, plan: Plan) -> None:
        ch = plan.changes
        self.changes = {c.id: c for c in reversed(ch.steps)} if ch else {}
        self.unrequested = set(ch.unrequested) if ch else set()
        self.dependent = set(ch.dependent) if ch else set()
        self.on_disk = sorted(s.order for s in plan.body.steps if _on_disk(plan, s.order))


def lands_on_top(plan: Plan, step: Step, index: NotesIndex | None = None) -> list[int]:
    """The later steps whose edits are on disk while `step` (added or moved before them by this
    revision) has none: its edit will land on top of theirs, so it is undone before them."""
    if plan.changes is None:
        return []
    idx = index or NotesIndex(plan)
    change = idx.changes.get(step.id)
    if change is None or not {"added", "moved"} & set(change.kinds):
        return []
    if _on_disk(plan, step.order):
        return []
    return idx.on_disk[bisect.bisect_right(idx.on_disk, step.order) :]


def undo_note(plan: Plan, step: Step, index: NotesIndex | None = None) -> str | None:
    """What a step put before steps with an edit on disk means for undo, in one sentence."""
    later = lands_on_top(plan, step, index)
    if not later:
        return None
    return (
        f"Step {step.order} comes before {_steps(later)}, whose edit is on disk: once executed, its "
        f"edit lands on top of theirs, so undo it before {_steps(later)} (edits are undone in the "
        "order they were applied, last first)"
    )


def changes_title(plan: Plan) -> str | None:
    """The title of the changes section, when the plan has one."""
    return f"Changes in revision {plan.revision}" if plan.changes is not None else None


def changes_lines(plan: Plan) -> list[str]:
    """The body of the "Changes in revision N" section."""
    ch = plan.changes
    if ch is None:
        return []
    head = f"> Compared with revision {ch.from_revision}"
    if ch.feedback.startswith("(") and ch.feedback.endswith(")"):  # "(edited by hand in plan.md)"
        head += f" · {_one_line(ch.feedback)}"
    elif ch.feedback:
        head += f" · asked for: {_one_line(ch.feedback)}"
    if ch.targeted:
        targeted = set(ch.targeted)
        named = [s.order for s in plan.body.steps if s.id in targeted]
        head += f" · only {_steps(named)} to change" if named else ""
    out = [head]
    if not ch.steps:
        out.append("> - no step changed")
    unrequested = set(ch.unrequested)
    for c in ch.steps:
        if c.after is None:
            out.append(
                f"> - removed: step {c.before} of revision {ch.from_revision} ({c.id}) — {_one_line(c.title, 100)}"
            )
            continue
        line = f"> - Step {c.after} ({c.id}): {change_line(c)}"
        if "added" in c.kinds:
            line += f" — {_one_line(c.title, 100)}"
        if c.id in unrequested:
            line += " · ⚠ not asked for"
        out.append(line)
    for sid in ch.dependent:
        step = plan.step_by_id(sid)
        if step is not None:
            out.append(
                f"> - Step {step.order} ({sid}): unchanged, needs approval again (it builds on a changed step)"
            )
    if ch.sections:
        out.append("> - also changed: " + ", ".join(ch.sections))
    out.append(
        f'> Compare the whole text with the "Compare with revision {ch.from_revision}" lens '
        "(command `planfirst.diffPlan`)."
    )
    return out


def step_notes(plan: Plan, step: Step, index: NotesIndex | None = None) -> list[str]:
    """Blockquote lines under a step's heading: how this revision changed it, and what it needs."""
    out: list[str] = []
    ch = plan.changes
    idx = index or NotesIndex(plan)
    change = idx.changes.get(step.id) if ch else None
    if ch is not None and change is not None:
        out.append(f"> Changed in revision {plan.revision}: {change_line(change)}")
        if step.id in idx.unrequested:
            out.append(
                "> ⚠ Not asked for: the instruction did not name this step, and the model changed it anyway"
            )
    if ch is not None and step.id in idx.dependent:
        out.append("> Needs approval again: it builds on a step this revision changed")
    note = undo_note(plan, step, idx)
    if note is not None:
        out.append(f"> {note}.")
    if _current(plan, step) and redo_pending(plan, step.order):
        out.append(
            "> Needs redo: this step was done, then this revision changed it; its edit is still on "
            "disk (undo it, or execute the new text on top)"
        )
    return out


def _current(plan: Plan, step: Step) -> bool:
    """Whether `step` is one of the plan's steps (what `step in plan.body.steps` said, by order
    instead of comparing every step)."""
    try:
        mine = plan.body.step(step.order)
    except KeyError:
        return False
    return mine is step or mine == step
