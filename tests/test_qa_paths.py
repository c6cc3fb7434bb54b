"""Orders users really do things in (QA of #29 and #31): reload and revise after a restart, the
plan cap after a diagnosis and after a revision removed a step that had run. In-process sessions
with the fake host; the model is the real SDK against the scripted loopback server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.editing.executor import ProposedChange
from planfirst.core.workflow import budget
from planfirst.core.workflow.session import ApplyOutcome, Session, SessionError
from planfirst.plan.model import PlanStatus, RunOutcome, StepRun, StepStatus
from planfirst.plan.store import PlanStore
from tests.reliability.test_step_edge_cases import ORIG_SLUG, done, edit, plan_turn, step
from tests.support.fake_host import FakeHost, ScriptedModels
from tests.support.plan_fixtures import DIAGNOSIS, make_plan
from tests.test_cost import capped, start  # noqa: F401  (the fixture)
from tests.test_session_inprocess import TASK

SLUG = "textkit/slug.py"
WC = "textkit/wordcount.py"
ONE = step(1, [SLUG], what="Say `(one)` in the docstring of `textkit/slug.py`.")
TWO = step(2, [WC], what="Say `(two)` in the docstring of `textkit/wordcount.py`.")


async def _killed_with_its_edit_on_disk(session: Any, workspace: Path) -> str:
    """An approved one-step plan whose step a killed server left `running`: the editor had
    applied the proposed edit, the server died before recording it."""
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    plan = session.load(plan.id)
    old = (workspace / SLUG).read_text()
    new = old.replace(ORIG_SLUG, '"""URL slugs (one)."""\n', 1)
    (workspace / SLUG).write_text(new)
    st = plan.state(1)
    st.runs = [
        StepRun(
            attempt=1,
            execution_attempt=1,
            outcome=RunOutcome.PROPOSED,
            before={SLUG: old},
            after={SLUG: new},
        )
    ]
    st.status = StepStatus.RUNNING
    plan.status = PlanStatus.EXECUTING
    session.store.save(plan)
    return str(plan.id)


async def test_reload_after_a_restart_keeps_the_edit_that_landed(
    start: Any,  # noqa: F811
    workspace: Path,
) -> None:
    """The user rewords the step in plan.md and reloads after the server was killed mid-step:
    the edit on disk is recorded as applied (undoable, validated by Execute), never forgotten
    behind a `pending` step that Execute would run again."""
    session, _, srv = start([plan_turn([ONE])])
    pid = await _killed_with_its_edit_on_disk(session, workspace)
    md = session.store.plan_md(pid)
    md.write_text(md.read_text().replace("Say `(one)`", "Say `(uno)`"))
    plan = session.reload(pid)
    st = plan.state(1)
    assert st.status == StepStatus.APPLIED
    assert [r.outcome for r in st.runs] == [RunOutcome.APPLIED]
    await session.approve(pid)
    sent = len(srv.requests)
    r = await session.execute_next(pid)  # validates the edit on disk: no model call
    assert (r.step, r.status.value) == (1, "done")
    assert len(srv.requests) == sent
    await session.undo(pid, 1)
    assert (workspace / SLUG).read_text().startswith(ORIG_SLUG)


async def test_revise_after_a_restart_says_what_the_step_is(
    start: Any,  # noqa: F811
    workspace: Path,
) -> None:
    """After a kill nothing runs, so "let it finish or cancel it" cannot be followed: the step
    is settled first and the refusal says its edit is applied and not validated."""
    session, _, _ = start([plan_turn([ONE])])
    pid = await _killed_with_its_edit_on_disk(session, workspace)
    with pytest.raises(SessionError, match="applied but not validated") as e:
        await session.revise(pid, "say (uno) instead")
    assert "cancel" not in e.value.message
    assert session.load(pid).state(1).status == StepStatus.APPLIED


async def test_the_plan_cap_counts_the_diagnosis(start: Any) -> None:  # noqa: F811
    """docs/cost.md: maxCostPerPlan caps everything executing the plan cost, the diagnosis
    included; every Execute of a plan whose test criteria fail diagnoses again."""
    turn = plan_turn([ONE])
    turn["input"]["test_criteria"] = ["`pytest -q tests/test_missing.py` passes"]
    session, _, srv = start(
        [turn, edit(SLUG, ORIG_SLUG, '"""URL slugs (one)."""\n'), done(), DIAGNOSIS, DIAGNOSIS]
    )
    plan = await session.generate(TASK)
    planning = plan.usage.cost_usd
    await session.approve(plan.id)
    await session.execute_next(plan.id)
    p1 = session.load(plan.id)
    assert p1.status == PlanStatus.FAILED and p1.diagnosis is not None
    await session.execute_next(plan.id)  # the test criteria again, and a second diagnosis
    p2 = session.load(plan.id)
    steps = sum(r.usage.cost_usd for r in p2.state(1).runs)
    executing = p2.usage.cost_usd - planning  # the step and two diagnoses
    assert executing > steps > 0
    assert budget.execution_spent(p2) == pytest.approx(executing, abs=1e-6)
    cap = budget.for_plan(session, p2).caps
    assert cap == []  # no cap set: none
    session.update_settings(capped(maxCostPerPlan=10))
    (plan_cap,) = budget.for_plan(session, p2).caps
    assert plan_cap.spent_before == pytest.approx(executing, abs=1e-6)
    assert srv.failures == []


async def test_the_plan_cap_counts_a_step_a_reload_removed(start: Any) -> None:  # noqa: F811
    """Step 2 cost something and left nothing on disk (its edit declined); the user deletes it
    from plan.md and reloads: what it cost is still spent, so the cap is not reset by editing
    the plan."""
    session, host, srv = start(
        [
            plan_turn([ONE, TWO]),
            edit(SLUG, ORIG_SLUG, '"""URL slugs (one)."""\n'),
            done(),
            edit(WC, '"""Word counting."""', '"""Word counting (two)."""'),
            done(),
        ]
    )
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    await session.execute_next(plan.id)
    host.accept = False
    r = await session.execute_next(plan.id)
    assert (r.step, r.status.value) == (2, "rejected")
    spent = budget.execution_spent(session.load(plan.id))
    assert session.load(plan.id).state(2).runs[-1].usage.cost_usd > 0
    md = session.store.plan_md(plan.id)
    text = md.read_text()
    at = text.index("### Step 2")
    md.write_text(text[:at] + text[text.index("\n## ", at) + 1 :])
    revised = session.reload(plan.id)
    assert [s.order for s in revised.body.steps] == [1]
    assert budget.execution_spent(revised) == pytest.approx(spent, abs=1e-6)
    assert srv.failures == []


def test_a_cloned_plan_brings_none_of_its_authors_spending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan cloned from another repository (not sealed by this planfirst) starts from zero
    spent (#29 item 8): its author's diagnoses and revisions after approval are not counted by
    your plan cap either."""
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "their-data"))
    plan = make_plan()
    plan.status = PlanStatus.FAILED
    plan.extra_spent = 0.75  # their diagnoses
    PlanStore(ws).save(plan)
    assert budget.execution_spent(PlanStore(ws).load(plan.id)) == 0.75  # theirs, sealed
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "my-data"))  # your key: not sealed
    cloned = PlanStore(ws).load(plan.id)
    assert cloned.status == PlanStatus.DRAFT
    assert budget.execution_spent(cloned) == 0


class ReviewingHost(FakeHost):
    """An editor that shows the edit and applies it when told to."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.shown = asyncio.Event()
        self.go = asyncio.Event()

    async def apply_change(
        self, change: ProposedChange, label: str, description: str
    ) -> ApplyOutcome:
        self.shown.set()
        await self.go.wait()
        return await super().apply_change(change, label, description)


async def test_another_face_never_runs_a_step_the_editor_is_showing(
    start: Any,  # noqa: F811
    workspace: Path,
) -> None:
    """The editor shows step 1's edit (the step is `running` in plan.json); meanwhile the user
    runs `planfirst resume` in a terminal on the same workspace. The terminal's session must not
    take the step for one a killed server left running (recover it, ask the model again and apply
    a second edit): it is refused as busy, and so are a reload and an undo there."""
    editor, _, srv = start(
        [
            plan_turn([ONE]),
            edit(SLUG, ORIG_SLUG, '"""URL slugs (one)."""\n'),
            done(),
            edit(SLUG, ORIG_SLUG, '"""URL slugs (uno)."""\n'),
            done(),
        ]
    )
    host = ReviewingHost(workspace)
    editor.host = host
    plan = await editor.generate(TASK)
    await editor.approve(plan.id)
    running = asyncio.ensure_future(editor.execute_next(plan.id))
    await asyncio.wait_for(host.shown.wait(), 30)
    models = ScriptedModels(editor.settings, srv.base_url)
    terminal = Session(workspace, editor.settings, models, FakeHost(workspace))
    try:
        sent = len(srv.requests)
        for attempt in (
            terminal.execute_next(plan.id),
            terminal.retry(plan.id, 1),
            terminal.undo(plan.id, 1),
        ):
            with pytest.raises(SessionError, match="busy in another planfirst") as e:
                await attempt
            assert e.value.code == "busy"
        with pytest.raises(SessionError, match="busy in another planfirst"):
            terminal.reload(plan.id)
        assert len(srv.requests) == sent
        assert terminal.load(plan.id).state(1).status == StepStatus.RUNNING
    finally:
        host.go.set()
        result = await running
        await models.aclose()
    assert (result.step, result.status.value) == (1, "done")
    assert (workspace / SLUG).read_text().startswith('"""URL slugs (one)."""\n')
    # the editor's session is done: the terminal may go on (nothing left but the final checks)
    assert (await terminal.execute_next(plan.id)).status.value == "done"
