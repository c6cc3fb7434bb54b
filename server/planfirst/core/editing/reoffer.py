"""Offer a step's stored edit again instead of asking the model for a new one.

A person who discards a step's preview (or applies nothing of it) has not asked for a different
edit: the next Execute shows the same proposal again, at no model cost, as long as every file it
touches still holds the text the proposal was made from. Retry Step asks the model afresh.
"""

from __future__ import annotations

from collections.abc import Callable

from planfirst.core.editing.executor import FileChange, ProposedChange
from planfirst.plan.model import RunOutcome, StepState

#: run outcomes whose proposal was never applied (discarded, or cancelled during the review)
REOFFERABLE = (RunOutcome.REJECTED, RunOutcome.CANCELLED)


def stored_proposal(state: StepState, read: Callable[[str], str | None]) -> ProposedChange | None:
    """The last run's unapplied proposal when the files still hold its `before` text, else None."""
    run = state.last_run
    if run is None or run.outcome not in REOFFERABLE or not run.after or not run.proposed_diff:
        return None
    if set(run.before) != set(run.after):
        return None
    for path, old in run.before.items():
        if read(path) != old:
            return None
    return ProposedChange([FileChange(p, run.before[p], run.after[p]) for p in sorted(run.after)])
