"""QA (orders users really do things in): sequences driven end to end through the Session with
the fake host and the real SDK against the scripted loopback server; after each, plan.json,
plan.md and the files on disk must agree with what really happened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.workflow.session import Session, SessionError
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.plan.model import PlanStatus, StepStatus
from planfirst.settings import Settings
from tests.reliability.test_step_edge_cases import done, edit, plan_turn, step
from tests.support.fake_host import FakeHost, ScriptedModels
from tests.support.waiting import wait_until

SLUG = '"""URL slugs."""\n'
WC = '"""Word counting."""\n'
S1 = step(1, ["textkit/slug.py"], what="Say `(one)` in the docstring of `textkit/slug.py`.")
S2 = step(
    2,
    ["textkit/wordcount.py"],
    what="Mark the module docstring of `textkit/wordcount.py` as counting English words.",
    check="pytest -q tests/test_wordcount.py",
)
ONE = edit("textkit/slug.py", SLUG, '"""URL slugs (one)."""\n')
TWO = edit("textkit/wordcount.py", WC, '"""Word counting (English)."""\n')

Start = Callable[[list[dict[str, Any]]], tuple[Session, FakeHost]]


@pytest.fixture
async def start(workspace: Path) -> AsyncIterator[Start]:
    made: list[tuple[ScriptedServer, ScriptedModels]] = []

    def go(turns: list[dict[str, Any]]) -> tuple[Session, FakeHost]:
        srv = ScriptedServer(turns).start()
        settings = Settings.model_validate({"critique": {"model": "off"}})
        models = ScriptedModels(settings, srv.base_url)
        made.append((srv, models))
        host = FakeHost(workspace)
        return Session(workspace, settings, models, host), host

    yield go
    for srv, models in made:
        await models.aclose()
        srv.stop()


def plan_md(s: Session, plan_id: str) -> str:
    s.store.settle()
    return s.store.plan_md(plan_id).read_text(encoding="utf-8")


async def test_undoing_the_last_step_of_a_done_plan_drops_its_test_criteria_results(
    start: Start,
) -> None:
    """Both steps done, the test criteria passed; the user undoes step 2. The plan is no longer
    done and its code is not what the criteria ran on, yet plan.md (and `planfirst run`'s
    report) still said "Test criteria results: passed"."""
    s, _ = start([plan_turn([S1, S2]), ONE, done(), TWO, done()])
    plan = await s.generate("two docstrings")
    await s.approve(plan.id)
    await s.execute_next(plan.id)
    await s.execute_next(plan.id)
    assert s.load(plan.id).status == PlanStatus.DONE
    assert "## Test criteria results" in plan_md(s, plan.id)
    await s.undo(plan.id, None)
    now = s.load(plan.id)
    assert now.status == PlanStatus.EXECUTING and now.state(2).status == StepStatus.UNDONE
    assert now.final_validation == []
    assert "## Test criteria results" not in plan_md(s, plan.id)


async def test_a_revision_adding_a_step_to_a_done_plan_drops_its_test_criteria_results(
    start: Start,
) -> None:
    """A done plan revised to add a step: a draft with step 2 pending, whose plan.md still
    showed the test criteria as passed (they ran before the step existed). Once step 2 runs,
    the criteria run again and their results are shown."""
    s, _ = start([plan_turn([S1]), ONE, done(), plan_turn([S1, S2]), TWO, done()])
    plan = await s.generate("one docstring")
    await s.approve(plan.id)
    await s.execute_next(plan.id)
    assert s.load(plan.id).status == PlanStatus.DONE
    revised = await s.revise(plan.id, "also mark wordcount.py")
    assert revised.status == PlanStatus.DRAFT and revised.state(2).status == StepStatus.PENDING
    assert revised.final_validation == []
    assert "## Test criteria results" not in plan_md(s, plan.id)
    await s.approve(plan.id)
    await s.execute_next(plan.id)
    done_plan = s.load(plan.id)
    assert done_plan.status == PlanStatus.DONE and done_plan.final_validation
    assert "## Test criteria results" in plan_md(s, plan.id)


async def test_retry_after_the_user_fixed_the_failed_step_by_hand_validates_it(
    start: Start,
) -> None:
    """Step 1 fails its validation on every attempt (the model writes `(on)`, `(onne)`). The
    user fixes the docstring by hand and runs Retry; the model, shown the fixed file, rightly
    proposes nothing. The step failed at once ("the model proposed no change") without running
    the validation, which now passes: the docs say a no-change run is for validation to decide."""
    check = "python -c \"import textkit.slug as m; assert '(one)' in m.__doc__\""
    s, _ = start(
        [
            plan_turn([step(1, ["textkit/slug.py"], what="Say `(one)` in slug.py.", check=check)]),
            edit("textkit/slug.py", SLUG, '"""URL slugs (on)."""\n'),
            done(),
            edit("textkit/slug.py", '"""URL slugs (on)."""\n', '"""URL slugs (onne)."""\n'),
            done(),
            {"text": "The docstring already says (one); nothing to change."},
        ]
    )
    s.settings.execution.max_attempts = 2
    plan = await s.generate("say (one)")
    await s.approve(plan.id)
    assert (await s.execute_next(plan.id)).status.value == "failed"
    path = s.root / "textkit/slug.py"
    path.write_text(path.read_text(encoding="utf-8").replace("(onne)", "(one)"), encoding="utf-8")
    out = await s.retry(plan.id, None)
    assert out.status.value == "done", out.message
    now = s.load(plan.id)
    assert now.status == PlanStatus.DONE and now.state(1).status == StepStatus.DONE
    assert now.state(1).last_run is not None and now.state(1).last_run.validation
    assert "[x] done" in plan_md(s, plan.id)


GATE = """import pathlib, sys, time
pathlib.Path('started').write_text('x')
end = time.monotonic() + 120  # never outlives a failed test for long
while not pathlib.Path('go').exists() and time.monotonic() < end:
    time.sleep(0.01)
sys.exit(0)
"""


async def test_revise_while_the_step_validates_says_busy(start: Start) -> None:
    """Step 1's edit is applied and its validation runs; the user asks for a revision. It was
    refused with "execute it to validate it, or undo it" (no `busy` code): both refused too, as
    the step is validating right now. It says the step is being validated (`busy`); cancel, then Execute validates
    the applied edit and the plan goes on."""
    gated = step(1, ["textkit/slug.py"], what="Say `(one)` in slug.py.", check="python gate.py")
    s, _ = start([plan_turn([gated]), ONE, done()])
    (s.root / "gate.py").write_text(GATE, encoding="utf-8")
    plan = await s.generate("say (one)")
    await s.approve(plan.id)
    run = asyncio.ensure_future(s.execute_next(plan.id))
    await wait_until(lambda: (s.root / "started").exists(), 60, "the validation to start")
    with pytest.raises(SessionError) as e:
        await s.revise(plan.id, "say (uno)")
    assert e.value.code == "busy" and "being validated" in e.value.message, e.value.message
    assert "execute it" not in e.value.message
    s.cancel(plan.id)
    with pytest.raises(asyncio.CancelledError):
        await run
    assert s.load(plan.id).state(1).status == StepStatus.APPLIED
    (s.root / "go").write_text("", encoding="utf-8")
    assert (await s.execute_next(plan.id)).status.value == "done"
    assert "[x] done" in plan_md(s, plan.id)


async def test_planfirst_plans_says_which_plan_another_planfirst_is_running(
    start: Start, capsys: pytest.CaptureFixture[str]
) -> None:
    """The editor runs step 1 (the model is slow); the user looks in a terminal with `planfirst
    plans` before a `planfirst resume`. The row read "executing 0/1 steps" like an idle plan, and
    resume was then refused as busy; the editor's Plans view says busy (listPlans `busy`,
    `elsewhere`). The row now says what runs on it, and says nothing once the step is done."""
    from planfirst import cli

    s, _ = start([plan_turn([S1]), {**ONE, "delay": 30}, done()])
    plan = await s.generate("say (one)")
    await s.approve(plan.id)
    run = asyncio.ensure_future(s.execute_next(plan.id))
    await wait_until(lambda: s.store.claimed(plan.id) is not None, 30, "the step to start")
    capsys.readouterr()
    assert cli.main(["plans", "--workspace", str(s.root)]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if plan.id in line]
    assert len(row) == 1 and "busy in another planfirst: executing" in row[0], row
    s.cancel(plan.id)
    with pytest.raises(asyncio.CancelledError):
        await run
    assert cli.main(["plans", "--workspace", str(s.root)]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if plan.id in line]
    assert len(row) == 1 and "busy" not in row[0], row
