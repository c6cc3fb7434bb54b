"""What an editor's list of plans shows (the VS Code Plans view): each plan's steps.

`planfirst.listPlans` rows gain `stepList`: every step's number, status and the first line of its
description (invisible characters made visible, docs/reliability.md case 34), so a client can list
a plan's steps and offer the actions valid for each without parsing the plan document.
"""

from __future__ import annotations

from typing import Any

from planfirst.core.workflow.session import Session, SessionError
from planfirst.plan.model import Plan
from planfirst.plan.visible import encode

TITLE_CHARS = 120


def step_rows(plan: Plan) -> list[dict[str, Any]]:
    """Each step of `plan`: {order, status, title} in plan order."""
    rows = []
    for step in plan.body.steps:
        try:
            status = plan.state(step.order).status.value
        except KeyError:
            status = "pending"
        first = (step.description.strip().splitlines() or [""])[0]
        title = first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1].rstrip() + "…"
        rows.append({"order": step.order, "status": status, "title": encode(title)})
    return rows


def add_step_lists(session: Session, rows: list[dict[str, Any]]) -> None:
    """Give every listPlans row its `stepList` (empty for a plan that cannot be read now)."""
    for r in rows:
        try:
            r["stepList"] = step_rows(session.load(r["id"]))
        except (SessionError, OSError, ValueError):
            r["stepList"] = []
