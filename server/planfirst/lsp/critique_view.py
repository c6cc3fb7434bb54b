"""The critic's findings on a plan document: where they sit, their hover text, and the code
action "Apply the critic's fix" (a revision with that one finding as the feedback)."""

from __future__ import annotations

from lsprotocol import types

from planfirst.core.planning.critique import feedback_text
from planfirst.plan.model import Finding, Plan
from planfirst.plan.render import Rendered, code

APPLY_FIX = "Apply the critic's fix"
SOURCE = "planfirst/critique"


def finding_line(f: Finding, r: Rendered) -> int:
    """The plan document line a finding is shown at: its step, its section, or the title."""
    if f.step and f.step in r.steps:
        return r.steps[f.step][0]
    if f.section and f.section in r.sections:
        return r.sections[f.section][0]
    return 0


def critique_findings(plan: Plan) -> list[tuple[int, Finding]]:
    """The critic's findings with their index in `plan.findings` (a code action names it)."""
    return [
        (i, f)
        for i, f in enumerate(plan.findings)
        if f.source == "critique" and f.rule != "critique/not-run"
    ]


def diagnostic_message(f: Finding) -> str:
    """A critique diagnostic's text: the problem, then the fix."""
    return f.message + (f"\nfix: {f.fix}" if f.fix else "")


def hover_parts(plan: Plan, r: Rendered, line: int) -> list[str]:
    """Hover text for the critic's findings shown on `line` or inside the step at `line`."""
    parts: list[str] = []
    step = next((o for o, (s, e) in r.steps.items() if s <= line <= e), None)
    for _i, f in critique_findings(plan):
        here = (step is not None and f.step == step) or (
            f.step is None and finding_line(f, r) == line
        )
        if not here:
            continue
        where = f" · {code(f.field)}" if f.field else ""
        parts.append(f"**Critic — {f.severity}** `{f.rule}`{where}: {f.message}")
        if f.evidence:
            parts.append("evidence: " + "; ".join(code(e) for e in f.evidence))
        if f.fix:
            parts.append(f"fix: {f.fix}")
    return parts


def fix_actions(plan: Plan, r: Rendered, rng: types.Range) -> list[types.CodeAction]:
    """ "Apply the critic's fix" for each finding of the critic shown in `rng`'s lines."""
    out: list[types.CodeAction] = []
    first, last = rng.start.line, rng.end.line
    for _i, f in critique_findings(plan):
        if not f.fix:
            continue
        if f.step and f.step in r.steps:
            start, end = r.steps[f.step]
        else:
            start = end = finding_line(f, r)
        if end < first or start > last:
            continue
        # a finding on a step is a targeted revision of that step (#18; others stay as they are)
        args: dict[str, object] = {"planId": plan.id, "feedback": fix_feedback(f)}
        if f.step:
            args["steps"] = [f.step]
        title = APPLY_FIX + (f" (step {f.step})" if f.step else "")
        out.append(
            types.CodeAction(
                title=title,
                kind=types.CodeActionKind.QuickFix,
                command=types.Command(
                    title=title, command="planfirst.revisePlan", arguments=[args]
                ),
            )
        )
    return out


def fix_feedback(f: Finding) -> str:
    """The revision feedback for one finding: the critic's problem, evidence and fix."""
    return "Apply this fix from the plan review:\n" + feedback_text([f])
