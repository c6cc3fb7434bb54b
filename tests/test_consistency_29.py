"""Paths that ended inconsistent (#29): a cost cap of 0, a refused revision's cost, a plan.md with
merge conflict markers, a cloned plan's model and spending, `planfirst diff` of two revisions
that read the same. In-process sessions with the fake host; the model is the real SDK against
the scripted loopback server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from planfirst import cli
from planfirst.core.workflow import budget
from planfirst.core.workflow.session import SessionError
from planfirst.llm.model import ModelError
from planfirst.plan.model import PlanStatus, Usage
from planfirst.plan.origin import UNTRUSTED_RULE
from planfirst.plan.store import PlanStore
from planfirst.settings import load_settings
from tests.reliability.test_step_edge_cases import ORIG_SLUG, done, edit, plan_turn, step
from tests.support.plan_fixtures import make_plan
from tests.test_cost import capped, start  # noqa: F401  (the fixture)
from tests.test_session_inprocess import DEMO, TASK

SLUG = "textkit/slug.py"


# ---------------------------------------------------------------- 4. zero means zero


def test_a_cap_of_zero_is_zero_and_a_cap_set_wrong_is_never_no_cap() -> None:
    s, problems = load_settings({"budget": {"maxCostPerPlan": 0, "maxCostPlanning": "0"}})
    assert problems == []
    assert (s.budget.max_cost_per_plan, s.budget.max_cost_planning) == (0, 0)
    assert s.budget.max_cost_per_step is None  # not set: no cap
    for bad in (-1, "abc", float("nan"), [1]):
        s, problems = load_settings({"budget": {"maxCostPerStep": bad}})
        assert s.budget.max_cost_per_step == 0, bad
        assert "nothing may be spent until it is fixed" in problems[0]
    env, problems = load_settings(environ={"PLANFIRST_MAX_COST_PER_PLAN": "-5"})
    assert env.budget.max_cost_per_plan == 0 and problems
    # a workspace cannot zero (or raise) the user's caps: they are trust settings
    ws, problems = load_settings({}, {"budget": {"maxCostPerPlan": -1}})
    assert ws.budget.max_cost_per_plan is None


def test_the_command_line_refuses_a_negative_cap() -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "x", "--max-cost-per-plan", "-1"])
    args = cli.build_parser().parse_args(["resume", "--max-cost-per-step", "0"])
    assert args.max_cost_per_step == 0


async def test_a_plan_cap_of_zero_sends_no_execute_request(start: Any) -> None:  # noqa: F811
    session, _, srv = start(DEMO, capped(maxCostPlanning=0))
    with pytest.raises(ModelError, match=r"maxCostPlanning is \$0: nothing may be spent"):
        await session.generate(TASK)
    assert srv.requests == []
    session.update_settings(capped(maxCostPerPlan=0))
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    sent = len(srv.requests)
    with pytest.raises(SessionError, match=r"maxCostPerPlan is \$0: nothing may be spent") as e:
        await session.execute_next(plan.id)
    assert e.value.code == "budget"
    assert len(srv.requests) == sent
    assert budget.execution_spent(session.load(plan.id)) == 0
    session.update_settings(capped(maxCostPerStep=0))
    with pytest.raises(SessionError, match=r"maxCostPerStep is \$0"):
        await session.execute_next(plan.id)
    assert len(srv.requests) == sent


# ---------------------------------------------------------------- 6. a refused revision's cost


async def test_a_revision_refused_after_the_model_answered_still_counts(start: Any) -> None:  # noqa: F811
    one = step(1, [SLUG], what="Say `(one)` in the docstring of `textkit/slug.py`.")
    two = step(2, ["textkit/wordcount.py"], what="Say `(two)` in `textkit/wordcount.py`.")
    dropped = plan_turn([{**two, "order": 1, "id": "s2"}])  # step 1 (done, on disk) is gone
    session, _, srv = start(
        [plan_turn([one, two]), edit(SLUG, ORIG_SLUG, '"""URL slugs (one)."""\n'), done(), dropped]
    )
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    assert (await session.execute_next(plan.id)).step == 1
    before: Usage = session.load(plan.id).usage.model_copy()
    with pytest.raises(SessionError, match="whose edit is still on disk; undo step 1 first"):
        await session.revise(plan.id, "drop the first step")
    after = session.load(plan.id)
    assert after.revision == 1  # the revision was not kept
    assert after.usage.calls == before.calls + 1
    assert after.usage.cost_usd > before.cost_usd
    assert srv.failures == []


# ---------------------------------------------------------------- 7. merge conflict markers


async def test_reload_refuses_merge_conflict_markers_at_their_line(
    start: Any,  # noqa: F811
) -> None:
    session, _, _ = start([])
    plan = make_plan()
    session.store.save(plan)
    md = session.store.plan_md(plan.id)
    lines = md.read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("### Step 2"))
    lines[at:at] = ["<<<<<<< HEAD"]
    end = next(i for i, line in enumerate(lines) if line.startswith("### Step 3"))
    lines[end:end] = ["=======", "Their version of step 2.", ">>>>>>> their-branch", ""]
    md.write_text("\n".join(lines))
    with pytest.raises(SessionError) as err:
        session.reload(plan.id)
    assert err.value.code == "parse_error"
    assert f"line {at + 1}: merge conflict marker '<<<<<<<'" in err.value.message
    assert "resolve the conflict in plan.md first" in err.value.message
    assert session.load(plan.id).revision == 1


# ---------------------------------------------------------------- 8 and 12: plans that travel


def test_a_cloned_plan_starts_from_your_settings_and_zero_spent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "their-data"))
    plan = make_plan()
    plan.status = PlanStatus.APPROVED
    plan.execution_model = "claude-opus-4-1"
    plan.usage = Usage(input_tokens=9000, output_tokens=900, cost_usd=0.4321, calls=5)
    PlanStore(ws).save(plan)
    assert PlanStore(ws).load(plan.id).execution_model == "claude-opus-4-1"  # theirs, sealed
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "my-data"))  # your key: not sealed
    cloned = PlanStore(ws).load(plan.id)
    assert cloned.status == PlanStatus.DRAFT
    assert cloned.execution_model is None  # the executionModel setting runs it
    assert cloned.usage == Usage() and cloned.estimate is None
    [finding] = cloned.findings
    assert finding.rule == UNTRUSTED_RULE
    assert "its author chose claude-opus-4-1" in finding.message
    assert "5 model call(s) costing about $0.4321, not counted as yours" in finding.message


def test_diff_says_so_when_two_revisions_read_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    store = PlanStore(ws)
    plan = make_plan()
    store.save_revision(plan)
    plan.revision = 2  # a revision that changed statuses only: the same text
    store.save(plan)
    assert cli.main(["diff", "--workspace", str(ws), "--plan", plan.id]) == 0
    assert capsys.readouterr().out == f"(revisions 1 and 2 of {plan.id} read the same)\n"


def test_plan_text_that_starts_a_line_like_a_marker_survives_a_reload() -> None:
    """Only a merge puts a conflict marker in plan.md: plan text is written escaped."""
    from planfirst.plan.render import parse_markdown, render

    plan = make_plan()
    plan.body.steps[0].description = "Split it.\n<<<<<<< ours\n=======\n>>>>>>> theirs"
    plan.body.summary = "Summary.\n||||||| base"
    _, body = parse_markdown(render(plan).text)
    assert body.steps[0].description == plan.body.steps[0].description
    assert body.summary == plan.body.summary
