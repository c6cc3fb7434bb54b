"""QA of #32's persistence changes (d854f51), in-process through Session and the fake host:
plan.md written on the background writer under its own key, the step's plan adopted as the
shared view, the hand-edit check's lazy plans, the key read once, and the orders users really
do things in right after a step (read plan.md, Show Plan, Reload Plan, undo, a failed save)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.workflow import stepper
from planfirst.core.workflow.contracts import StepResult
from planfirst.core.workflow.session import Session, SessionError
from planfirst.plan import hand_edit, origin
from planfirst.plan.model import Plan, PlanStatus, StepStatus
from planfirst.plan.render import render
from tests.support.demo_script import DEMO
from tests.support.disk_full import disk_full
from tests.support.fake_host import FakeHost
from tests.support.plan_fixtures import make_plan

TASK = "Add a --top N option to textkit count"


async def _approved(start: Any) -> tuple[Session, FakeHost, Plan]:
    session, host = start(DEMO)
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    return session, host, plan


async def test_a_steps_last_save_answers_without_waiting_for_plan_md(
    run_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step's last save (Session.save(last=True) inside an operation) returns once plan.json
    is written; plan.md follows on the writer, and is on disk when the operation ends."""
    session, _host, plan = await _approved(run_session)
    store = session.store
    released = threading.Event()
    seen: list[bool] = []
    real = store._md_after

    def slow_md(plan_id: str, text: str, rendered: Any) -> None:
        seen.append(released.wait(5))  # held until the save has answered (or 5 s)
        real(plan_id, text, rendered)

    monkeypatch.setattr(store, "_md_after", slow_md)
    async with session.exclusive(plan.id, "executing a step"):
        mine = session.load(plan.id)
        mine.status = PlanStatus.EXECUTING
        session.save(mine, last=True)
        released.set()  # the save answered: plan.md may be written now
        assert session.store.load(plan.id).status == PlanStatus.EXECUTING  # plan.json is
    store.settle()  # plan.md may still be the writer's to write when the operation ends
    assert seen == [True], "the step's answer waited for plan.md"
    md = store.plan_md(plan.id).read_text(encoding="utf-8")
    assert "**Status:** executing" in md  # on disk once the writer is done


@pytest.mark.slow  # one step with a retry, ~4 s
async def test_from_a_steps_last_save_to_the_next_view_the_plan_is_not_parsed_again(
    run_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the step's last save (stepper.finish) through the end of the operation (plan.md
    written) and the next view and peek, plan.json is not parsed again: the step's own plan is
    the shared view (PlanStore.adopt). plan.md is on disk the moment the step answers."""
    session, _host, plan = await _approved(run_session)
    parsed: list[int] = []
    counting = False
    real = Plan.model_validate_json
    real_finish = stepper.finish

    def parse(*a: Any, **k: Any) -> Any:
        # the writer's thread may parse it to render plan.md after the answer: not the step's
        if counting and threading.current_thread() is threading.main_thread():
            parsed.append(1)
        return real(*a, **k)

    def finish(*a: Any, **k: Any) -> Any:
        nonlocal counting
        counting = True
        return real_finish(*a, **k)

    monkeypatch.setattr(Plan, "model_validate_json", parse)
    monkeypatch.setattr(stepper, "finish", finish)
    r1 = await session.execute_next(plan.id)
    assert (r1.step, r1.status) == (1, StepResult.DONE)
    session.store.settle()  # plan.md follows the answer on the writer (#32)
    md = session.store.plan_md(plan.id).read_text(encoding="utf-8")
    assert "**Steps:** 1/" in md and "**Status:** executing" in md
    viewed, rendered = session.view(plan.id)
    assert session.peek(plan.id) is viewed
    assert parsed == [], "the plan the step saved was parsed from plan.json again"
    assert viewed.state(1).status == StepStatus.DONE
    assert rendered.text == md  # the rendering the step wrote is the one readers get
    # the shared view is equal to a fresh parse of the file (nothing the step kept differs)
    assert session.load(plan.id).model_dump() == viewed.model_dump()


@pytest.mark.slow
async def test_show_reload_and_undo_right_after_a_step(run_session: Any) -> None:
    """Show Plan, a hand edit of plan.md reloaded, and undo, each right after a step."""
    session, host, plan = await _approved(run_session)
    await session.execute_next(plan.id)
    session.store.settle()  # plan.md follows the answer on the writer (#32)
    md_path = session.store.plan_md(plan.id)
    shown = md_path.read_text(encoding="utf-8")
    session.store.show_md(session.peek(plan.id))  # Show Plan: nothing to rewrite
    assert md_path.read_text(encoding="utf-8") == shown
    # undo right after the step: plan.md follows
    await session.undo(plan.id, 1)
    after_undo = md_path.read_text(encoding="utf-8")
    assert session.load(plan.id).state(1).status != StepStatus.DONE
    assert after_undo != shown and "**Steps:** 0/" in after_undo
    # a hand edit of plan.md right away, then Reload Plan takes it
    edited = after_undo.replace("## Risks", "## Risks\n\n- QA: a risk typed by hand\n", 1)
    assert edited != after_undo
    md_path.write_text(edited, encoding="utf-8")
    new = session.reload(plan.id)
    assert new.revision == plan.revision + 1 and new.status == PlanStatus.DRAFT
    assert "QA: a risk typed by hand" in new.body.risks
    assert "QA: a risk typed by hand" in md_path.read_text(encoding="utf-8")
    assert not [n for n in host.notes if "were not reloaded" in n[1]]


@pytest.mark.slow
async def test_a_failed_last_save_is_said_once_not_again_as_a_plan_md_failure(
    run_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step's last save (on the writer) fails: the step stops with save_failed. That one
    failure is not reported a second time as "cannot write plan.md" when the operation ends,
    nor raised again by the next save."""
    session, host, plan = await _approved(run_session)
    real_finish = stepper.finish

    def finish_on_a_full_disk(*a: Any, **k: Any) -> Any:
        with disk_full(2000):  # plan.json is larger
            return real_finish(*a, **k)

    monkeypatch.setattr(stepper, "finish", finish_on_a_full_disk)
    with pytest.raises(SessionError) as err:
        await session.execute_next(plan.id)
    assert err.value.code == "save_failed"
    assert not [n for n in host.notes if "plan.md" in n[1]], host.notes
    monkeypatch.setattr(stepper, "finish", real_finish)
    md = session.store.plan_md(plan.id).read_text(encoding="utf-8")
    assert "**Steps:** 0/" in md  # the plan as saved before the failure
    again = session.load(plan.id)
    assert again.state(1).status != StepStatus.DONE
    session.save(again)  # the failure was said: the next save does not raise it again
    assert not [n for n in host.notes if "plan.md" in n[1]], host.notes


def test_the_key_is_read_once_and_a_replaced_key_file_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(origin, "RACY_NS", 0)  # a key file just made is kept from the start
    first = origin.user_key()
    reads: list[Path] = []
    real = Path.read_text

    def counting(self: Path, *a: Any, **k: Any) -> str:
        if self.name == "origin.key":
            reads.append(self)
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", counting)
    assert origin.user_key() == first and origin.user_key() == first
    assert len(reads) <= 1, "the key file was read at every seal"
    reads.clear()
    key_file = tmp_path / "data" / "planfirst" / "origin.key"
    if not key_file.exists():
        key_file = tmp_path / "data" / "origin.key"
    other = bytes(range(32))
    tmp = key_file.with_name("origin.key.new")
    tmp.write_text(other.hex(), encoding="ascii")
    os.replace(tmp, key_file)  # another key put in its place
    assert origin.user_key() == other
    key_file.unlink()  # removed: a new one is made, not the old one given
    made = origin.user_key()
    assert made not in (first, other) and key_file.exists()


def test_the_hand_edit_check_parses_the_plans_only_when_plan_md_changed() -> None:
    plan = make_plan()
    text = render(plan).text
    asked: list[int] = []

    def plans() -> list[Plan]:
        asked.append(1)
        return [plan]

    assert not hand_edit.is_hand_edit(text, text, plans)  # the text written last
    assert asked == []  # ... needs no plan parsed
    typed = text.replace(plan.body.steps[0].description, "A description typed by hand", 1)
    assert hand_edit.is_hand_edit(typed, text, plans)
    assert asked == [1]
    assert not hand_edit.is_hand_edit(text, None, plans)  # what the plan says: no hand edit


@pytest.mark.slow  # the whole three-step demo plan with a retry, ~7 s
async def test_the_last_step_and_its_final_checks_leave_plan_md_as_the_plan_on_disk(
    run_session: Any,
) -> None:
    """The last step saves 'done' (its last save, plan.md on the writer), then the final checks
    save again at once: plan.md on disk is the rendering of the final plan.json."""
    session, _host, plan = await _approved(run_session)
    for _ in range(3):
        result = await session.execute_next(plan.id)
        assert result.status == StepResult.DONE, result
    final = session.load(plan.id)
    assert final.status == PlanStatus.DONE
    session.store.settle()  # plan.md follows the answer on the writer (#32)
    md = session.store.plan_md(plan.id).read_text(encoding="utf-8")
    assert md == render(final).text
    assert "**Status:** done" in md and "**Steps:** 3/3 done" in md
    assert session.view(plan.id)[1].text == md
