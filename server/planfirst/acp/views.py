"""What an ACP client is shown of a plan: plan updates, the approval summary, a replayed history.

Pure functions of the stored plan (no I/O besides reading it through the session).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from acp import text_block
from acp.schema import (
    AgentMessageChunk,
    AgentPlanContentUpdate,
    AgentPlanUpdate,
    FileEditToolCallContent,
    PlanEntry,
    PlanUpdateMarkdown,
    ToolCallStart,
    UserMessageChunk,
)

from planfirst.plan import revision_view
from planfirst.plan.model import Plan, StepStatus
from planfirst.plan.render import critique_report
from planfirst.plan.revision_diff import change_line
from planfirst.plan.visible import encode

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session

_STATUS: dict[StepStatus, Any] = {
    StepStatus.PENDING: "pending",
    StepStatus.RUNNING: "in_progress",
    StepStatus.APPLIED: "in_progress",
    StepStatus.DONE: "completed",
    StepStatus.FAILED: "pending",
    StepStatus.UNDONE: "pending",
}


def priority(order: int, total: int) -> Any:
    """Earlier steps first: the first third high, the middle third medium, the rest low."""
    third = max(1, -(-total // 3))
    if order <= third:
        return "high"
    return "medium" if order <= 2 * third else "low"


def first_line(text: str, limit: int = 120) -> str:
    """The first line of `text`, cut at a word near `limit`."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit].rsplit(" ", 1)[0] + "…"


def plan_entries(plan: Plan) -> list[PlanEntry]:
    """One classic plan entry per step."""
    total = len(plan.body.steps)
    out = []
    for step in plan.body.steps:
        st = plan.state(step.order)
        mark = {StepStatus.FAILED: " (failed)", StepStatus.UNDONE: " (undone)"}.get(st.status, "")
        out.append(
            PlanEntry(
                content=encode(f"{step.order}. {first_line(step.description)}{mark}"),
                priority=priority(step.order, total),
                status=_STATUS.get(st.status, "pending"),
            )
        )
    return out


def plan_view(session: Session, plan_id: str, *, markdown: bool) -> Any | None:
    """The plan as the client wants it: `plan_update` Markdown (with the plan.md path in
    `_meta`) for clients that opted in to plan operations, else the classic `plan` entries.
    A plan still streaming in is only shown as Markdown (it has no steps yet)."""
    path = str(session.store.plan_md(plan_id))
    if plan_id in session.partial:
        if not markdown:
            return None
        return _markdown(plan_id, session.partial[plan_id], path, "streaming")
    plan = session.load(plan_id)
    if markdown:
        return _markdown(plan_id, session.document(plan_id), path, plan.status.value)
    return AgentPlanUpdate(session_update="plan", entries=plan_entries(plan))


def _markdown(plan_id: str, text: str, path: str, status: str) -> AgentPlanContentUpdate:
    meta = {"planfirst": {"path": path, "status": status}}
    return AgentPlanContentUpdate(
        session_update="plan_update",
        plan=PlanUpdateMarkdown(type="markdown", plan_id=plan_id, content=text, field_meta=meta),
    )


def approval_text(plan: Plan, path: str) -> str:
    """The plan summary shown with the approval question."""
    lines = [f"**{plan.title}** (revision {plan.revision})", "", plan.body.summary.strip(), ""]
    changes = {c.id: change_line(c) for c in plan.changes.steps} if plan.changes else {}
    for step in plan.body.steps:
        checks = ", ".join(f"`{c}`" for c in step.validation) or "no command"
        changed = f" ({changes[step.id]})" if step.id in changes else ""
        lines.append(
            f"{step.order}. {first_line(step.description, 200)} — checked by {checks}{changed}"
        )
    # a revision: what needs approval (and redoing), as the plan's header says it
    header = [line.removeprefix("> ") for line in revision_view.header_lines(plan)]
    lines += ["", *header] if header else []
    errors = [f for f in plan.findings if f.severity == "error"]
    if errors:
        lines += ["", f"⚠ {len(errors)} review error(s), e.g. {errors[0].message}"]
    if plan.estimate is not None and plan.estimate.steps:
        lines += ["", f"Estimated cost: {plan.estimate.line()}"]
    critique = critique_report(plan)  # the critic's findings and what its round fixed (#20)
    if critique:
        lines += ["", *critique]
    lines += ["", f"The full plan: {path}"]
    return encode("\n".join(lines))  # model text shown for what it is (case 34)


def replay(plan: Plan, root: Path, path: str, markdown_update: Any) -> list[Any]:
    """A loaded session's history: the task, the plan, and each step's applied edit."""
    out: list[Any] = [
        UserMessageChunk(
            session_update="user_message_chunk", content=text_block(encode(plan.task))
        ),
        AgentMessageChunk(
            session_update="agent_message_chunk",
            content=text_block(
                f"Plan “{plan.title}” (revision {plan.revision}, {plan.status.value}): {path}\n"
            ),
        ),
    ]
    if markdown_update is not None:
        out.append(markdown_update)
    for step in plan.body.steps:
        st = plan.state(step.order)
        applied = [r for r in st.runs if r.outcome in ("applied", "applied-undone")]
        if not applied:
            continue
        before: dict[str, str | None] = {}
        after: dict[str, str | None] = {}
        for run in applied:  # the step's whole change: each file's first old text, last new text
            for p, text in run.before.items():
                before.setdefault(p, text)
            after.update(run.after)
        diffs = [
            FileEditToolCallContent(
                type="diff", path=str(root / p), old_text=before.get(p), new_text=new or ""
            )
            for p, new in sorted(after.items())
        ]
        status: Any = "completed" if st.status == StepStatus.DONE else "failed"
        out.append(
            ToolCallStart(
                session_update="tool_call",
                tool_call_id=f"planfirst-replay-{step.order}",
                title=encode(
                    f"planfirst step {step.order}: {first_line(step.description, 60)} ({st.status.value})"
                ),
                kind="edit",
                status=status,
                content=list(diffs),
            )
        )
    return out
