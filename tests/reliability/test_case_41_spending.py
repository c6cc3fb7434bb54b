"""docs/reliability.md case 41: spending stays within the caps. Every request is priced at its
real worst case (the `max_tokens` actually sent, every output token of it) and counted before it
is sent — each retry after a cut stream too; what a cut attempt had cost is counted; retries and
`maxTokens` come only from the user's settings; a revision refused midway is counted by the plan
cap."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from planfirst.core.workflow.contracts import SessionError
from planfirst.core.workflow.session import Session
from planfirst.llm.catalog import DEFAULT_EXECUTION_MODEL, lookup
from planfirst.llm.model import ModelError
from planfirst.llm.window import request_estimate
from planfirst.plan.store import PlanStore
from planfirst.settings import load_settings
from tests.reliability.conftest import Invariants, serve
from tests.reliability.red_team import edit_turn
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.fake_host import FakeHost, ScriptedModels
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until
from tests.test_session_inprocess import DEMO, TASK

CAP = 0.05  # dollars for the step: a whole 32,000-token answer on Sonnet 5.5 would be $0.32


def _worst(body: dict[str, Any]) -> float:
    """The request's worst case: its whole prompt at the cache-write rate, every output token."""
    info = lookup(str(body["model"]))
    prompt = request_estimate(body)
    return (prompt * info.cache_write_price + body["max_tokens"] * info.output_per_mtok) / 1e6


async def test_case_41_cut_streams_and_retries_stay_within_the_step_cap(
    ws: Path, inv: Invariants
) -> None:
    cut = {
        "fault": "stream_cut",
        "text": "I will now edit the README to document the option. " * 40,
        **edit_turn("README.md", "# textkit", "# textkit\n"),
    }
    srv = inv.scripted_server([plan_turn(one_step_plan(["true"])), *[cut] * 6])
    opts = {
        "budget": {"maxCostPerStep": CAP},
        "execution": {"maxAttempts": 1},
        "planning": {"lintFeedback": False},
    }
    hostile = {"maxTokens": 128_000, "anthropic": {"maxRetries": 10}}
    async with serve(inv, ws, srv, init_options=opts) as (client, _editor, _l):
        client.set_configuration(hostile, section="planfirst")
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"planfirst": hostile})
        )
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        with contextlib.suppress(Exception):  # the step fails: every answer was cut
            await command(client, "planfirst.executeNextStep", {"planId": pid})
        await wait_until(lambda: len(srv.requests) > 1, 30, "the step's requests")
    steps = [r.body for r in srv.requests[1:]]
    assert steps and all(b["model"] == DEFAULT_EXECUTION_MODEL for b in steps)
    # the user's 2 retries, not the workspace's 10
    assert len(steps) <= 3, f"{len(steps)} attempts: the workspace raised maxRetries"
    for b in steps:
        assert b["max_tokens"] <= 32_000, "the workspace raised maxTokens"
        assert _worst(b) <= CAP + 1e-9, (
            f"a request whose worst case is ${_worst(b):.3f} was sent under a ${CAP} cap"
        )
    runs = PlanStore(ws).load(pid).state(1).runs
    counted = sum(r.usage.calls for r in runs)
    spent = sum(r.usage.cost_usd for r in runs)
    assert counted == len(steps), "a cut attempt's usage was not counted"
    assert 0 < spent <= CAP


async def test_case_41_a_refused_revision_is_counted_by_the_plan_cap(
    ws: Path, inv: Invariants
) -> None:
    # the revision's answers are cut at max_tokens twice: refused, but both were billed
    truncated = {"stop_reason": "max_tokens", "text": "A revised plan that goes on and on " * 30}
    srv = inv.scripted_server([*DEMO[:2], truncated, truncated])
    settings, problems = load_settings({"critique": {"model": "off"}, "maxTokens": 2048})
    assert not problems
    models = ScriptedModels(settings, srv.base_url)
    session = Session(ws, settings, models, FakeHost(ws))
    try:
        plan = await session.generate(TASK)
        await session.approve(plan.id)
        with pytest.raises(ModelError, match="ran out of output tokens"):
            await session.revise(plan.id, "Also document the option in the README")
        after = session.load(plan.id)
        assert after.extra_spent > 0, "the refused revision's cost was lost"
        assert after.revision == plan.revision  # nothing of it was kept
        # a plan cap below what the revision cost stops the next step before it is sent
        capped, _ = load_settings(
            {"critique": {"model": "off"}, "budget": {"maxCostPerPlan": after.extra_spent}}
        )
        session.update_settings(capped)
        sent = len(srv.requests)
        with pytest.raises(SessionError, match="maxCostPerPlan"):
            await session.execute_next(plan.id)
        assert len(srv.requests) == sent
    finally:
        await models.aclose()


async def test_case_41_the_sent_max_tokens_fits_the_cap_and_a_cut_answer_says_so(
    inv: Invariants,
) -> None:
    """A request whose whole answer could cross the cap is sent with a smaller max_tokens; when
    that answer runs out, the message names the cap (not maxTokens) and nothing is re-sent."""
    from planfirst.core.workflow.budget import Budget, Cap, metered
    from tests.support.llm_helpers import Handler, close_models, make_model, submit_request

    srv = inv.scripted_server(
        [{"stop_reason": "max_tokens", "tool": "submit_answer", "input": {"title": "t"}}]
    )
    cap = Budget([Cap("planfirst.budget.maxCostPerStep", CAP, 0.0, "step 1")], {})
    try:
        with metered(cap), pytest.raises(ModelError) as err:
            await make_model(srv, DEFAULT_EXECUTION_MODEL).run(submit_request(), Handler())
    finally:
        await close_models()
    assert len(srv.requests) == 1  # no wider retry the cap would lower again
    body = srv.requests[0].body
    assert body["max_tokens"] < 32_000 and _worst(body) <= CAP + 1e-9
    assert "budget cap lowered it" in err.value.message
    assert 0 < cap.spent.cost_usd <= CAP


async def test_case_41_a_failed_diagnosis_is_counted_by_the_plan_cap(
    ws: Path, inv: Invariants
) -> None:
    """The step breaks the workspace's tests; the final checks fail and the diagnosis runs out
    of tokens twice (billed, then refused): what it cost is the plan's, counted by the cap."""
    body = one_step_plan(["true"], path="textkit/wordcount.py")
    edit = edit_turn("textkit/wordcount.py", "w.lower()", "w.upper()")
    truncated = {"stop_reason": "max_tokens", "text": "The suspect step is step 1 because " * 30}
    srv = inv.scripted_server([plan_turn(body), edit, {"text": "Done."}, truncated, truncated])
    settings, problems = load_settings({"critique": {"model": "off"}, "maxTokens": 2048})
    assert not problems
    models = ScriptedModels(settings, srv.base_url)
    session = Session(ws, settings, models, FakeHost(ws))
    try:
        plan = await session.generate(TASK)
        await session.approve(plan.id, force=True)
        await session.execute_next(plan.id)
        after = session.load(plan.id)
        assert after.status.value == "failed" and after.diagnosis is None
        assert len(srv.requests) == 5  # the plan, the step's two, the diagnosis's two
        steps = sum(r.usage.cost_usd for st in after.steps for r in st.runs)
        assert after.extra_spent > 0, "the failed diagnosis's cost was lost"
        from planfirst.core.workflow.budget import execution_spent

        assert execution_spent(after) == pytest.approx(steps + after.extra_spent)
    finally:
        await models.aclose()


async def test_case_41_a_cjk_and_emoji_prompt_is_priced_by_its_bytes(inv: Invariants) -> None:
    """A tokenizer over UTF-8 bytes makes at most one token per byte, and emoji and CJK text
    run near that bound: priced at three characters a token, a repository of emoji passed a cap
    by several times. The worst case counts every non-ASCII byte as a token."""
    from planfirst.core.workflow.budget import Budget, Cap, metered
    from planfirst.llm.model import BudgetStop
    from tests.support.llm_helpers import Handler, close_models, make_model, submit_request

    srv = inv.scripted_server([{"tool": "submit_answer", "input": {"title": "t"}}])
    cap = Budget([Cap("planfirst.budget.maxCostPerStep", 0.10, 0.0, "step 1")], {})
    blob = "<file path='notes.md'>\n" + "😀漢" * 10_000 + "\n</file>"
    info = lookup(DEFAULT_EXECUTION_MODEL)
    try:
        with metered(cap), contextlib.suppress(BudgetStop, ModelError):
            await make_model(srv, DEFAULT_EXECUTION_MODEL).run(
                submit_request(stable=[blob]), Handler()
            )
    finally:
        await close_models()
    for r in srv.requests:
        prompt = sum(
            len(json.dumps(r.body[k], ensure_ascii=False).encode())
            for k in ("system", "tools", "messages")
            if k in r.body
        )
        worst = (
            prompt * info.cache_write_price + r.body["max_tokens"] * info.output_per_mtok
        ) / 1e6
        assert worst <= 0.10 + 1e-9, f"a request whose worst case is ${worst:.3f} was sent"
    assert cap.spent.cost_usd <= 0.10
