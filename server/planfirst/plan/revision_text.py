"""Two revisions compared as text: the reviewable part of the plan document (task to assumptions,
no status or records); core/workflow/revisions.review_diff diffs it in linear time (case 42).

Separate from revision_view.py because it renders the whole document, and render.py uses
revision_view.py for the revision parts of the document.
"""

from __future__ import annotations

from planfirst.plan.model import Plan
from planfirst.plan.render import render


def review_text(plan: Plan) -> str:
    """The plan's reviewable text only (task to assumptions, no status or records): what two
    revisions are compared on."""
    bare = Plan(
        id=plan.id,
        title=plan.title,
        task=plan.task,
        body=plan.body.model_copy(deep=True),
        revision=plan.revision,
    )
    lines = render(bare).text.split("\n")
    start = next((i for i, line in enumerate(lines) if line == "## Task"), 0)
    return "\n".join(lines[start:])
