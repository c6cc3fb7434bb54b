"""Plan documents in the editor: code lenses, outline, hover, lint diagnostics, code actions.

Everything here answers from the rendered plan's line map (no I/O beyond loading the small plan
JSON), so it stays fast while a plan streams in or a validation runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types

from planfirst.core.workflow.budget import step_line
from planfirst.core.workflow.session import Session, SessionError
from planfirst.core.workspace.path_syntax import PathError
from planfirst.lsp import convert, critique_view, revision_docs
from planfirst.lsp.callbacks import logged
from planfirst.plan.cost import usd_range
from planfirst.plan.markup import code, code_block
from planfirst.plan.model import Plan, PlanStatus, StepStatus
from planfirst.plan.render import Rendered
from planfirst.plan.revision_diff import redo_pending
from planfirst.plan.sections import outcome_words
from planfirst.plan.visible import encode

if TYPE_CHECKING:
    from planfirst.lsp.server import PlanfirstServer


def _plan(server: PlanfirstServer, uri: str) -> tuple[Plan, Rendered] | None:
    plan_id = server.plan_id_from_uri(uri)
    if plan_id is None or server.session is None or plan_id in server.session.partial:
        return None
    try:
        return server.session.view(plan_id)  # made once per version of the plan (#32)
    except SessionError:
        return None


def _range(start: int, end: int | None = None) -> types.Range:
    return types.Range(
        start=types.Position(line=start, character=0),
        end=types.Position(line=end if end is not None else start, character=0),
    )


def _cmd(title: str, command: str, args: dict[str, Any]) -> types.Command:
    return types.Command(title=title, command=command, arguments=[args])


def code_lenses(server: PlanfirstServer, uri: str) -> list[types.CodeLens]:
    """Approve / Revise on the title; Execute, Retry, Undo on each step."""
    got = _plan(server, uri)
    if got is None:
        return []
    plan, r = got
    pid = {"planId": plan.id}
    lenses: list[types.CodeLens] = []
    top = _range(0)
    nxt = plan.next_step()
    approved = plan.status in (PlanStatus.APPROVED, PlanStatus.EXECUTING, PlanStatus.FAILED)
    # the next action first, on the first line, where it is seen without scrolling
    busy = server.session.busy().get(plan.id) if server.session else None
    if busy:
        lenses.append(
            types.CodeLens(range=top, command=_cmd(f"■ Cancel ({busy})", "planfirst.cancel", pid))
        )
    elif approved and nxt is not None and plan.state(nxt).status != StepStatus.FAILED:
        lenses.append(
            types.CodeLens(
                range=top, command=_cmd(f"▶ Execute step {nxt}", "planfirst.executeNextStep", pid)
            )
        )
    elif approved and nxt is None and plan.steps:
        # every step done, the plan not (criteria revised, cancelled or failed): Execute runs
        # only the test criteria, as the editors' "Finish the plan" does
        finish = _cmd("▶ Finish the plan: run its test criteria", "planfirst.executeNextStep", pid)
        lenses.append(types.CodeLens(range=top, command=finish))
    if plan.status == PlanStatus.DRAFT:
        est = plan.estimate
        cost = f" (est. {usd_range(est.low, est.high)})" if est is not None and est.steps else ""
        lenses.append(
            types.CodeLens(
                range=top, command=_cmd(f"✓ Approve plan{cost}", "planfirst.approvePlan", pid)
            )
        )
    lenses.append(types.CodeLens(range=top, command=_cmd("✎ Revise…", "planfirst.revisePlan", pid)))
    lenses.extend(revision_docs.lenses(plan, top))
    for order, (start, _end) in sorted(r.steps.items()):
        st = plan.state(order).status
        rng = _range(start)
        args = {"planId": plan.id, "step": order}
        if (
            approved
            and order == nxt
            and st in (StepStatus.PENDING, StepStatus.UNDONE, StepStatus.APPLIED)
        ):
            lenses.append(
                types.CodeLens(
                    range=rng,
                    command=_cmd(f"▶ Execute step {order}", "planfirst.executeNextStep", pid),
                )
            )
        if st == StepStatus.FAILED:
            lenses.append(
                types.CodeLens(
                    range=rng, command=_cmd(f"↻ Retry step {order}", "planfirst.retryStep", args)
                )
            )
        if st in (StepStatus.DONE, StepStatus.FAILED) or redo_pending(plan, order):
            lenses.append(
                types.CodeLens(
                    range=rng, command=_cmd(f"↶ Undo step {order}", "planfirst.undoStep", args)
                )
            )
        money = step_line(plan, order)
        if money:  # informational: clicking it only shows the plan
            lenses.append(
                types.CodeLens(range=rng, command=_cmd(f"$ {money}", "planfirst.showPlan", pid))
            )
    return lenses


def document_symbols(server: PlanfirstServer, uri: str) -> list[types.DocumentSymbol]:
    """An outline: sections, with the steps under 'Steps'."""
    got = _plan(server, uri)
    if got is None:
        return []
    plan, r = got
    lines = r.text.split("\n")
    out = []
    for title, (start, end) in r.sections.items():
        children = []
        if title == "Steps":
            for order, (s, e) in sorted(r.steps.items()):
                step = plan.body.step(order)
                desc = step.description.strip().splitlines()[0] if step.description.strip() else ""
                children.append(
                    types.DocumentSymbol(
                        name=f"Step {order}: {desc[:60]}",
                        detail=plan.state(order).status.value,
                        kind=types.SymbolKind.Event,
                        range=types.Range(
                            start=types.Position(line=s, character=0),
                            end=types.Position(line=e, character=len(lines[e])),
                        ),
                        selection_range=_range(s),
                    )
                )
        out.append(
            types.DocumentSymbol(
                name=title,
                kind=types.SymbolKind.Namespace,
                range=types.Range(
                    start=types.Position(line=start, character=0),
                    end=types.Position(line=end, character=len(lines[end])),
                ),
                selection_range=_range(start),
                children=children or None,
            )
        )
    return out


def hover(server: PlanfirstServer, uri: str, pos: types.Position) -> types.Hover | None:
    """On a step: its status, attempts and last validation result."""
    got = _plan(server, uri)
    if got is None:
        return None
    plan, r = got
    critic = critique_view.hover_parts(plan, r, pos.line)
    for order, (start, end) in r.steps.items():
        if start <= pos.line <= end:
            st = plan.state(order)
            parts = [f"**Step {order}** — {st.status.value}", f"attempts: {len(st.runs)}"]
            money = step_line(plan, order)
            if money and plan.estimate is not None:
                parts.append(f"cost: {money} on {plan.estimate.model}")
            run = st.last_run
            if run is not None:
                parts.append(
                    f"last outcome: {outcome_words(run)}"
                    + (f" ({code(run.error)})" if run.error else "")
                )
                if run.usage.calls:
                    parts.append(
                        f"tokens: {run.usage.input_tokens:,} in / {run.usage.output_tokens:,} out · ${run.usage.cost_usd:.4f}"
                    )
                for v in run.validation:
                    mark = "✓" if v.passed else ("refused" if v.refused else "✗")
                    parts.append(
                        f"{mark} {code(v.command)} (exit {v.exit_code}, {v.duration_s:.1f} s)"
                    )
                    if not v.passed and v.output:
                        parts.append(code_block(v.output[-800:]))
            parts.extend(critic)
            return types.Hover(
                # command output and model text shown for what they are (case 34)
                contents=types.MarkupContent(
                    kind=types.MarkupKind.Markdown, value=encode("\n\n".join(parts))
                ),
                range=_range(start, end),
            )
    if critic:  # a plan-wide finding of the critic, on its section's first line
        return types.Hover(
            contents=types.MarkupContent(
                kind=types.MarkupKind.Markdown, value=encode("\n\n".join(critic))
            ),
            range=_range(pos.line),
        )
    return None


def code_actions(server: PlanfirstServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """'Plan a change for this selection…' on any non-empty selection in a workspace file."""
    uri = params.text_document.uri
    if server.plan_id_from_uri(uri):
        got = _plan(server, uri)
        return critique_view.fix_actions(*got, params.range) if got else []
    if server.session is None or convert.uri_to_path(uri) is None:
        return []
    rng = params.range
    if rng.start == rng.end:
        return []
    path = convert.uri_to_path(uri)
    try:
        server.session.guard.rel(str(path))
    except PathError:
        return []  # a file outside the workspace (or one planfirst may not read)
    arg = {
        "uri": uri,
        "range": {
            "start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character},
        },
    }
    return [
        types.CodeAction(
            title="Plan a change for this selection…",
            kind=types.CodeActionKind.Refactor,
            # No task in the arguments: the VS Code extension asks for it with an input box
            # (command middleware); other clients are offered common tasks by the server
            # through window/showMessageRequest.
            command=types.Command(
                title="Plan a change for this selection…",
                command="planfirst.generatePlan",
                arguments=[arg],
            ),
        )
    ]


def publish_plan_diagnostics(server: PlanfirstServer, plan_id: str) -> None:
    """Plan-lint findings as diagnostics on the plan document, at the step's lines."""
    if server.session is None or plan_id in server.session.partial:
        return
    try:
        plan, r = server.session.view(plan_id)
    except SessionError:
        return
    diags = []
    sev = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}
    for f in plan.findings:
        start = critique_view.finding_line(f, r)
        critic = f.source == "critique"
        diags.append(
            types.Diagnostic(
                range=types.Range(
                    start=types.Position(line=start, character=0),
                    end=types.Position(line=start, character=200),
                ),
                message=critique_view.diagnostic_message(f) if critic else f.message,
                severity=sev.get(f.severity, types.DiagnosticSeverity.Information),
                source=critique_view.SOURCE if critic else "planfirst/plan-lint",
                code=f.rule,
            )
        )
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=server.plan_doc_uri(plan_id), diagnostics=diags)
    )


def publish(server: PlanfirstServer, plan_id: str) -> None:
    """What a plan change publishes: its diagnostics and the `planfirst/status` notification."""
    session = server.session
    if session is None:
        return
    logged("publishing the plan's diagnostics", lambda: publish_plan_diagnostics(server, plan_id))

    def status() -> None:
        payload = status_payload(session, plan_id)
        if payload:
            server.protocol.notify("planfirst/status", payload)

    logged("sending planfirst/status", status)


def status_payload(session: Session, plan_id: str) -> dict[str, Any] | None:
    """The `planfirst/status` notification body for the status bar."""
    if plan_id in session.partial:
        return {
            "planId": plan_id,
            "title": "",
            "status": "planning",
            "step": None,
            "total": 0,
            "done": 0,
            "failed": 0,
        }
    try:
        plan = session.view(plan_id)[0]
    except SessionError:
        return None
    c = plan.counts()
    here, elsewhere = busy_with(session, plan.id)
    return {
        "planId": plan.id,
        "title": plan.title,
        "status": plan.status.value,
        "step": plan.next_step(),
        "total": c["total"],
        "done": c.get("done", 0),
        "failed": c.get("failed", 0),
        "busy": here or elsewhere,
        # busy in another planfirst process: cancel it there, not here (#33)
        "elsewhere": elsewhere is not None,
        # spent on the plan so far (planning included) and the estimate of its steps (#19)
        "cost": {
            "spent": plan.usage.cost_usd,
            "estimate": [plan.estimate.low, plan.estimate.high] if plan.estimate else None,
            "model": plan.estimate.model if plan.estimate else None,
        },
    }


def busy_with(session: Session, plan_id: str) -> tuple[str | None, str | None]:
    """What runs on the plan in this process, and else what another planfirst process on the
    workspace does with it (None, None: nothing)."""
    here = session.busy().get(plan_id)
    return here, None if here else _elsewhere(session, plan_id)


def _elsewhere(session: Session, plan_id: str) -> str | None:
    """What another planfirst process on the workspace does with the plan, if one does."""
    held = session.store.claimed(plan_id)
    if held is None or held[0] == session.owner:
        return None
    return f"in another planfirst: {held[1]}"
