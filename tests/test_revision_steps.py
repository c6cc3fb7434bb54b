"""Stable step ids, the per-step revision diff, approval carried over per step content, and the
targeted-revision check (core/workflow/revisions.py, plan/revision_diff.py, plan/revision_view.py)."""

from __future__ import annotations

from typing import Any

import pytest

from planfirst.core.planning.planner import PlanningResult
from planfirst.core.workflow import revisions
from planfirst.core.workflow.contracts import SessionError
from planfirst.core.workflow.revisions import review_diff as unified_diff
from planfirst.plan.model import Plan, PlanBody, PlanStatus, RunOutcome, StepRun, StepStatus, Usage
from planfirst.plan.render import parse_markdown, render
from planfirst.plan.revision_diff import content_hash, diff_steps, needing_approval
from tests.support.plan_fixtures import body_dict, make_plan


def revised(plan: Plan, data: dict[str, Any]) -> Plan:
    """Revision N+1 of `plan` with the body `data` (as planning.revise builds it)."""
    new = plan.model_copy(deep=True)
    new.revision = plan.revision + 1
    new.body = revisions.adopt_ids(plan.body, PlanBody.model_validate(data))
    new.steps = []
    return Plan.model_validate(new.model_dump())


def approved_plan() -> Plan:
    plan = make_plan()
    plan.status = PlanStatus.APPROVED
    revisions.approve_steps(plan)
    return plan


def test_a_new_plan_numbers_its_step_ids_and_plan_md_keeps_them() -> None:
    plan = make_plan()
    assert [s.id for s in plan.body.steps] == ["s1", "s2", "s3"]
    text = render(plan).text
    assert "### Step 2 · [ ] pending\n<!-- step-id: s2 -->\n" in text
    _task, body = parse_markdown(text)
    assert body == plan.body
    # a hand edit that moves step 3 before step 2 (renumbered) keeps both ids
    a, b = text.index("### Step 2"), text.index("### Step 3")
    end = text.index("## Test criteria")
    step2, step3 = text[a:b], text[b:end]
    moved = (
        text[:a]
        + step3.replace("### Step 3", "### Step 2")
        + step2.replace("### Step 2", "### Step 3")
        + text[end:]
    )
    _task, body = parse_markdown(moved)
    assert [(s.order, s.id) for s in body.steps] == [(1, "s1"), (2, "s3"), (3, "s2")]
    # ... and the same move without renumbering: a step's place is its number
    _task, unnumbered = parse_markdown(text[:a] + step3 + step2 + text[end:])
    assert unnumbered == body


def test_an_id_comment_copied_to_a_second_step_is_an_error_with_its_line() -> None:
    text = render(make_plan()).text.replace("<!-- step-id: s3 -->", "<!-- step-id: s2 -->")
    with pytest.raises(ValueError, match=r"line \d+: .*'s2' is also the id of step 2"):
        parse_markdown(text)


def test_diff_names_each_kind_of_step_change() -> None:
    plan = make_plan()
    data = body_dict()
    data["steps"][0]["description"] = "Add `top_words(counts, n)` to `textkit/wordcount.py`."
    data["steps"][0]["id"] = "s1"
    data["steps"][1]["validation"] = ["pytest -q tests/test_top.py -x"]
    data["steps"][1]["id"] = "s2"
    data["steps"][2]["id"] = "s3"
    data["steps"].append(
        {"order": 4, "description": "Mention `--top` in the changelog.", "validation": []}
    )
    new = revised(plan, data)
    changes = {c.id: c.kinds for c in diff_steps(plan.body, new.body)}
    assert changes == {"s1": ["reworded"], "s2": ["validation"], "s4": ["added"]}
    # step 3 moved to the front and step 2 was removed
    data = body_dict()
    s3 = data["steps"].pop(2)
    data["steps"].pop(1)
    data["files_to_create"] = []
    data["steps"].insert(0, s3)
    for i, s in enumerate(data["steps"], start=1):
        s["order"] = i
    data["files_to_modify"][1]["depends_on"] = []
    new = revised(plan, data)
    assert [s.id for s in new.body.steps] == ["s3", "s1"]
    changes = {c.id: c.kinds for c in diff_steps(plan.body, new.body)}
    assert changes == {"s3": ["moved"], "s2": ["removed"]} or changes == {
        "s1": ["moved"],
        "s2": ["removed"],
    }


def test_ids_are_adopted_by_content_then_similarity_and_never_reused() -> None:
    plan = make_plan()
    data = body_dict()  # the model sent no ids at all
    data["steps"][2]["description"] = "Add `--top N` to `main()` in `textkit/cli.py`."
    data["steps"].pop(1)
    data["files_to_create"] = []
    data["steps"][1]["order"] = 2
    data["steps"].append(
        {
            "order": 3,
            "description": "Write the changelog entry for the new option.",
            "validation": [],
        }
    )
    new = revised(plan, data)
    # s1 by content, s3 by similar text, the new step gets s4 (s2 was removed: never reused)
    assert [s.id for s in new.body.steps] == ["s1", "s3", "s4"]
    assert (
        revisions.id_problems(
            plan.body,
            PlanBody.model_validate(
                {**data, "steps": [{**data["steps"][0], "id": "s9"}, *data["steps"][1:]]}
            ),
        )
        != []
    )


def _run(before: str, after: str) -> StepRun:
    return StepRun(attempt=1, outcome=RunOutcome.APPLIED, before={"a": before}, after={"a": after})


def test_step_1_done_step_2_reworded_step_3_keeps_its_approval() -> None:
    plan = approved_plan()
    plan.status = PlanStatus.EXECUTING
    plan.state(1).status = StepStatus.DONE
    plan.state(1).runs = [_run("x", "y")]
    data = body_dict()
    data["steps"][1]["description"] = "Create `tests/test_top.py` with `test_top` and `test_ties`."
    new = revised(plan, data)
    revisions.carry_over(plan, new, hand_edit=False, feedback="two tests", targets=["s2"])
    assert new.status == PlanStatus.DRAFT
    assert new.state(1).status == StepStatus.DONE and len(new.state(1).runs) == 1
    assert [s.id for s in needing_approval(new)] == ["s2"]
    assert new.state(3).approved == content_hash(new.body.step(3))  # cli.py: not built on step 2
    assert new.changes is not None and [c.id for c in new.changes.steps] == ["s2"]
    text = render(new).text
    assert "> **Needs approval:** step 2 · steps 1, 3 keep their approval" in text
    assert "## Changes in revision 2" in text
    assert "> - Step 2 (s2): reworded" in text
    assert "> Changed in revision 2: reworded" in text
    parse_markdown(text)  # the server-owned lines do not disturb parsing


def test_a_later_step_that_builds_on_a_changed_step_needs_approval_again() -> None:
    plan = approved_plan()
    data = body_dict()
    data["steps"][0]["validation"] = ["pytest -q tests/test_wordcount.py -x"]
    new = revised(plan, data)
    revisions.carry_over(plan, new, hand_edit=False)
    # step 3 changes cli.py, which depends on wordcount.py (step 1); step 2 is independent
    assert [s.id for s in needing_approval(new)] == ["s1", "s3"]
    assert new.changes is not None and new.changes.dependent == ["s3"]
    assert "needs approval again" in render(new).text


def test_a_done_step_the_revision_changes_needs_redo_and_keeps_its_edit() -> None:
    plan = approved_plan()
    plan.state(1).status = StepStatus.DONE
    plan.state(1).runs = [_run("x", "y")]
    data = body_dict()
    data["steps"][0]["description"] = (
        "Add `top_words` (ties alphabetical) to `textkit/wordcount.py`."
    )
    new = revised(plan, data)
    revisions.carry_over(plan, new, hand_edit=False)
    st = new.state(1)
    assert st.status == StepStatus.PENDING and st.needs_redo and st.runs[0].outcome == "applied"
    assert "> **Needs redo:** step 1" in render(new).text
    # a hand edit of the same text keeps it done
    by_hand = revised(plan, data)
    revisions.carry_over(plan, by_hand, hand_edit=True)
    assert by_hand.state(1).status == StepStatus.DONE and not by_hand.state(1).needs_redo


def test_the_diff_of_two_revisions_shows_exactly_the_change() -> None:
    plan = make_plan()
    data = body_dict()
    data["risks"].append("`--top 0` prints nothing")
    new = revised(plan, data)
    new.state(1).status = StepStatus.DONE  # status is not part of what is compared
    diff = unified_diff(plan, new)
    changed = [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ["+- `--top 0` prints nothing"]
    assert unified_diff(plan, plan) == ""


def test_targets_resolve_by_number_or_id_and_unknown_ones_are_refused() -> None:
    plan = make_plan()
    assert revisions.resolve_targets(plan, [2, "s3", 2]) == ["s2", "s3"]
    with pytest.raises(SessionError, match="has no step 7"):
        revisions.resolve_targets(plan, [7])
    with pytest.raises(SessionError, match="has no step 'zz'"):
        revisions.resolve_targets(plan, ["zz"])


async def test_a_revision_that_changes_unnamed_steps_is_sent_back_once() -> None:
    plan = make_plan()
    good = body_dict()
    good["steps"][1]["description"] = "Create `tests/test_top.py` with two tests."
    bad = body_dict()
    bad["steps"][1]["description"] = good["steps"][1]["description"]
    bad["steps"][2]["validation"] = ["pytest -q"]  # step 3 was not named
    notes: list[str] = []

    def result(data: dict[str, Any]) -> PlanningResult:
        return PlanningResult(
            body=PlanBody.model_validate(data), model="m", usage=Usage(calls=1), findings=[]
        )

    async def ask_twice_bad(note: str) -> PlanningResult:
        notes.append(note)
        return result(bad)

    res, not_asked = await revisions.ask_revision(ask_twice_bad, plan, ["s2"])
    assert len(notes) == 2 and "ONLY step 2 (id s2)" in notes[0]
    assert "- step 3 (s3): validation: this step was not named" in notes[1]
    assert "<submitted_plan>" in notes[1]
    assert not_asked == ["s3"] and res.usage.calls == 2
    new = plan.model_copy(deep=True)
    new.body, new.revision = res.body, 2
    revisions.carry_over(plan, new, hand_edit=False, targets=["s2"], not_asked=not_asked)
    assert "⚠ not asked for" in render(new).text and "⚠ Not asked for" in render(new).text

    answers = [bad, good]
    notes.clear()

    async def ask_then_fix(note: str) -> PlanningResult:
        notes.append(note)
        return result(answers.pop(0))

    res, not_asked = await revisions.ask_revision(ask_then_fix, plan, ["s2"])
    assert len(notes) == 2 and not_asked == []
    assert res.body.step(3).validation == ["pytest -q", "ruff check textkit"]


def test_the_acp_approval_question_says_what_changed_and_needs_approval() -> None:
    from planfirst.acp.views import approval_text

    plan = approved_plan()
    data = body_dict()
    data["steps"][1]["description"] = "Create `tests/test_top.py` with `test_top` and `test_ties`."
    new = revised(plan, data)
    revisions.carry_over(plan, new, hand_edit=False)
    text = approval_text(new, "plan.md")
    assert "2. Create `tests/test_top.py` with `test_top` and `test_ties`." in text
    assert "checked by `pytest -q tests/test_top.py` (reworded)" in text
    assert "**Needs approval:** step 2 · steps 1, 3 keep their approval" in text
    assert "Needs approval" not in approval_text(make_plan(), "plan.md")
