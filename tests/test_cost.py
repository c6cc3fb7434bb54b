"""Cost (#19): the estimate before approval against what the scripted server really charged, the
budget caps (stop before the request that could cross one; resume after raising it), the
execution model chosen at approval, and the retry rate learned from the workspace's history.
The model is the real SDK against the scripted loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.planning import cost
from planfirst.core.workflow import budget
from planfirst.core.workflow.contracts import StepResult
from planfirst.core.workflow.session import Session, SessionError
from planfirst.llm.catalog import PRICES_CHECKED, lookup
from planfirst.llm.model import ModelError
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.llm.window import request_estimate
from planfirst.plan.cost import usd, usd_range
from planfirst.plan.model import PlanStatus, RunOutcome, StepStatus
from planfirst.plan.render import render
from planfirst.settings import Settings, load_settings
from tests.support.fake_host import FakeHost, ScriptedModels
from tests.support.plan_fixtures import make_plan
from tests.test_session_inprocess import DEMO, TASK


@pytest.fixture
async def start(workspace: Path) -> AsyncIterator[Any]:
    """Call with (turns, settings): (session, host, scripted server)."""
    servers: list[ScriptedServer] = []
    models: list[ScriptedModels] = []

    def go(
        turns: list[dict[str, Any]], settings: Settings | None = None
    ) -> tuple[Session, FakeHost, ScriptedServer]:
        srv = ScriptedServer(turns).start()
        servers.append(srv)
        s = settings or capped()
        models.append(ScriptedModels(s, srv.base_url))
        host = FakeHost(workspace)
        return Session(workspace, s, models[-1], host), host, srv

    yield go
    for m in models:
        await m.aclose()
    for srv in servers:
        srv.stop()


def capped(**budget_layer: float) -> Settings:
    s, problems = load_settings({"budget": budget_layer})
    assert not problems, problems
    return s


@pytest.mark.slow  # a whole three-step plan in-process, ~7 s
async def test_estimate_of_a_three_step_plan_covers_what_it_cost(start: Any) -> None:
    session, _, srv = start(DEMO)
    draft = await session.generate(TASK)
    # a draft already carries an estimate (the plan header shows it)
    assert draft.estimate is not None and draft.estimate.high > draft.estimate.low > 0
    assert "Estimated cost" in render(draft).text
    plan = await session.approve(draft.id)
    est = plan.estimate
    assert est is not None and est.model == Settings().execution_model
    assert [s.order for s in est.steps] == [1, 2, 3]
    assert est.prices_date == PRICES_CHECKED and est.attempts == cost.DEFAULT_ATTEMPTS
    for _ in range(3):
        assert (await session.execute_next(plan.id)).status == StepResult.DONE
    assert srv.failures == []
    done = session.load(plan.id)
    actual = {st.order: sum(r.usage.cost_usd for r in st.runs) for st in done.steps}
    for sc in est.steps:
        assert sc.low <= actual[sc.order] <= sc.high, (sc, actual[sc.order])
    total = sum(actual.values())
    assert est.low <= total <= est.high
    # the estimate made at approval stays on the plan for the summary
    assert done.estimate is not None and done.estimate.steps == est.steps


async def test_estimate_follows_the_files_as_they_will_be_sent(workspace: Path) -> None:
    plan = make_plan()
    settings = Settings()

    def read(rel: str) -> str | None:
        p = workspace / rel
        return p.read_text() if p.exists() else None

    small = cost.estimate(plan, read, settings)
    big = "\n".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(3_000))
    (workspace / "textkit" / "wordcount.py").write_text(big)
    outlined = cost.estimate(plan, read, settings)
    step1 = outlined.step(1)
    assert step1 is not None and step1.sent["textkit/wordcount.py"].startswith("outline")
    # an outline, not 90,000 characters in every request
    assert step1.input_tokens < 10_000
    assert step1.high > small.step(1).high  # type: ignore[union-attr]
    # a dearer model, a dearer estimate; done steps are not estimated
    opus = cost.estimate(plan, read, settings, model="claude-opus-4-1")
    assert opus.low > small.low and opus.model == "claude-opus-4-1"
    plan.state(1).status = StepStatus.DONE
    assert [s.order for s in cost.estimate(plan, read, settings).steps] == [2, 3]


def test_cache_simulation_writes_once_then_reads() -> None:
    c = cost._Cache(min_tokens=1_000)
    first = c.request([("system", 600, True), ("overview", 900, True), ("s1", 500, True)])
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (2_000, 0)
    second = c.request([("system", 600, True), ("overview", 900, True), ("s2", 400, True)])
    assert (second.cache_read_input_tokens, second.cache_creation_input_tokens) == (1_500, 400)
    short = cost._Cache(min_tokens=4_096).request([("system", 600, True)])
    assert short.input_tokens == 600 and short.cache_creation_input_tokens == 0


@pytest.mark.slow  # a plan stopped by its cap, then resumed, ~7 s
async def test_a_plan_cap_stops_before_the_request_and_resume_continues(start: Any) -> None:
    session, _, srv = start(DEMO)
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    assert (await session.execute_next(plan.id)).status == StepResult.DONE
    spent = budget.execution_spent(session.load(plan.id))
    assert spent > 0
    # room for less than any request's worst case: step 2 must not send anything
    limit = round(spent + 0.005, 4)
    session.update_settings(capped(maxCostPerPlan=limit))
    sent = len(srv.requests)
    with pytest.raises(SessionError) as err:
        await session.execute_next(plan.id)
    assert err.value.code == "budget"
    msg = err.value.message
    assert "planfirst.budget.maxCostPerPlan" in msg and f"has spent {usd(spent)}" in msg
    est = session.load(plan.id).estimate
    assert est is not None
    sc = est.step(2)
    assert sc is not None and f"step 2 is estimated at {usd_range(sc.low, sc.high)}" in msg
    assert len(srv.requests) == sent  # stopped before the request, not after
    p = session.load(plan.id)
    assert p.state(2).status == StepStatus.PENDING
    assert p.state(2).runs[-1].outcome == RunOutcome.ERROR
    assert budget.execution_spent(p) <= limit
    # raise the cap: the plan goes on where it stopped
    session.update_settings(capped(maxCostPerPlan=10.0))
    assert (await session.execute_next(plan.id)).status == StepResult.DONE
    assert (await session.execute_next(plan.id)).status == StepResult.DONE
    assert session.load(plan.id).status == PlanStatus.DONE
    assert srv.failures == []


async def test_a_step_cap_and_the_planning_cap(start: Any) -> None:
    session, _, srv = start(DEMO, capped(maxCostPlanning=0.001))
    with pytest.raises(ModelError, match="maxCostPlanning") as err:
        await session.generate(TASK)
    assert err.value.kind == "budget" and srv.requests == []
    session.update_settings(capped(maxCostPerStep=0.01))
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    with pytest.raises(SessionError, match="maxCostPerStep") as e2:
        await session.execute_next(plan.id)
    assert "step 1 has spent $0" in e2.value.message
    assert session.load(plan.id).state(1).status == StepStatus.PENDING


async def test_the_execution_model_chosen_at_approval_is_used_and_recorded(start: Any) -> None:
    session, _, srv = start(DEMO)
    plan = await session.generate(TASK)
    default = plan.estimate
    assert default is not None
    chosen = "claude-haiku-4-5"
    with pytest.raises(SessionError, match="not a model name"):
        await session.approve(plan.id, execution_model="claude; rm -rf /")
    plan = await session.approve(plan.id, execution_model=chosen)
    assert plan.execution_model == chosen
    assert plan.estimate is not None and plan.estimate.model == chosen
    # the estimate follows the chosen model's prices
    ratio = lookup(chosen).input_per_mtok / lookup(default.model).input_per_mtok
    assert plan.estimate.low != default.low
    assert plan.estimate.low < default.low if ratio < 1 else plan.estimate.low > default.low
    first = len(srv.requests)
    await session.execute_next(plan.id)
    assert {r.body["model"] for r in srv.requests[first:]} == {chosen}
    assert {r.model for r in session.load(plan.id).state(1).runs} == {chosen}


async def test_the_retry_rate_is_learned_from_the_workspace(start: Any) -> None:
    session, _, _ = start(DEMO)
    assert budget.attempts(session).source == "default"
    for i in range(cost.MIN_HISTORY):
        session.store.record_step({"plan": "p", "step": i + 1, "attempts": 2 if i < 2 else 1})
    learned = budget.attempts(session)
    assert learned.expected == 1.4 and learned.source == f"learned from {cost.MIN_HISTORY} steps"
    session.update_settings(capped(expectedAttempts=2.0))
    assert budget.attempts(session).expected == 2.0
    # a finished step is recorded with its estimate and what it cost
    session.update_settings(capped())
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    await session.execute_next(plan.id)
    row = session.store.step_history()[-1]
    assert row["plan"] == plan.id and row["attempts"] == 2 and row["cost"] > 0
    assert len(row["estimate"]) == 2


def test_budget_caps_and_prices_come_only_from_user_settings() -> None:
    hostile = {"budget": {"maxCostPerPlan": 1000, "expectedAttempts": 2}, "prices": {"x": {}}}
    s, problems = load_settings({"budget": {"maxCostPerPlan": 2}}, hostile)
    assert s.budget.max_cost_per_plan == 2 and s.budget.expected_attempts == 2
    assert s.prices == {}
    assert any("maxCostPerPlan" in p for p in problems)
    env, _ = load_settings(environ={"PLANFIRST_MAX_COST_PER_STEP": "0.5"})
    assert env.budget.max_cost_per_step == 0.5
    bad, problems = load_settings({"budget": {"maxCostPerStep": -1}})
    assert bad.budget.max_cost_per_step == 0 and problems  # set wrong: $0, never "no cap" (#29)


async def test_the_planning_cap_counts_the_critique(start: Any) -> None:
    from tests.support.demo_script import DEMO_WITH_CRITIQUE, editor_scripts

    end = editor_scripts().planning_end(DEMO_WITH_CRITIQUE)
    free, _ = load_settings({"critique": {"model": "off"}})
    session, _, _ = start(DEMO_WITH_CRITIQUE[:end], free)
    spent = (await session.generate(TASK)).usage.cost_usd  # the plan's two requests
    uncapped, _ = load_settings({"critique": {"model": ""}})
    session, _, first = start(DEMO_WITH_CRITIQUE[:end], uncapped)
    await session.generate(TASK)
    critic_body = next(
        r.body
        for r in first.requests
        if any(t["name"] == "submit_critique" for t in r.body["tools"])
    )
    # the critic's least worst case: its whole prompt at the cache-write rate and the smallest
    # answer it may be sent with (1,024 tokens); the plan's requests fit (each sent with a
    # max_tokens lowered to what is left), the critique does not
    info = lookup(uncapped.planning_model)
    least = (
        request_estimate(critic_body) * info.cache_write_price + 1024 * info.output_per_mtok
    ) / 1_000_000
    settings, _ = load_settings(
        {"budget": {"maxCostPlanning": spent + 0.99 * least}, "critique": {"model": ""}}
    )
    assert settings.critique.enabled
    session, _, srv = start(DEMO_WITH_CRITIQUE[:end], settings)
    plan = await session.generate(TASK)
    critic = [
        r for r in srv.requests if any(t.get("name") == "submit_critique" for t in r.body["tools"])
    ]
    assert critic == [] and len(srv.requests) == 2  # the plan's two requests, no critique
    assert all(r.body["max_tokens"] < settings.max_tokens for r in srv.requests)
    notes = plan.provenance.critique.notes if plan.provenance.critique else []
    assert any("planfirst.budget.maxCostPlanning" in n for n in notes), notes


async def test_a_failed_run_keeps_what_its_answered_requests_cost(start: Any) -> None:
    # step 1's edit turn is answered, then the API refuses the next request
    session, _, _srv = start([*DEMO[:3], {"fault": {"status": 400, "message": "no"}}])
    plan = await session.generate(TASK)
    planning = session.load(plan.id).usage.cost_usd
    await session.approve(plan.id)
    with pytest.raises(SessionError, match="no"):
        await session.execute_next(plan.id)
    p = session.load(plan.id)
    run = p.state(1).runs[-1]
    assert run.outcome == RunOutcome.ERROR
    assert run.usage.calls == 1 and run.usage.cost_usd > 0
    assert p.usage.cost_usd == pytest.approx(planning + run.usage.cost_usd)
    assert budget.step_spent(p, 1) == run.usage.cost_usd


def test_the_acp_approval_question_shows_the_estimate(workspace: Path) -> None:
    from planfirst.acp.views import approval_text

    plan = make_plan()
    assert "Estimated cost" not in approval_text(plan, "plan.md")
    plan.estimate = cost.estimate(plan, lambda rel: None, capped())
    text = approval_text(plan, "plan.md")
    assert f"Estimated cost: {usd_range(plan.estimate.low, plan.estimate.high)} on " in text
