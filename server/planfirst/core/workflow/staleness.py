"""Stale files: a step's file whose text is not what the plan saw (its hash at plan time) nor
what an applied step left there, i.e. the user changed it since (docs/reliability.md case 7)."""

from __future__ import annotations

from planfirst.core.planning.context import hash_text
from planfirst.plan.model import Plan, RunOutcome, Step


def expected_hashes(plan: Plan) -> dict[str, str | None]:
    """What each file should hold now: its plan-time hash, unless a step touched it. Then it
    holds the text the steps' edits still on disk left there (later steps' over earlier ones',
    each step's attempts in order), or, when every edit to it was undone, the text from before
    the first step that touched it. Derived from what is on disk, never replayed in plan order:
    undoing step 2 and then step 1 leaves the text from before step 1 (#23 case 8)."""
    expected: dict[str, str | None] = dict(plan.provenance.context_files)
    text: dict[str, str | None] = {}
    for st in plan.steps:  # the original text: before the first step that touched the file
        for run in st.runs:
            if run.outcome in (RunOutcome.APPLIED, RunOutcome.APPLIED_UNDONE):
                for p, before in run.before.items():
                    text.setdefault(p, before)
    for st in plan.steps:  # then the edits still on disk (steps are undone last-first)
        for run in st.runs:
            if run.outcome == RunOutcome.APPLIED:
                text.update(run.after)
    for p, t in text.items():
        expected[p] = hash_text(t) if t is not None else None
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
