"""What changed between two revisions of a plan, step by step (matched by step id).

Pure functions over plan bodies: the planning flow records the result in the new revision
(`Plan.changes`), the plan document shows it (plan/revision_view.py), and approval carries over
only to the steps it leaves alone (core/workflow/revisions.py).
"""

from __future__ import annotations

import hashlib
import json

from planfirst.plan.model import Plan, PlanBody, PlanStatus, Step, StepChange, StepStatus

# the sections besides the steps, as the plan document titles them
SECTION_FIELDS = {
    "Summary": "summary",
    "Files to modify": "files_to_modify",
    "Files to create": "files_to_create",
    "Dependency changes": "dependency_changes",
    "Test criteria": "test_criteria",
    "Risks": "risks",
    "Assumptions": "assumptions",
}
KIND_TEXT = {
    "added": "new step",
    "removed": "removed",
    "reworded": "reworded",
    "files": "files changed",
    "validation": "validation changed",
    "moved": "moved",
}


def content_hash(step: Step) -> str:
    """A hash of what the user approves of a step (its text, files and validation)."""
    raw = json.dumps(step.content(), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def first_line(step: Step) -> str:
    """The first line of a step's description, shortened for a list."""
    text = step.description.strip().splitlines()[0] if step.description.strip() else ""
    return text if len(text) <= 100 else text[:99] + "…"


def _lcs(a: list[str], b: list[str]) -> set[str]:
    """The ids in a longest common subsequence of two id sequences (what did not move)."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = (
                table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
            )
    keep: set[str] = set()
    i = j = 0
    while i < n and j < m:
        if a[i] == b[j]:
            keep.add(a[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return keep


def step_kinds(old: Step, new: Step) -> list[str]:
    """How the content of one step changed (empty: it did not)."""
    kinds = []
    if old.description.strip() != new.description.strip():
        kinds.append("reworded")
    if (old.files_to_modify, old.files_to_create) != (new.files_to_modify, new.files_to_create):
        kinds.append("files")
    if old.validation != new.validation:
        kinds.append("validation")
    return kinds


def diff_steps(old: PlanBody, new: PlanBody) -> list[StepChange]:
    """Every step that was added, removed, changed or moved: those of `new` in its order, then
    the removed ones in their old order."""
    before = {s.id: s for s in old.steps}
    after_ids = [s.id for s in new.steps]
    common_old = [s.id for s in old.steps if s.id in set(after_ids)]
    common_new = [i for i in after_ids if i in before]
    stayed = _lcs(common_old, common_new)
    out: list[StepChange] = []
    for s in new.steps:
        prev = before.get(s.id)
        if prev is None:
            out.append(StepChange(id=s.id, after=s.order, kinds=["added"], title=first_line(s)))
            continue
        kinds = step_kinds(prev, s)
        if s.id not in stayed:
            kinds.append("moved")
        if kinds:
            out.append(
                StepChange(
                    id=s.id, before=prev.order, after=s.order, kinds=kinds, title=first_line(s)
                )
            )
    for s in old.steps:
        if s.id not in set(after_ids):
            out.append(StepChange(id=s.id, before=s.order, kinds=["removed"], title=first_line(s)))
    return out


def diff_sections(
    old: PlanBody, new: PlanBody, *, old_task: str = "", new_task: str = ""
) -> list[str]:
    """The titles of the sections other than the steps that changed."""
    out = ["Task"] if old_task.strip() != new_task.strip() else []
    for title, name in SECTION_FIELDS.items():
        if getattr(old, name) != getattr(new, name):
            out.append(title)
    return out


def _files_closure(body: PlanBody, paths: list[str]) -> set[str]:
    """`paths` and every plan file they depend on (files_to_modify[].depends_on), transitively."""
    deps = {f.path: f.depends_on for f in body.files_to_modify}
    seen: set[str] = set()
    todo = list(paths)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(deps.get(p, []))
    return seen


def depends_on(body: PlanBody, later: Step, earlier: Step) -> bool:
    """Whether `later` builds on `earlier`: they touch a common file, or a file of `later`
    depends (through the plan's depends_on) on a file `earlier` touches."""
    return bool(_files_closure(body, later.files) & set(earlier.files))


def change_line(change: StepChange) -> str:
    """One change in words, e.g. 'reworded, validation changed'."""
    words = [KIND_TEXT.get(k, k) for k in change.kinds]
    if "moved" in change.kinds and change.before is not None:
        words[change.kinds.index("moved")] = f"moved (was step {change.before})"
    return ", ".join(words)


def step_approved(plan: Plan, step: Step) -> bool:
    """Whether the user approved this step's current content. A plan approved before approval
    was recorded per step counts as approved as a whole."""
    st = plan.state(step.order)
    if st.approved:
        return st.approved == content_hash(step)
    return plan.status != PlanStatus.DRAFT


def needing_approval(plan: Plan) -> list[Step]:
    """The steps whose current content the user has not approved."""
    return [s for s in plan.body.steps if not step_approved(plan, s)]


def redo_pending(plan: Plan, order: int) -> bool:
    """Whether step `order` was done, then changed by a revision, and is not done (or undone)
    again since."""
    st = plan.state(order)
    return st.needs_redo and st.status not in (StepStatus.DONE, StepStatus.UNDONE)
