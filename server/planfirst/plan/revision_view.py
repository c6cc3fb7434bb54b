"""The revision parts of the plan document: what needs approval (header), "Changes in revision
N" and the notes under a changed step (revision_text.py diffs two revisions' text).

Every line here is server-owned (a blockquote), so parsing a hand-edited plan.md ignores it.
"""

from __future__ import annotations

from planfirst.plan.model import Plan, PlanStatus, Step
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
        keep = [s.order for s in plan.body.steps if s not in need]
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
        named = [s.order for s in plan.body.steps if s.id in ch.targeted]
        head += f" · only {_steps(named)} to change" if named else ""
    out = [head]
    if not ch.steps:
        out.append("> - no step changed")
    for c in ch.steps:
        if c.after is None:
            out.append(
                f"> - removed: step {c.before} of revision {ch.from_revision} ({c.id}) — {_one_line(c.title, 100)}"
            )
            continue
        line = f"> - Step {c.after} ({c.id}): {change_line(c)}"
        if "added" in c.kinds:
            line += f" — {_one_line(c.title, 100)}"
        if c.id in ch.unrequested:
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


def step_notes(plan: Plan, step: Step) -> list[str]:
    """Blockquote lines under a step's heading: how this revision changed it, and what it needs."""
    out: list[str] = []
    ch = plan.changes
    change = next((c for c in ch.steps if c.id == step.id), None) if ch else None
    if ch is not None and change is not None:
        out.append(f"> Changed in revision {plan.revision}: {change_line(change)}")
        if step.id in ch.unrequested:
            out.append(
                "> ⚠ Not asked for: the instruction did not name this step, and the model changed it anyway"
            )
    if ch is not None and step.id in ch.dependent:
        out.append("> Needs approval again: it builds on a step this revision changed")
    if step in plan.body.steps and redo_pending(plan, step.order):
        out.append(
            "> Needs redo: this step was done, then this revision changed it; its edit is still on "
            "disk (undo it, or execute the new text on top)"
        )
    return out
