"""Revisions that keep what did not change: stable step ids, targeted revisions, and approval
and step records carried over step by step.

A revision (the model's, or a hand edit of plan.md reloaded) is matched to the previous one by
step id. The model is given the ids and asked to keep them; a step it returns without an id is
matched to an unused step of the previous revision with the same content, then to the most
similar one; an id the previous revision did not have is sent back once and then treated as new.

Approval is per step content (`StepState.approved` holds the content hash the user approved):
a revision keeps the approval and the status of every step whose content is unchanged, that did
not move, and that builds on no earlier step that changed and is not done. A done step that the
revision changes "needs redo": its edit stays on disk (undoable), its new text is pending.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from planfirst.core.editing.edits import unified_diff
from planfirst.core.planning.planner import PlanningResult
from planfirst.core.workflow import records
from planfirst.core.workflow.attempt import StepAttempt
from planfirst.core.workflow.contracts import SessionError
from planfirst.llm import prompts
from planfirst.llm.model import ModelError
from planfirst.plan.model import Plan, PlanBody, PlanStatus, RevisionChanges, Step, StepStatus
from planfirst.plan.revision_diff import (
    content_hash,
    depends_on,
    diff_sections,
    diff_steps,
    first_line,
    redo_pending,
    step_approved,
)
from planfirst.plan.revision_text import review_text
from planfirst.plan.store import PlanStore, StoreError

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session

SIMILAR = 0.6  # description similarity above which a step without an id is the same step


def refuse_busy(plan: Plan, doing: str | None = None) -> None:
    """A plan whose steps ran (done, failed, undone) can be revised: the revision keeps what
    really happened (carry_over); only a step caught mid-way cannot (#23 case 3), and the
    refusal names what it is doing (#29). `doing`: what runs on the plan in this session (its
    applied step is being validated, not waiting for Execute)."""
    for st in plan.steps:
        if st.status == StepStatus.RUNNING:
            raise SessionError(
                f"plan {plan.id!r}: step {st.order} is running (the model is working on it or its "
                "edit is waiting for your review); let it finish or cancel it, then revise",
                "busy" if doing else "refused",
            )
        if st.status == StepStatus.APPLIED and doing:
            raise SessionError(
                f"plan {plan.id!r}: step {st.order} is running (its edit is applied and being "
                "validated); let it finish or cancel it, then revise",
                "busy",
            )
        if st.status == StepStatus.APPLIED:
            raise SessionError(
                f"plan {plan.id!r}: step {st.order} is in progress (its edit is applied but not "
                "validated); execute it to validate it, or undo it, before revising"
            )
    if doing:
        raise SessionError(
            f"plan {plan.id!r} is busy ({doing}); wait for it or run 'planfirst.cancel'", "busy"
        )


def resolve_targets(plan: Plan, steps: Sequence[int | str]) -> list[str]:
    """The ids of the steps a targeted revision names (by number or by id)."""
    out: list[str] = []
    for ref in steps:
        if isinstance(ref, int) and not isinstance(ref, bool):
            try:
                sid = plan.body.step(ref).id
            except KeyError:
                raise SessionError(
                    f"plan {plan.id!r} has no step {ref} (it has {len(plan.body.steps)})",
                    "unknown_step",
                ) from None
        elif isinstance(ref, str) and plan.step_by_id(ref) is not None:
            sid = ref
        else:
            raise SessionError(
                f"plan {plan.id!r} has no step {str(ref)[:40]!r}; name steps by number or id",
                "unknown_step",
            )
        if sid not in out:
            out.append(sid)
    return out


def id_problems(old: PlanBody, new: PlanBody) -> list[str]:
    """Ids in a revision that the previous revision did not have (phrased for the model)."""
    known = {s.id for s in old.steps}
    return [
        f"step {s.order} has the id {s.id!r}, which no step of the current plan has; keep the "
        "id of the step it revises, or leave it empty for a new step"
        for s in new.steps
        if s.id and s.id not in known
    ]


SIMILARITY_BUDGET = 10_000  # description pairs compared at most when matching steps without ids


def adopt_ids(old: PlanBody, new: PlanBody) -> PlanBody:
    """`new` with every step matched to the previous revision's ids where it can be: its own id
    when the previous revision had it, else the id of an unused previous step with the same
    content, else of the most similar one; other steps are left without an id (new steps)."""
    body = new.model_copy(deep=True)
    known = {s.id: s for s in old.steps}
    used: set[str] = set()
    for s in body.steps:
        if s.id in known and s.id not in used:
            used.add(s.id)
        else:
            s.id = ""
    free = [o for o in old.steps if o.id not in used]
    by_content: dict[object, list[Step]] = {}
    for o in reversed(free):
        by_content.setdefault(o.content(), []).append(o)
    taken: set[str] = set()
    for s in body.steps:
        if s.id:
            continue
        same = by_content.get(s.content())
        if same:
            o = same.pop()
            s.id = o.id
            taken.add(o.id)
    free = [o for o in free if o.id not in taken]
    # the similarity search compares every unmatched pair: bounded, so a plan.md with thousands
    # of steps stripped of their ids costs linear work, not quadratic (docs/reliability.md case 42)
    unmatched = sum(1 for s in body.steps if not s.id)
    if unmatched * len(free) > SIMILARITY_BUDGET:
        return body
    for s in body.steps:
        if s.id or not free:
            continue
        best = max(
            free,
            key=lambda o: (
                difflib.SequenceMatcher(None, o.description, s.description).ratio(),
                bool(set(o.files) & set(s.files)),
            ),
        )
        if difflib.SequenceMatcher(None, best.description, s.description).ratio() >= SIMILAR:
            s.id = best.id
            free.remove(best)
    return body


def unrequested(old: PlanBody, new: PlanBody, targets: Sequence[str]) -> dict[str, str]:
    """Steps a targeted revision changed although the instruction did not name them: id -> what
    happened (added steps are allowed: a named step may be split)."""
    if not targets:
        return {}
    out: dict[str, str] = {}
    for c in diff_steps(old, new):
        if c.id in targets or "added" in c.kinds:
            continue
        where = f"step {c.before if c.after is None else c.after} ({c.id})"
        out[c.id] = f"{where}: " + ", ".join(c.kinds)
    return out


def carry_over(
    old: Plan,
    new: Plan,
    *,
    hand_edit: bool,
    feedback: str = "",
    targets: Sequence[str] = (),
    not_asked: Sequence[str] = (),
) -> None:
    """Record what changed in `new` (a revision of `old`, steps matched by id) and carry over
    approval, status and runs step by step. Every step keeps its runs (an edit on disk stays
    undoable); a step the revision drops must have no edit on disk. A hand edit keeps a changed
    done step done (you changed its text, not the code)."""
    changes = diff_steps(old.body, new.body)
    kinds = {c.id: c.kinds for c in changes}
    for c in changes:
        if c.after is None and c.before is not None and records.has_live_edit(old.state(c.before)):
            raise SessionError(
                f"the new revision has no step {c.before} ({c.id}), whose edit is still on disk; "
                f"undo step {c.before} first",
                "conflict",
            )
        if c.after is None and c.before is not None:  # what its attempts cost stays spent
            removed = sum(r.usage.cost_usd for r in old.state(c.before).runs)
            new.extra_spent = round(new.extra_spent + removed, 6)
    dependent: list[str] = []
    unsettled: list[str] = []  # ids of earlier steps that changed and are not done
    for step in new.body.steps:
        target = new.state(step.order)
        prev = old.step_by_id(step.id)
        if prev is None:
            unsettled.append(step.id)
            continue
        st = old.state(prev.order)
        changed = [k for k in kinds.get(step.id, []) if k != "moved"]
        moved = "moved" in kinds.get(step.id, [])
        StepAttempt(new, step.order).carry_over(
            st, bool(changed), hand_edit, redo_pending(old, prev.order)
        )
        if not changed:
            builds_on = [
                e
                for e in new.body.steps[: step.order - 1]
                if e.id in unsettled and depends_on(new.body, step, e)
            ]
            if step_approved(old, prev) and not moved and not builds_on:
                target.approved = content_hash(step)
            elif step_approved(old, prev) and builds_on and not moved:
                dependent.append(step.id)
            if moved or (target.status != StepStatus.DONE and target.approved == ""):
                unsettled.append(step.id)
            continue
        # a changed step: see StepAttempt.carry_over (a hand edit keeps a done or applied step)
        if target.status != StepStatus.DONE:
            unsettled.append(step.id)
    new.changes = RevisionChanges(
        from_revision=old.revision,
        feedback=feedback.strip(),
        steps=changes,
        sections=diff_sections(old.body, new.body, old_task=old.task, new_task=new.task),
        targeted=list(targets),
        unrequested=[i for i in not_asked if i in kinds],
        dependent=dependent,
    )
    # a revision is a draft until approved; the header lists what needs approval
    # (plan/revision_view.py) and approving records it for every step
    new.status = PlanStatus.DRAFT
    # the test criteria ran on the plan before: they run again after its last step
    new.final_validation = []
    new.diagnosis = None  # it explained those results


def revision_note(plan: Plan, targets: Sequence[str]) -> str:
    """The rules of a revision for the model: the current ids, and the steps it may change."""
    ids = "\n".join(f"- step {s.order}: id {s.id} — {first_line(s)}" for s in plan.body.steps)
    out = prompts.REVISION_IDS.format(ids=ids)
    if targets:
        named = [s for s in plan.body.steps if s.id in targets]
        out += "\n" + prompts.REVISION_TARGETS.format(
            targets=", ".join(f"step {s.order} (id {s.id})" for s in named)
        )
    return out


async def ask_revision(
    ask: Callable[[str], Awaitable[PlanningResult]], plan: Plan, targets: Sequence[str]
) -> tuple[PlanningResult, list[str]]:
    """Ask for a revision of `plan` (`ask` runs one planning round with the given revision
    rules). A submission with unknown ids, or one that changes steps a targeted revision did not
    name, is sent back once; the result has the previous ids adopted, and the ids of the steps
    still changed without being named."""
    note = revision_note(plan, targets)
    result = await ask(note)
    problems = id_problems(plan.body, result.body)
    body = adopt_ids(plan.body, result.body)
    extra = unrequested(plan.body, body, targets)
    problems += [
        f"{what}: this step was not named; return it exactly as it is" for what in extra.values()
    ]
    if problems:
        listed = "\n".join(f"- {p}" for p in problems)
        again_note = (
            f"{note}\n<submitted_plan>\n{result.body.model_dump_json(indent=1)}\n</submitted_plan>\n\n"
            + prompts.REVISION_SENT_BACK.format(problems=listed)
        )
        try:
            again = await ask(again_note)
        except ModelError as e:
            result.notes.append(f"the revision could not be sent back: {e.message}")
        else:
            again.usage = result.usage.model_copy().add(again.usage)
            again.notes = [*result.notes, *again.notes]
            result = again
            body = adopt_ids(plan.body, result.body)
            extra = unrequested(plan.body, body, targets)
    result.body = body
    return result, list(extra)


def approve_steps(plan: Plan) -> None:
    """Record that the user approved every step as it reads now."""
    for step in plan.body.steps:
        plan.state(step.order).approved = content_hash(step)


def load_revision(store: PlanStore, plan: Plan, revision: int) -> Plan:
    """Revision `revision` of a plan (the current one or a kept one)."""
    if revision == plan.revision:
        return plan
    if revision not in store.revisions(plan.id):
        kept = [*store.revisions(plan.id), plan.revision]
        raise SessionError(
            f"plan {plan.id!r} has no revision {revision}; it has "
            + ", ".join(str(n) for n in kept),
            "unknown_revision",
        )
    try:
        return store.load_revision(plan.id, revision)
    except StoreError as e:
        raise SessionError(str(e), "corrupt_plan") from None


def compare(
    s: Session, plan_id: str | None, from_rev: int | None, to_rev: int | None
) -> tuple[Plan, int, int, str]:
    """The unified diff of two revisions' text (default: the current one against the one
    before): (plan, from, to, diff)."""
    return compare_plan(s.store, s.load(plan_id), from_rev, to_rev)


def compare_plan(
    store: PlanStore, plan: Plan, from_rev: int | None, to_rev: int | None
) -> tuple[Plan, int, int, str]:
    """`compare` for a loaded plan."""
    to_rev = plan.revision if to_rev is None else to_rev
    from_rev = to_rev - 1 if from_rev is None else from_rev
    if from_rev < 1 or to_rev < 1:
        raise SessionError(
            f"plan {plan.id!r} is at revision {plan.revision}; there is nothing before revision 1 "
            "to compare with",
            "unknown_revision",
        )
    old = load_revision(store, plan, from_rev)
    new = load_revision(store, plan, to_rev)
    return plan, from_rev, to_rev, review_diff(old, new)


def review_diff(old: Plan, new: Plan) -> str:
    """A unified diff of two revisions' reviewable text ("" when they read the same), through
    the linear line diff of core/editing/edits.py (difflib took tens of seconds on a long plan, case 42)."""
    text = unified_diff("plan.md", review_text(old), review_text(new))
    if not text:
        return ""
    body = text.split("\n", 2)[2]
    return f"--- {old.id} revision {old.revision}\n+++ {new.id} revision {new.revision}\n{body}"


def refuse_changed(plan: Plan, revision: int | None, status: PlanStatus | None = None) -> None:
    """Approval is about the revision the user saw: another one (revised, or a hand edit
    reloaded, in this face or another while they were asked) is never approved unseen, nor
    saved back over."""
    if (revision is not None and plan.revision != revision) or (
        status is not None and plan.status != status
    ):
        raise SessionError(
            f"not approved: plan {plan.id!r} changed while you were asked (it is revision "
            f"{plan.revision}, {plan.status.value}); review it and approve again",
            "changed",
        )
