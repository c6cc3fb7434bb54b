"""session/cancel mid-step and session/load after the agent was killed."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from planfirst.plan.model import StepStatus
from planfirst.plan.store import PlanStore
from tests.acp.conftest import agent
from tests.reliability.conftest import DEMO, TASK, Invariants
from tests.support.waiting import wait_until


async def test_cancel_while_the_model_works_and_while_a_permission_is_open(
    ws: Path, inv: Invariants
) -> None:
    """Cancel (1) while step 1 waits on the model and (2) while its edit waits for permission:
    each prompt ends with stop reason "cancelled" at once, the step is pending again with its run
    recorded as cancelled, nothing was written; /continue in a new session offers the same edit
    again (no model call) and finishes the plan."""
    slow = dict(DEMO[2])
    slow["delay"] = 30
    # the edit cancelled at its permission question is offered again without a model call
    srv = inv.scripted_server([DEMO[0], DEMO[1], slow, *DEMO[2:12]])
    wc = ws / "textkit" / "wordcount.py"
    before = wc.read_text()
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.answers = {"think": ["approve"]}
        await a.new()
        turn = a.send(TASK)
        await wait_until(lambda: len(srv.requests) >= 3, 30, "step 1's model call")
        await a.conn.cancel(session_id=a.session_id)
        res = await asyncio.wait_for(turn, 10)
        assert res.stop_reason == "cancelled"
        plan_id = PlanStore(ws).active()
        assert plan_id is not None
        st = PlanStore(ws).load(plan_id).state(1)
        assert st.status == StepStatus.PENDING and st.runs[-1].outcome == "cancelled"

        # (2) the edit's permission question is open when the user cancels
        ed.hold = asyncio.Event()
        asked = ed.asked
        turn = a.send("/continue")
        await wait_until(lambda: ed.asked > asked, 30, "the edit's permission request")
        await a.conn.cancel(session_id=a.session_id)
        res = await asyncio.wait_for(turn, 10)
        assert res.stop_reason == "cancelled"
        ed.answers["edit"] = [None]  # the client answers the open request "cancelled", as ACP says
        ed.hold.set()
        st = PlanStore(ws).load(plan_id).state(1)
        assert st.status == StepStatus.PENDING and st.runs[-1].outcome == "cancelled"
        assert wc.read_text() == before and not ed.writes
        assert "Cancelled" in ed.text()

        # a new session (no plan of its own) picks up the workspace's active plan
        await a.new()
        res = await a.prompt("/continue")
        assert res.stop_reason == "end_turn"
        assert (
            f"Working on the workspace's active plan “{PlanStore(ws).load(plan_id).title}”"
            in ed.text()
        )
    plan = PlanStore(ws).load(plan_id)
    assert plan.status.value == "done", ed.text()
    runs = plan.state(1).runs
    # the edit cancelled at its permission question is offered again as the same attempt (#33)
    assert [(r.attempt, r.outcome) for r in runs] == [
        (1, "cancelled"),
        (2, "applied"),
        (3, "applied"),
    ]
    assert [r.turn for r in srv.requests] == list(range(1, 14))  # every scripted turn, once


async def test_resume_after_kill_with_session_load(ws: Path, inv: Invariants) -> None:
    """The agent is SIGKILLed while step 2's edit waits for permission. A new agent answers
    session/load for the same session id: it replays the whole conversation from the session's
    transcript (the prompt, every message, every tool call with its last status; the one left
    open is closed as failed), then the current plan; /continue proposes step 2 again and
    finishes the plan."""
    srv = inv.scripted_server([*DEMO[0:10], *DEMO[7:12]])
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.answers = {"think": ["approve"], "edit": ["apply", "apply"]}
        session_id = await a.new()
        turn = a.send(TASK)
        await wait_until(lambda: ed.asked >= 3, 60, "step 1's two edits")
        ed.hold = asyncio.Event()
        await wait_until(lambda: ed.asked >= 4, 60, "step 2's permission request")
        await asyncio.sleep(1.5)  # the transcript is saved within a second
        await a.kill()
        turn.cancel()
    seen = ed.tool_calls()
    said = ed.text()
    plan_id = PlanStore(ws).session_plan(session_id)
    assert plan_id is not None
    plan = PlanStore(ws).load(plan_id)
    assert plan.state(1).status == StepStatus.DONE and plan.state(2).runs[-1].outcome == "proposed"

    ed.hold = None
    ed.updates.clear()
    ed.answers = {"edit": ["apply", "apply"]}
    async with agent(inv, ws, srv, "zed", editor=ed) as b:
        await b.load(session_id)
        replayed = [type(u).__name__ for _, u in ed.updates]
        assert "UserMessageChunk" in replayed and "AgentPlanContentUpdate" in replayed
        assert ed.text("user_message_chunk") == TASK
        # the whole conversation as it happened: every tool call (approval, both attempts of
        # step 1 with their validations, step 2's open edit, now failed), every message
        again = ed.tool_calls()
        assert list(again) == list(seen) and len(again) == 6, list(again)
        for call_id, c in seen.items():
            last = c["statuses"][-1]
            assert again[call_id]["statuses"][-1] == (
                "failed" if last in ("pending", "in_progress") else last
            )
            assert again[call_id].get("content") == c.get("content")
        assert ed.text().startswith(said)
        assert "Resumed: 1/3 steps done" in ed.text()[len(said) :]
        res = await b.prompt("/continue")
        assert res.stop_reason == "end_turn"
    plan = PlanStore(ws).load(plan_id)
    assert plan.status.value == "done", ed.text()
    assert [r.outcome for r in plan.state(2).runs] == ["interrupted", "applied"]


async def test_two_sessions_never_run_steps_in_one_workspace_at_once(
    ws: Path, inv: Invariants
) -> None:
    """Session A's step 1 waits for its edit's permission; session B (same workspace) may plan
    and approve, but running steps is refused while A holds the workspace; A then finishes."""
    srv = inv.scripted_server([*DEMO[0:5], DEMO[0], DEMO[1], *DEMO[5:12]])
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.answers = {"think": ["approve", "approve"]}
        ed.hold, ed.hold_kind = asyncio.Event(), "edit"
        session_a = await a.new()
        turn_a = a.send(TASK)
        await wait_until(lambda: ed.asked >= 2, 60, "step 1's permission request in session A")
        plan_a = PlanStore(ws).session_plan(session_a)
        session_b = await a.new()
        res = await a.prompt("/new " + TASK)
        assert res.stop_reason == "end_turn"
        said_b = "".join(
            u.content.text
            for sid, u in ed.updates
            if sid == session_b and u.session_update == "agent_message_chunk"
        )
        assert f"another session ({session_a}) is running steps in this workspace" in said_b
        plan_b = PlanStore(ws).session_plan(session_b)
        assert plan_b is not None and plan_b != plan_a
        assert all(
            s.status == StepStatus.PENDING and not s.runs for s in PlanStore(ws).load(plan_b).steps
        )
        ed.hold.set()
        res = await asyncio.wait_for(turn_a, 120)
        assert res.stop_reason == "end_turn"
    assert plan_a is not None and PlanStore(ws).load(plan_a).status.value == "done"


def _children(pid: int) -> list[tuple[int, str]]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = (
                Path(f"/proc/{entry}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
            )
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append((int(entry), cmd))
    return out


async def test_kill_during_validation_then_load_validates_without_asking_again(
    ws: Path, inv: Invariants
) -> None:
    """SIGKILL while step 1's validation runs: the validation process dies with the agent
    (invariant 2), and after session/load, /continue validates the applied edit without asking
    the model or the client again, then carries on."""
    srv = inv.scripted_server([*DEMO[0:12]])
    async with agent(inv, ws, srv, "basic") as a:
        ed = a.editor
        ed.answers = {"think": ["approve"], "edit": ["apply"]}
        session_id = await a.new()
        turn = a.send(TASK)
        await wait_until(
            lambda: any("pytest" in c for _, c in _children(a.proc.pid)), 60, "step 1's validation"
        )
        await a.kill()
        turn.cancel()
    plan_id = PlanStore(ws).session_plan(session_id)
    assert plan_id is not None
    assert PlanStore(ws).load(plan_id).state(1).status == StepStatus.APPLIED
    asked, edits = len(srv.requests), ed.asked
    ed.answers = {"edit": ["apply", "apply", "apply"]}
    async with agent(inv, ws, srv, "basic", editor=ed) as b:
        await b.load(session_id)
        res = await b.prompt("/continue")
        assert res.stop_reason == "end_turn"
    plan = PlanStore(ws).load(plan_id)
    assert plan.status.value == "done", ed.text()
    # resumed by validating the applied edit: attempt 1 failed its check, the model's fix followed
    assert [r.outcome for r in plan.state(1).runs] == ["applied", "applied"]
    assert (
        srv.requests[asked].turn == 6
    )  # the next model call was the fix (DEMO[5]), not step 1 again
    assert ed.asked == edits + 3  # the fix, step 2, step 3: the applied edit was not asked again
