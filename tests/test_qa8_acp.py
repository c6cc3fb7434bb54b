"""QA (the orders ACP users really do things in): `planfirst acp` driven through the Python SDK's
client side (tests/acp/harness.py) under the reliability suite's invariants; what the client is
sent (messages, tool calls and their statuses, plan entries, stop reasons) and what is on disk
must agree with what really happened."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from planfirst.plan.model import PlanStatus
from planfirst.plan.store import PlanStore
from tests.acp.conftest import agent
from tests.acp.harness import Editor
from tests.reliability.conftest import Invariants, inv, ws  # noqa: F401  (fixtures)
from tests.reliability.test_step_edge_cases import done, edit, plan_turn, step
from tests.support.plan_fixtures import DIAGNOSIS, failing_criteria
from tests.support.waiting import wait_until

SLUG = '"""URL slugs."""\n'
S1 = step(1, ["textkit/slug.py"], what="Say `(one)` in slug.py.")
ONE = edit("textkit/slug.py", SLUG, '"""URL slugs (one)."""\n')


def _calls_titled(ed: Editor, title: str) -> list[dict[str, Any]]:
    return [c for c in ed.tool_calls().values() if c.get("title") == title]


async def test_failing_test_criteria_say_how_to_finish_and_retry_runs_them(
    ws: Path,  # noqa: F811
    inv: Invariants,  # noqa: F811
) -> None:
    """The plan's one step is done, its test criteria fail. The user was told nothing about what
    to do (just "Plan failed"), the "Validate step 1" tool call showing the failing criteria
    was `completed`; `/continue` ran them again and then advised "/retry  runs it again", and
    `/retry` answered "every step is done; /undo N first to run a step again". The way on is
    said, /retry runs the criteria, and revising them then approving finishes the plan."""
    srv = inv.scripted_server(
        [failing_criteria(plan_turn([S1])), ONE, done(), DIAGNOSIS, DIAGNOSIS, plan_turn([S1])]
    )
    async with agent(inv, ws, srv, "basic") as a:
        ed = a.editor
        ed.answers = {"think": ["approve", "approve"]}
        session_id = await a.new()
        res = await a.prompt("say one")
        assert res.stop_reason == "end_turn"
        plan_id = PlanStore(ws).active()
        assert plan_id is not None and PlanStore(ws).load(plan_id).status == PlanStatus.FAILED
        assert "/continue runs them again" in ed.text(), ed.text()
        (validation,) = _calls_titled(ed, "Validate step 1")
        assert validation["statuses"][-1] == "failed"

        said = len(ed.text())
        res = await a.prompt("/retry")
        assert res.stop_reason == "end_turn"
        assert "every step is done" not in ed.text()[said:]
        assert "/retry  " not in ed.text() and "/continue runs them again" in ed.text()[said:]
        (again,) = _calls_titled(ed, "Validate the test criteria")
        assert again["statuses"][-1] == "failed"

        res = await a.prompt("/revise name an existing test file")
        assert res.stop_reason == "end_turn"
    assert PlanStore(ws).load(plan_id).status == PlanStatus.DONE, ed.text()

    ed.updates.clear()  # the agent restarts; the user loads the finished plan's session
    async with agent(inv, ws, srv, "basic", editor=ed) as b:
        await b.load(session_id)
        assert "Resumed: 1/1 steps done" in ed.text()
        assert "/continue runs the remaining steps" not in ed.text()


async def test_cancel_while_planning_says_no_plan_was_made(
    ws: Path,  # noqa: F811
    inv: Invariants,  # noqa: F811
) -> None:
    """Zed: the user stops the agent while the plan streams in. The agent said "The plan is
    saved; /continue picks it up again" — there is no plan (and /continue would take up
    whichever plan was active) — and the half-streamed plan stayed in the client's plan view
    as `streaming` for good."""
    slow = dict(plan_turn([S1]))
    slow["delay_chunks"] = 1.0  # the plan streams in slowly
    srv = inv.scripted_server([slow])
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        await a.new()
        turn = a.send("say one")
        await wait_until(lambda: ed.of("plan_update"), 30, "the plan streaming in")
        await a.conn.cancel(session_id=a.session_id)
        res = await asyncio.wait_for(turn, 10)
        assert res.stop_reason == "cancelled"
        assert "The plan is saved" not in ed.text()
        assert "no plan was made" in ed.text(), ed.text()
        streamed = ed.of("plan_update")[-1].plan.plan_id
        assert not PlanStore(ws).exists(streamed)
        removed = ed.of("plan_removed")
        assert [u.plan_id for u in removed] == [streamed]


async def test_a_truncated_answer_ends_the_turn_with_stop_reason_max_tokens(
    ws: Path,  # noqa: F811
    inv: Invariants,  # noqa: F811
) -> None:
    """The planning model runs out of output tokens twice (planfirst widens once): the turn
    ended with `end_turn`, while ACP has `max_tokens` for exactly this."""
    truncated = {"stop_reason": "max_tokens", "text": "I will"}
    srv = inv.scripted_server([truncated, truncated])
    async with agent(inv, ws, srv, "basic") as a:
        await a.new()
        res = await a.prompt("say one")
        assert res.stop_reason == "max_tokens"
        assert "ran out of output tokens" in a.editor.text()
