"""`core.session.Session` driven in-process with the fake host (tests/support/fake_host.py): the step
state machine end to end (retry, reject, undo, final checks), recovery of a step a killed
server left running, and the retry rule; the model is the scripted server through the SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.workflow import stepper
from planfirst.core.workflow.contracts import StepResult
from planfirst.core.workflow.session import Session, SessionError
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.lsp.results import step_result
from planfirst.plan.model import PlanStatus, RunOutcome, StepRun, StepStatus
from planfirst.settings import Settings
from tests.support.demo_script import DEMO
from tests.support.fake_host import FakeHost, ScriptedModels

TASK = "Add a --top N option to textkit count"


@pytest.fixture
async def run_session(workspace: Path) -> AsyncIterator[Any]:
    """Call with the script's turns: (session, host, scripted server)."""
    servers: list[ScriptedServer] = []
    models: list[ScriptedModels] = []

    def start(turns: list[dict[str, Any]]) -> tuple[Session, FakeHost, ScriptedServer]:
        srv = ScriptedServer(turns).start()
        servers.append(srv)
        settings = Settings.model_validate({"critique": {"model": "off"}})
        models.append(ScriptedModels(settings, srv.base_url))
        host = FakeHost(workspace)
        return Session(workspace, settings, models[-1], host), host, srv

    yield start
    for m in models:
        await m.aclose()
    for s in servers:
        s.stop()


@pytest.mark.slow  # a whole three-step plan with a retry, ~7 s
async def test_three_steps_with_a_retry_then_the_test_criteria(
    run_session: Any, workspace: Path
) -> None:
    session, host, srv = run_session(DEMO)
    plan = await session.generate(TASK)
    with pytest.raises(SessionError, match="not approved"):
        await session.execute_next(plan.id)
    await session.approve(plan.id)

    r1 = await session.execute_next(plan.id)
    assert (r1.step, r1.status, r1.attempts) == (1, StepResult.DONE, 2)
    # attempt 1 failed validation: problems published on the test file, then cleared
    assert any(
        "tests/test_wordcount.py" in p and p2 for pub in host.problems for p, p2 in pub.items()
    )
    assert host.problems[-1].get("tests/test_wordcount.py", []) == []
    r2 = await session.execute_next(plan.id)
    r3 = await session.execute_next(plan.id)
    assert (r2.status, r3.status) == (StepResult.DONE, StepResult.DONE)
    assert "test criteria passed" in r3.message
    assert srv.failures == []

    done = session.load(plan.id)
    assert done.status == PlanStatus.DONE
    assert [r.outcome for r in done.state(1).runs] == [RunOutcome.APPLIED, RunOutcome.APPLIED]
    # stored as the plain strings it always was
    raw = json.loads(session.store.plan_json(plan.id).read_text())
    assert raw["steps"][0]["runs"][0]["outcome"] == "applied"
    # the face's JSON
    assert step_result(r3) == {
        "planId": plan.id,
        "step": 3,
        "status": "done",
        "attempts": r3.attempts,
        "problems": 0,
        "message": r3.message,
        "staleFiles": [],
    }


async def test_rejected_edit_then_retry_then_undo_to_the_exact_bytes(
    run_session: Any, workspace: Path
) -> None:
    wc = workspace / "textkit" / "wordcount.py"
    wc.write_bytes(wc.read_bytes().replace(b"\n", b"\r\n", 1) + "# naïve\n".encode())
    before = wc.read_bytes()
    session, host, srv = run_session([*DEMO[:5], *DEMO[2:7]])
    plan = await session.generate(TASK)
    await session.approve(plan.id)

    host.accept = False
    r = await session.execute_next(plan.id)
    assert (r.status, r.step) == (StepResult.REJECTED, 1)
    assert wc.read_bytes() == before
    st = session.load(plan.id).state(1)
    assert st.status == StepStatus.PENDING and st.runs[-1].outcome == RunOutcome.REJECTED

    host.accept = True
    r = await session.retry(plan.id, None)  # no step: the first one to retry
    assert (r.step, r.status) == (1, StepResult.DONE)
    assert wc.read_bytes() != before

    u = await session.undo(plan.id, None)
    assert (u.step, u.status) == (1, StepResult.UNDONE)
    assert wc.read_bytes() == before
    st = session.load(plan.id).state(1)
    assert st.status == StepStatus.UNDONE
    assert [r.outcome for r in st.runs][-3:] == [
        RunOutcome.APPLIED_UNDONE,
        RunOutcome.APPLIED_UNDONE,
        RunOutcome.UNDONE,
    ]
    with pytest.raises(SessionError, match="no applied edit"):
        await session.undo(plan.id, 1)
    assert srv.failures == []


async def test_recover_a_step_a_killed_server_left_running(
    run_session: Any, workspace: Path
) -> None:
    session, _host, _srv = run_session(DEMO[:2])
    plan = await session.generate(TASK)
    wc = "textkit/wordcount.py"
    old = session.read_disk(wc)
    assert old is not None
    new = old + "\n# applied\n"

    def left_running(outcome: RunOutcome, on_disk: str) -> tuple[RunOutcome, StepStatus]:
        (workspace / wc).write_text(on_disk, encoding="utf-8")
        st = plan.state(1)
        st.runs = [StepRun(attempt=1, outcome=outcome, before={wc: old}, after={wc: new})]
        st.status = StepStatus.RUNNING
        stepper.recover(session, plan, 1)
        return st.runs[-1].outcome, st.status

    # the edit landed before the kill: applied (validated on resume)
    assert left_running(RunOutcome.PROPOSED, new) == (RunOutcome.APPLIED, StepStatus.APPLIED)
    # it did not: the attempt was interrupted, the step starts again
    assert left_running(RunOutcome.PROPOSED, old) == (RunOutcome.INTERRUPTED, StepStatus.PENDING)
    assert left_running(RunOutcome.PENDING, old) == (RunOutcome.INTERRUPTED, StepStatus.PENDING)
    assert left_running(RunOutcome.APPLIED, new) == (RunOutcome.APPLIED, StepStatus.APPLIED)
    for nothing_landed in (
        RunOutcome.ERROR,
        RunOutcome.CANCELLED,
        RunOutcome.REJECTED,
        RunOutcome.NO_CHANGE,
    ):
        assert left_running(nothing_landed, old) == (nothing_landed, StepStatus.PENDING)


async def test_the_step_to_retry_is_the_first_not_done(run_session: Any) -> None:
    session, _host, _srv = run_session(DEMO[:2])
    plan = await session.generate(TASK)
    assert stepper.step_to_retry(plan) == 1
    plan.state(1).status = StepStatus.DONE
    plan.state(2).status = StepStatus.FAILED
    assert stepper.step_to_retry(plan) == 2
    for st in plan.steps:
        st.status = StepStatus.DONE
    with pytest.raises(SessionError, match="no step to retry"):
        stepper.step_to_retry(plan)
