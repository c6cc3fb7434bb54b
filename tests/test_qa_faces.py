"""Orders users really do things in across faces (QA of the combined debounced plan.md writes,
the cross-process lock and the shared driver): a hand edit of plan.md while the server's write
of it waits, a step interrupted in one face and continued in another. In-process sessions with
the fake host; the model is the real SDK against the scripted loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from planfirst.core.workflow import session as session_mod
from planfirst.core.workflow.session import Session
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.plan.model import StepStatus
from planfirst.settings import Settings
from tests.support.demo_script import DEMO
from tests.support.fake_host import FakeHost, ScriptedModels

TASK = "Add a --top N option to textkit count"
STEP3 = "Document `python -m textkit count --top N FILE`"
MINE = "Document `python -m textkit count --top N FILE` (and `-h`)"


@pytest.fixture
async def slow_step1(workspace: Path) -> AsyncIterator[tuple[Session, FakeHost]]:
    """A session whose step 1 model call takes 1.5 s (longer than the plan.md debounce)."""
    slow = dict(DEMO[2])
    slow["delay"] = 1.5
    srv = ScriptedServer([DEMO[0], DEMO[1], slow, *DEMO[3:]]).start()
    settings = Settings.model_validate({"critique": {"model": "off"}})
    models = ScriptedModels(settings, srv.base_url)
    host = FakeHost(workspace)
    try:
        yield Session(workspace, settings, models, host), host
    finally:
        await models.aclose()
        srv.stop()


async def test_a_hand_edit_of_plan_md_saved_while_a_step_runs_is_never_lost(
    slow_step1: tuple[Session, FakeHost], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user edits step 3 in plan.md and saves while step 1 runs (the server's next write of
    plan.md waits for its debounce). The step's end re-renders plan.md from plan.json (the
    source of truth), but the user's text is kept beside it and the user is told where; Reload
    of that file takes the edit. Before, plan.md was overwritten without a word."""
    monkeypatch.setattr(session_mod, "MD_DEBOUNCE_S", 0.05, raising=False)
    s, host = slow_step1
    plan = await s.generate(TASK)
    await s.approve(plan.id)
    md = s.store.plan_md(plan.id)
    run = asyncio.ensure_future(s.execute_next(plan.id))
    for _ in range(200):
        await asyncio.sleep(0.02)
        if "[~] running" in md.read_text(encoding="utf-8"):
            break
    mine = md.read_text(encoding="utf-8").replace(STEP3, MINE)
    assert mine != md.read_text(encoding="utf-8")
    md.write_text(mine, encoding="utf-8")  # the editor saves it (didSave)
    assert (await run).status.value == "done"
    s.store.settle()  # plan.md follows the answer on the background writer (#32)

    now = md.read_text(encoding="utf-8")
    assert "[x] done" in now and MINE not in now  # plan.md follows plan.json
    kept = [p for p in md.parent.iterdir() if p.name.startswith("plan.edited")]
    assert [p.read_text(encoding="utf-8") for p in kept] == [mine]
    told = [m for _, m in host.notes if kept[0].name in m]
    assert told and "Reload" in told[0], host.notes

    # the user takes the edit back: copy it over plan.md and Reload
    md.write_text(kept[0].read_text(encoding="utf-8"), encoding="utf-8")
    new = s.reload(plan.id)
    assert MINE in new.body.step(3).description
    assert new.state(1).status == StepStatus.DONE
    # Reload took the text: its own write of plan.md keeps nothing more aside
    assert [p.name for p in md.parent.iterdir() if p.name.startswith("plan.edited")] == [
        kept[0].name
    ]


async def test_a_hand_edit_saved_after_the_steps_last_save_is_kept_and_told(
    slow_step1: tuple[Session, FakeHost], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step's last save leaves plan.md to the background writer, which answers meanwhile
    (#32). A hand edit saved just before that write is not overwritten by it: the writer leaves
    it to the session, which keeps it beside plan.md on its event loop and says where."""
    s, host = slow_step1
    plan = await s.generate(TASK)
    await s.approve(plan.id)
    md = s.store.plan_md(plan.id)
    mine: list[str] = []
    real = s.store.md_later

    def md_later(plan_id: str) -> None:
        text = md.read_text(encoding="utf-8").replace(STEP3, MINE)
        md.write_text(text, encoding="utf-8")  # the user saves just before the writer's turn
        mine.append(text)
        real(plan_id)

    monkeypatch.setattr(s.store, "md_later", md_later)
    assert (await s.execute_next(plan.id)).status.value == "done"
    s.store.settle()
    for _ in range(100):  # the session's flush runs on its loop
        await asyncio.sleep(0.01)
        if any(p.name.startswith("plan.edited") for p in md.parent.iterdir()):
            break
    kept = [p for p in md.parent.iterdir() if p.name.startswith("plan.edited")]
    assert len(mine) == 1 and [p.read_text(encoding="utf-8") for p in kept] == mine
    now = md.read_text(encoding="utf-8")
    assert "[x] done" in now and MINE not in now
    assert [m for _, m in host.notes if kept[0].name in m], host.notes


async def test_plan_md_that_only_lags_behind_is_not_taken_for_a_hand_edit(
    slow_step1: tuple[Session, FakeHost],
) -> None:
    """A plan.md a killed server left one transition behind (statuses only), or one another
    planfirst process rendered, is planfirst's own text: it is replaced, nothing kept aside."""
    s, host = slow_step1
    plan = await s.generate(TASK)
    md = s.store.plan_md(plan.id)
    lagging = md.read_text(encoding="utf-8")
    await s.approve(plan.id)
    md.write_text(lagging, encoding="utf-8")
    other = Session(s.root, s.settings, s.models, FakeHost(s.root))  # a second process's store
    await other.execute_next(plan.id)
    assert "[x] done" in md.read_text(encoding="utf-8")
    assert not [p for p in md.parent.iterdir() if p.name.startswith("plan.edited")]
    assert not [m for _, m in host.notes + other.host.notes if "plan.edited" in m]


async def test_show_plan_in_a_file_based_editor_keeps_a_hand_edit(workspace: Path) -> None:
    """Neovim/Emacs open plan.md itself. The user edits and saves it, the editor restarts its
    server, the user asks to see the plan: planfirst.showPlan rewrote plan.md from plan.json
    (and plan.json with it), so the edit was gone before Reload. Showing changes nothing."""
    from planfirst.plan.store import PlanStore
    from tests.support.lsp_harness import command, lsp_session
    from tests.support.plan_fixtures import make_plan

    plan = make_plan()
    PlanStore(workspace).save(plan)
    md = PlanStore(workspace).plan_md(plan.id)
    pj = PlanStore(workspace).plan_json(plan.id)
    text = md.read_text(encoding="utf-8")
    first = plan.body.step(1).description
    mine = text.replace(first, first + " Keep the old output when --top is absent.")
    assert mine != text
    md.write_text(mine, encoding="utf-8")
    sealed = pj.read_bytes()
    async with lsp_session(workspace, "legacy") as (client, _):
        await command(client, "planfirst.showPlan", {"planId": plan.id})
        assert md.read_text(encoding="utf-8") == mine
        assert pj.read_bytes() == sealed  # showing a plan writes no plan.json
        await command(client, "planfirst.reloadPlan", {"planId": plan.id})
    assert "Keep the old output" in PlanStore(workspace).load(plan.id).body.step(1).description


async def test_approve_answered_after_a_revision_never_brings_back_the_old_revision(
    workspace: Path,
) -> None:
    """A plan with a review error: Approve asks "approve anyway?" (a question the user may
    leave open). Meanwhile the plan is revised (the same editor's Revise, or ACP). Answering
    yes then saved the copy of revision 1 it had loaded, approved: revision 2 was silently
    gone from plan.json. It is refused instead, naming the new revision; the plan stays a
    draft of revision 2."""
    from planfirst.core.workflow.session import SessionError
    from planfirst.plan.model import Finding
    from tests.reliability.test_step_edge_cases import plan_turn, step

    one = step(1, ["textkit/slug.py"], what="Say `(one)` in the docstring of `textkit/slug.py`.")
    uno = step(1, ["textkit/slug.py"], what="Say `(uno)` in the docstring of `textkit/slug.py`.")
    srv = ScriptedServer([plan_turn([one]), plan_turn([uno])]).start()
    settings = Settings.model_validate({"critique": {"model": "off"}})
    models = ScriptedModels(settings, srv.base_url)
    host = FakeHost(workspace)
    gate = asyncio.Event()

    async def confirm(question: str) -> bool | None:
        host.questions.append(question)
        await gate.wait()  # the question stays open until the user answers it
        return True

    host.confirm = confirm  # type: ignore[method-assign]
    try:
        s = Session(workspace, settings, models, host)
        plan = s.load((await s.generate(TASK)).id)
        plan.findings.append(Finding(rule="x", severity="error", message="a review error"))
        s.save(plan)
        approving = asyncio.ensure_future(s.approve(plan.id))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if host.questions:
                break
        assert host.questions, "approve never asked"
        revised = await s.revise(plan.id, "say (uno) instead")
        assert revised.revision == 2
        gate.set()
        with pytest.raises(SessionError, match="revision 2"):
            await approving
        now = s.load(plan.id)
        assert now.revision == 2 and "(uno)" in now.body.step(1).description
        assert now.status.value == "draft"
    finally:
        await models.aclose()
        srv.stop()


def _start_time(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()[19]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_a_lock_whose_pid_now_belongs_to_another_process_is_stale(tmp_path: Path) -> None:
    """A server killed mid-step leaves `.planfirst/running/<id>` behind. Its pid is reused (a
    container's small pid space, a long uptime): the plan stayed "busy in another planfirst"
    for as long as the unrelated process lived. The mark names the process by pid and start
    time; a live pid that started at another time is not the process that marked it."""
    import subprocess

    from planfirst.plan.store import PlanStore
    from tests.support.plan_fixtures import make_plan

    store = PlanStore(tmp_path)
    plan = make_plan()
    store.save(plan)
    other = subprocess.Popen(["sleep", "30"])  # the process that got the dead server's pid
    try:
        mark = tmp_path / ".planfirst" / "running" / plan.id
        mark.parent.mkdir(parents=True)
        # what the killed server wrote: its pid (now the sleeper's), a token, its start time
        dead_start = str(int(_start_time(other.pid)) - 1000)
        mark.write_text(f"{other.pid} 0badc0de {dead_start}\nexecuting a step\n")
        assert store.claimed(plan.id) is None
        assert store.claim(plan.id, "me", "executing a step") is None  # taken over
        # the same pid with its own start time is that process: busy
        mark.write_text(f"{other.pid} 0badc0de {_start_time(other.pid)}\nexecuting a step\n")
        assert store.claimed(plan.id) == (
            f"{other.pid} 0badc0de {_start_time(other.pid)}",
            "executing a step",
        )
    finally:
        other.kill()
        other.wait()
