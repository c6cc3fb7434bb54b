"""Stale files: a step's file whose text is not what the plan saw (its hash at plan time) nor
what an applied step left there, i.e. the user changed it since (docs/reliability.md case 7)."""

from __future__ import annotations

from planfirst.core.context import hash_text
from planfirst.plan.model import Plan, RunOutcome, Step


def expected_hashes(plan: Plan) -> dict[str, str | None]:
    """What each file should hold now: plan-time hashes overlaid with approved step edits."""
    expected: dict[str, str | None] = dict(plan.provenance.context_files)
    for st in plan.steps:
        for run in st.runs:
            if run.outcome in (RunOutcome.APPLIED, RunOutcome.UNDONE):
                for p, text in run.after.items():
                    expected[p] = hash_text(text) if text is not None else None
    return expected


def stale_files(plan: Plan, step: Step, files: dict[str, str | None]) -> list[str]:
    """The step's files whose text is not what the plan and the applied steps left there."""
    expected = expected_hashes(plan)
    stale = []
    for p in step.files:
        if p in expected:
            cur = files.get(p)
            if (hash_text(cur) if cur is not None else None) != expected[p]:
                stale.append(p)
    return stale
