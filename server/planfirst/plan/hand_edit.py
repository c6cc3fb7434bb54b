"""A hand edit of plan.md that planfirst is about to re-render over (QA of #32).

plan.md is the rendering of plan.json, written again after every visible change (debounced
while an operation runs). A user may edit it and save it at any moment, also while a step runs
and the server's next write waits: that write must not make the edit disappear. Before plan.md
is replaced, its text on disk is compared with what planfirst knows it wrote: the markdown this
store last wrote, or any text whose model-filled sections (what Reload parses: task, summary,
steps, criteria, risks, assumptions) are those of the plan before or after the save. Anything
else is the user's, and is kept beside plan.md (`plan.edited.md`) before plan.md is replaced,
so that Reload of it can take the edit; the caller tells the user.

A plan.md that merely lags behind (a killed server's last transition, statuses only) or that
another planfirst process rendered is planfirst's own text, not an edit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from planfirst.plan.model import Plan, PlanBody
from planfirst.plan.render import parse_markdown

ASIDE = "plan.edited.md"  # where a hand edit re-rendered over is kept (then plan.edited-2.md, …)
MAX_ASIDE = 20


def _text(task: str, body: PlanBody) -> tuple[str, Any]:
    """What Reload would take from a plan.md: the task and the body without step ids."""
    return task.strip(), body.model_dump(exclude={"steps": {"__all__": {"id"}}})


def is_hand_edit(disk: str, written: str | None, plans: Callable[[], list[Plan]]) -> bool:
    """Whether plan.md's text on disk holds something Reload would take that none of `plans()`
    (the plan as saved now, and as it was before) says: a hand edit not reloaded yet. `plans`
    is called only when the text is not the one written last (parsing a plan costs, #32)."""
    if disk == written:
        return False
    try:
        task, body = parse_markdown(disk)
    except ValueError:  # planfirst always writes a plan.md that parses back
        return True
    return all(_text(task or p.task, body) != _text(p.task, p.body) for p in plans())


def aside_path(plan_md: Path, disk: str, read: Callable[[Path], str | None]) -> Path:
    """Where to keep the hand edit: the first of plan.edited.md, plan.edited-2.md, … that is
    free or holds this text already (the last one when all are taken). `read` is the store's
    checked reader (no link followed, no FIFO opened; None when it cannot read)."""
    path = plan_md.with_name(ASIDE)
    for n in range(1, MAX_ASIDE + 1):
        path = plan_md.with_name(ASIDE if n == 1 else f"plan.edited-{n}.md")
        if not path.exists() and not path.is_symlink():
            return path
        if read(path) == disk:
            return path
    return path
