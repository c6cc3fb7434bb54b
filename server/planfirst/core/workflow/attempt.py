"""StepAttempt: the step state machine's transitions, the only place a step's status and a run's
outcome change (STYLE 9; docs/how-it-works.md "The step state machine").

A step's status moves pending → running → applied → done | failed; an attempt that ends without
its edit landing (rejected, a conflict, cancelled, a model error, interrupted) settles the step
back to pending, or to failed while an earlier attempt's edit is on disk (records.settled). Each
transition is a method that checks the state it starts from and raises IllegalTransition from
any other: a transition the table does not have is a bug, and it is stopped before plan.json
records it. Saving, notifying and the editor stay with the callers (stepper.py, review.py,
undo.py, late_apply.py, revisions.py); this class only changes the records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import assert_never

from planfirst.core.workflow import fsio, records
from planfirst.core.workflow.contracts import SessionError
from planfirst.plan.model import Plan, RunOutcome, StepRun, StepState, StepStatus, now_iso

# statuses a step may be (re)started from by Execute or Retry
RESTARTABLE = (StepStatus.FAILED, StepStatus.PENDING, StepStatus.UNDONE)


class IllegalTransition(SessionError):
    """A step or run asked to move along an edge the state machine does not have (a bug)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "illegal_transition")


class StepAttempt:
    """One step of a plan and its runs, changed only through the state machine's transitions."""

    def __init__(self, plan: Plan, order: int) -> None:
        self.plan = plan
        self.state: StepState = plan.state(order)

    @property
    def status(self) -> StepStatus:
        """The step's status now."""
        return self.state.status

    # ------------------------------------------------------------------ checks

    def _require(self, what: str, *allowed: StepStatus) -> None:
        if self.state.status not in allowed:
            raise IllegalTransition(
                f"step {self.state.order}: cannot {what} a step that is {self.state.status.value}"
            )

    def _require_run(self, run: StepRun, what: str, *allowed: RunOutcome) -> None:
        if run.outcome not in allowed:
            raise IllegalTransition(
                f"step {self.state.order}: cannot {what} a run that is {run.outcome.value}"
            )

    def _settle(self) -> None:
        self.state.status = records.settled(self.state)

    # ------------------------------------------------------------------ running an attempt

    def begin(self, run: StepRun) -> None:
        """A new attempt starts asking the model (or offers a stored edit again): running.
        From a restartable step, an applied one whose validation failed, or a running one whose
        last attempt proposed no change."""
        self._require("start an attempt at", *RESTARTABLE, StepStatus.APPLIED, StepStatus.RUNNING)
        self._require_run(run, "start", RunOutcome.PENDING)
        self.state.runs.append(run)
        self.state.status = StepStatus.RUNNING

    def reoffer(self, run: StepRun, execution_attempt: int, stale: list[str]) -> None:
        """The step's last proposal, discarded (or its review cancelled), is offered again at no
        model cost: the same attempt, not a new run (#33). It goes back to asking: running."""
        self._require(
            "offer again the edit of", *RESTARTABLE, StepStatus.APPLIED, StepStatus.RUNNING
        )
        self._require_run(run, "offer again", RunOutcome.REJECTED, RunOutcome.CANCELLED)
        if self.state.last_run is not run:
            raise IllegalTransition(
                f"step {self.state.order}: only the last attempt is offered again"
            )
        run.outcome = RunOutcome.PENDING
        run.error = None
        run.finished_at = None
        run.execution_attempt = execution_attempt
        run.stale_files = stale
        run.left_out, run.applied_in_part = [], []
        self.state.status = StepStatus.RUNNING

    def no_change(self, run: StepRun) -> None:
        """The model proposed nothing; the step stays running until validation decides."""
        self._require("record no change for", StepStatus.RUNNING)
        self._require_run(run, "record no change for", RunOutcome.PENDING)
        run.outcome = RunOutcome.NO_CHANGE
        run.finished_at = now_iso()

    def model_error(self, run: StepRun, message: str, after_failure: bool) -> None:
        """The model call failed: the run is an error; the step fails when this attempt was
        fixing a failed validation, else it settles."""
        self._require("record a model error for", StepStatus.RUNNING)
        self._require_run(run, "record a model error for", RunOutcome.PENDING)
        run.outcome = RunOutcome.ERROR
        run.error = message
        run.finished_at = now_iso()
        if after_failure:
            self.state.status = StepStatus.FAILED
        else:
            self._settle()

    def propose(
        self, run: StepRun, diff: str, before: dict[str, str | None], after: dict[str, str | None]
    ) -> None:
        """The model proposed an edit; the editor is about to show it."""
        self._require("propose an edit for", StepStatus.RUNNING)
        self._require_run(run, "propose", RunOutcome.PENDING)
        run.proposed_diff = diff
        run.before = before
        run.after = after
        run.outcome = RunOutcome.PROPOSED

    def conflict(self, run: StepRun, error: str) -> None:
        """A file changed while the model worked: nothing applied, the step settles."""
        self._require("record a conflict for", StepStatus.RUNNING)
        self._require_run(run, "record a conflict for", RunOutcome.PROPOSED)
        run.outcome = RunOutcome.CONFLICT
        run.error = error
        run.finished_at = now_iso()
        self._settle()

    def reject(self, run: StepRun, reason: str) -> None:
        """The user declined the edit (or a trust-file confirmation): the step settles."""
        self._require("reject the edit of", StepStatus.RUNNING)
        self._require_run(run, "reject", RunOutcome.PROPOSED)
        run.outcome = RunOutcome.REJECTED
        run.error = reason
        run.finished_at = now_iso()
        self._settle()

    def apply(self, run: StepRun) -> None:
        """The proposed edit landed: the run is the plan's latest applied edit, the step applied
        (on disk, not validated yet)."""
        self._require("apply the edit of", StepStatus.RUNNING)
        self._require_run(run, "apply", RunOutcome.PROPOSED)
        self._mark_applied(run)
        self.state.status = StepStatus.APPLIED

    def apply_late(self, run: StepRun) -> None:
        """The user applied a preview after its step was cancelled (late_apply.py): recorded as
        what it is, the run applied and the step applied."""
        self._require("apply a cancelled edit of", *RESTARTABLE)
        self._require_run(run, "apply late", RunOutcome.CANCELLED)
        if self.state.last_run is not run:
            raise IllegalTransition(f"step {self.state.order}: a later attempt has started")
        self._mark_applied(run)
        run.error = None
        self.state.status = StepStatus.APPLIED

    def partly_applied(self, run: StepRun, synced: dict[str, str | None]) -> None:
        """Part of the edit was applied in the review: the run records what is on disk, and the
        files left out and applied in part (shown as "partly applied", #33)."""
        self._require_run(run, "record the applied part of", RunOutcome.APPLIED)
        run.left_out, run.applied_in_part = fsio.partly_applied(run.before, run.after, synced)
        run.after = synced

    def done(self) -> None:
        """The step passed its validation."""
        self._require("finish", StepStatus.APPLIED, StepStatus.RUNNING)
        self.state.status = StepStatus.DONE
        if self.state.last_run is not None:
            self.state.last_run.finished_at = now_iso()

    def fail(self, error: str) -> None:
        """Out of attempts, a refused command or no change to fix a failure: failed."""
        self._require("fail", StepStatus.APPLIED, StepStatus.RUNNING)
        self.state.status = StepStatus.FAILED
        run = self.state.last_run
        if run is not None:
            run.error = run.error or error
            run.finished_at = now_iso()

    def cancel(self) -> None:
        """The running attempt was cancelled before its edit landed: the step settles (a step
        no longer running, e.g. already applied, keeps its status)."""
        if self.state.status != StepStatus.RUNNING:
            return
        run = self.state.last_run
        if run is not None and run.outcome in (RunOutcome.PENDING, RunOutcome.PROPOSED):
            run.outcome = RunOutcome.CANCELLED
            run.finished_at = now_iso()
        self._settle()

    def recover(self, read_disk: Callable[[str], str | None]) -> None:
        """A step a killed server left running: applied when the disk holds the proposed text,
        else the attempt was interrupted and the step settles."""
        self._require("recover", StepStatus.RUNNING)
        run = self.state.last_run
        if run is None:
            self.state.status = StepStatus.PENDING
            return
        match run.outcome:
            case RunOutcome.PENDING:
                run.outcome = RunOutcome.INTERRUPTED
                self._settle()
            case (
                RunOutcome.ERROR
                | RunOutcome.CANCELLED
                | RunOutcome.REJECTED
                | RunOutcome.NO_CHANGE
                | RunOutcome.INTERRUPTED
                | RunOutcome.UNDONE
                | RunOutcome.APPLIED_UNDONE
                | RunOutcome.CONFLICT
            ):
                self._settle()  # nothing of this attempt is on disk
            case RunOutcome.PROPOSED:
                if {p: read_disk(p) for p in run.after} == run.after:
                    self.apply(run)
                else:
                    run.outcome = RunOutcome.INTERRUPTED
                    self._settle()
            case RunOutcome.APPLIED:
                self.state.status = StepStatus.APPLIED
            case _:
                assert_never(run.outcome)

    # ------------------------------------------------------------------ undo and revisions

    def undo(self, applied: Iterable[StepRun], inverse: StepRun, partial: bool) -> None:
        """The inverse edit of `applied` landed: it is recorded as an undone run, they become
        applied-undone; the step is undone — or, when an earlier edit of it is still on disk
        below another step's (`partial`), pending to redo or settled."""
        if not records.has_live_edit(self.state):
            raise IllegalTransition(f"step {self.state.order}: no applied edit to undo")
        self._require_run(inverse, "record as an undo", RunOutcome.PENDING)
        applied = list(applied)
        for r in applied:
            self._require_run(r, "undo", RunOutcome.APPLIED)
        inverse.outcome = RunOutcome.UNDONE
        inverse.finished_at = now_iso()
        self.state.runs.append(inverse)
        for r in applied:
            r.outcome = RunOutcome.APPLIED_UNDONE
        if partial:
            self.state.status = (
                StepStatus.PENDING if self.state.needs_redo else records.settled(self.state)
            )
        else:
            self.state.status = StepStatus.UNDONE

    def carry_over(self, prev: StepState, changed: bool, hand_edit: bool, redo: bool) -> None:
        """A revision (or hand edit) of the plan keeps the step `prev` as this one: every run is
        kept (an edit on disk stays undoable); an unchanged step keeps its status; a changed one
        stays done or applied after a hand edit (its text changed, not the code), becomes pending
        to redo when it was done (or had a redo pending), else settles."""
        self.state.runs = [r.model_copy(deep=True) for r in prev.runs]
        if not changed:
            self.state.status = prev.status
            self.state.needs_redo = redo
        elif prev.status in (StepStatus.DONE, StepStatus.APPLIED) and hand_edit:
            self.state.status = prev.status
        elif prev.status == StepStatus.DONE or redo:
            self.state.status = StepStatus.PENDING
            self.state.needs_redo = True
        elif prev.status == StepStatus.UNDONE:
            self.state.status = prev.status
        else:
            self._settle()

    def _mark_applied(self, run: StepRun) -> None:
        """Record that `run`'s edit landed now: on disk, and the latest edit of the plan."""
        run.outcome = RunOutcome.APPLIED
        self.plan.edit_seq += 1
        run.applied_seq = self.plan.edit_seq
