"""Which stored proposals Execute offers again (no model call) and which it does not."""

from __future__ import annotations

from planfirst.core.editing.reoffer import stored_proposal
from planfirst.plan.model import StepRun, StepState

DISK = {"a.py": "old a\n", "b.py": "old b\n"}


def _state(outcome: str, after: dict[str, str | None] | None = None) -> StepState:
    after = {"a.py": "new a\n", "new.py": "created\n"} if after is None else after
    before = {p: DISK.get(p) for p in after}
    run = StepRun(
        attempt=1,
        outcome=outcome,
        before=before,
        after=after,
        proposed_diff="diff" if after else "",
    )
    return StepState(order=1, runs=[run])


def test_a_discarded_or_cancelled_proposal_is_offered_again_while_its_files_are_unchanged() -> None:
    for outcome in ("rejected", "cancelled"):
        change = stored_proposal(_state(outcome), DISK.get)
        assert change is not None
        assert [(f.path, f.old, f.new) for f in change.files] == [
            ("a.py", "old a\n", "new a\n"),
            ("new.py", None, "created\n"),
        ]


def test_no_reoffer_after_a_change_on_disk_an_applied_run_or_nothing_proposed() -> None:
    assert stored_proposal(_state("rejected"), {**DISK, "a.py": "edited by you\n"}.get) is None
    assert stored_proposal(_state("rejected"), {**DISK, "new.py": "now exists\n"}.get) is None
    for outcome in ("applied", "error", "no_change", "pending", "proposed"):
        assert stored_proposal(_state(outcome), DISK.get) is None
    assert (
        stored_proposal(_state("cancelled", after={}), DISK.get) is None
    )  # cancelled while asking the model
    assert stored_proposal(StepState(order=1), DISK.get) is None
