"""Writing less, only where durability matters (#32): what a step fsyncs, the plan kept in
memory while plan.json keeps its stamp, plan.md rendered once per visible change.

fsync is counted (not replaced): the wrapper calls the real os.fsync and records the file."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.workflow import session as session_mod
from planfirst.core.workflow.contracts import SessionError
from planfirst.core.workflow.session import Session
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.plan import files as files_mod  # atomic writes (split from store.py)
from planfirst.plan import held as held_mod
from planfirst.plan import origin
from planfirst.plan import render as render_mod
from planfirst.plan import store as store_mod
from planfirst.plan.model import StepStatus
from planfirst.plan.store import PlanStore
from planfirst.settings import Settings
from tests.support.demo_script import DEMO
from tests.support.fake_host import FakeHost, ScriptedModels
from tests.support.plan_fixtures import make_plan

TASK = "Add a --top N option to textkit count"


class FsyncLog:
    """Every fsync while counting: (kind, what the file said about the step, path)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.on = False

    def record(self, fd: int) -> None:
        mode = os.fstat(fd).st_mode
        path = os.readlink(f"/proc/self/fd/{fd}") if Path("/proc/self/fd").is_dir() else "?"
        step2 = ""
        if stat.S_ISREG(mode) and path.endswith(".tmp") and "/plans/" in path:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            step2 = data["steps"][1]["status"]
        self.calls.append(("dir" if stat.S_ISDIR(mode) else "file", step2, path))


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[FsyncLog]:
    log = FsyncLog()
    real = os.fsync

    def counting(fd: int) -> None:
        if log.on:
            log.record(fd)
        real(fd)

    monkeypatch.setattr(files_mod.os, "fsync", counting)
    yield log


@pytest.fixture
async def session(workspace: Path) -> AsyncIterator[tuple[Session, ScriptedServer]]:
    srv = ScriptedServer(DEMO).start()
    settings = Settings.model_validate({"critique": {"model": "off"}})
    models = ScriptedModels(settings, srv.base_url)
    try:
        yield Session(workspace, settings, models, FakeHost(workspace)), srv
    finally:
        await models.aclose()
        srv.stop()


async def test_a_step_that_passes_first_time_makes_two_durable_writes(
    session: tuple[Session, ScriptedServer], fsyncs: FsyncLog
) -> None:
    """Step 2 of the demo passes first time: running, proposed, applied and done are all saved
    (a killed server resumes at the exact step, tests/reliability/test_crash_resume.py), but
    only "applied" and "done" are fsynced — each with its directory, so the rename survives a
    power cut too. It was six durable writes before (#32)."""
    s, srv = session
    plan = await s.generate(TASK)
    await s.approve(plan.id)
    assert (await s.execute_next(plan.id)).attempts == 2  # step 1 needs a retry
    fsyncs.on = True
    out = await s.execute_next(plan.id)
    fsyncs.on = False
    assert (out.step, out.status.value, out.attempts) == (2, "done", 1)
    files = [(step2, path) for kind, step2, path in fsyncs.calls if kind == "file"]
    dirs = [path for kind, _, path in fsyncs.calls if kind == "dir"]
    assert [step2 for step2, _ in files] == ["applied", "done"], fsyncs.calls
    assert all("/plan.json." in path or "/.plan.json." in path for _, path in files)
    assert len(dirs) == 2 and all(d == str(s.store.plan_json(plan.id).parent) for d in dirs)
    # the non-durable transitions were written all the same (atomically)
    runs = s.load(plan.id).state(2).runs
    assert [r.outcome for r in runs] == ["applied"] and srv.failures == []


async def test_the_plan_is_read_from_disk_once_and_rendered_once_per_visible_change(
    session: tuple[Session, ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a step, plan.json is not parsed and seal-checked again at every load (the store
    keeps what it wrote while the file keeps its stamp), and plan.md is rendered once, when the
    step ends, not at each of its saves; it is current when the command returns."""
    s, _srv = session
    plan = await s.generate(TASK)
    await s.approve(plan.id)
    verified: list[str] = []
    rendered: list[int] = []
    real_verify, real_render = origin.verify, render_mod.render

    def verify(*a: Any, **k: Any) -> bool:
        verified.append(a[1])
        return real_verify(*a, **k)

    def render(plan: Any) -> Any:
        rendered.append(1)
        return real_render(plan)

    monkeypatch.setattr(store_mod.origin, "verify", verify)
    monkeypatch.setattr(store_mod, "render", render)
    if importlib.util.find_spec("planfirst.plan.held") is not None:  # the store's memory (#32)
        monkeypatch.setattr("planfirst.plan.held.render", render)
    # step 1 retries (pytest fails, then passes): no pause is long enough for the debounce
    monkeypatch.setattr(session_mod, "MD_DEBOUNCE_S", 60.0, raising=False)
    out = await s.execute_next(plan.id)
    assert out.step == 1
    assert verified == [], "a plan this store wrote was read and seal-checked again"
    assert len(rendered) == 1, f"plan.md rendered {len(rendered)} times in one step"
    md = s.store.plan_md(plan.id).read_text(encoding="utf-8")
    assert md == real_render(s.load(plan.id)).text and "[x] done" in md
    # readers share one rendering of this version
    assert s.view(plan.id)[1] is s.view(plan.id)[1] and len(rendered) == 1


async def test_plan_md_follows_a_long_step_once_it_settles(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the model thinks (a pause longer than the debounce), plan.md already says the
    step is running; when the command returns it says done."""
    import asyncio

    monkeypatch.setattr(session_mod, "MD_DEBOUNCE_S", 0.05, raising=False)
    slow = dict(DEMO[2])
    slow["delay"] = 1.5
    srv = ScriptedServer([DEMO[0], DEMO[1], slow, *DEMO[3:]]).start()
    settings = Settings.model_validate({"critique": {"model": "off"}})
    models = ScriptedModels(settings, srv.base_url)
    try:
        s = Session(workspace, settings, models, FakeHost(workspace))
        plan = await s.generate(TASK)
        await s.approve(plan.id)
        md = s.store.plan_md(plan.id)
        run = asyncio.ensure_future(s.execute_next(plan.id))
        seen = ""
        for _ in range(100):
            await asyncio.sleep(0.02)
            seen = md.read_text(encoding="utf-8")
            if "[~] running" in seen:
                break
        assert "[~] running" in seen
        await run
        assert "[x] done" in md.read_text(encoding="utf-8")
    finally:
        await models.aclose()
        srv.stop()


def test_a_change_on_disk_is_seen_and_checked(tmp_path: Path) -> None:
    """The plan in memory counts only while plan.json is the file the store wrote: another
    writer's file is read (and its seal checked) again; a hand edit loses the seal."""
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    other = PlanStore(tmp_path)  # another server on the same workspace
    theirs = other.load(plan.id)
    theirs.title = "theirs"
    other.save(theirs)
    assert st.load(plan.id).title == "theirs" and st.view(plan.id).title == "theirs"
    path = st.plan_json(plan.id)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["title"] = "edited"  # in place, same inode
    path.write_text(json.dumps(data), encoding="utf-8")
    got = st.load(plan.id)
    assert got.title == "edited" and got.findings[0].rule == origin.UNTRUSTED_RULE


def test_load_gives_a_copy_of_ones_own(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    mine = st.load(plan.id)
    mine.title = "changed, never saved"
    mine.steps[0].status = StepStatus.FAILED
    again = st.load(plan.id)
    assert again.title == plan.title and again.steps[0].status == StepStatus.PENDING
    assert st.view(plan.id).title == plan.title


def test_setting_the_active_plan_again_writes_nothing_and_never_reads_a_fifo(
    tmp_path: Path, fsyncs: FsyncLog
) -> None:
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    st.set_active(plan.id)
    fsyncs.on = True
    st.set_active(plan.id)
    assert fsyncs.calls == []
    active = st.dir / "active"
    active.unlink()
    os.mkfifo(active)  # planted by a repository: reading it would block forever
    outcome: list[object] = []

    def run() -> None:
        try:
            st.set_active(plan.id)
            outcome.append("written")
        except store_mod.StoreError as e:  # refused by name (docs/reliability.md case 36)
            outcome.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    assert outcome, "set_active blocked on a FIFO"
    assert outcome == ["written"] or "active" in str(outcome[0])


def test_a_failed_background_write_is_raised_by_the_next_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write left to the background writer that fails (a full disk) is not lost silently: the
    next load of that plan raises it, and the plan on disk is the one before."""
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    real = files_mod.atomic_write

    def full(path: Path, data: str, **kw: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_mod, "atomic_write", full)
    plan.title = "never written"
    st.save(plan, durable=False, wait=False)
    with pytest.raises(OSError, match="No space left"):
        st.load(plan.id)
    monkeypatch.setattr(files_mod, "atomic_write", real)
    assert st.load(plan.id).title == "Add --top"


def test_a_fifo_planted_as_the_step_history_never_blocks(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    st.dir.mkdir(parents=True)
    os.mkfifo(st.dir / "history.json")  # shipped by a repository
    done = threading.Event()

    def use() -> None:
        assert st.step_history() == []
        st.record_step({"plan": "p", "step": 1})  # refused or written, never blocking
        st.step_history()
        done.set()

    threading.Thread(target=use, daemon=True).start()
    assert done.wait(10), "the step history blocked on a FIFO"


def test_the_current_state_record_is_rewritten_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record of a plan's current seal (case 38) is written before and after every save.
    Once it exists it is overwritten in place, one pwrite of a fixed-size block: no temp file
    and no rename per save (each cost a journal operation, three per step; #32). It still
    says which state is current: an older plan.json loads as foreign."""
    data = tmp_path / "data"
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(data))
    ws = tmp_path / "ws"
    ws.mkdir()
    st = PlanStore(ws)
    plan = make_plan()
    st.save(plan)
    st.settle()
    (record,) = (data / "current").iterdir()
    inode = record.stat().st_ino
    older = st.plan_json(plan.id).read_bytes()
    replaced: list[str] = []
    real_replace = os.replace

    def counting(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        if str(dst) == str(record):
            replaced.append(str(dst))
        real_replace(src, dst, *a, **k)

    monkeypatch.setattr(origin.os, "replace", counting)
    for n in range(3):
        plan.title = f"changed {n}"
        st.save(plan)
    st.settle()
    assert replaced == [] and record.stat().st_ino == inode
    assert record.stat().st_size == origin.RECORD_BYTES
    assert [p.name for p in record.parent.iterdir()] == [record.name]  # no temp file left
    rec = json.loads(record.read_text(encoding="ascii"))
    assert len(rec["seals"]) == 1
    st.plan_json(plan.id).write_bytes(older)  # an older state restored (git checkout, backup)
    assert PlanStore(ws).load(plan.id).findings[0].rule == origin.UNTRUSTED_RULE


async def test_the_applied_record_is_made_durable_while_the_editor_saves_and_validates(
    session: tuple[Session, ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """For an editor that saves (the VS Code extension), the durable "applied" record is written
    on the background writer while the editor saves the files and the validation runs, not
    before (#32): the plan.json fsync of "applied" here waits until the editor was asked to save,
    which deadlocked (until the timeout) when the step fsynced first. The step still answers
    with everything durable: both records were fsynced before it returned."""
    s, srv = session
    plan = await s.generate(TASK)
    await s.approve(plan.id)
    await s.execute_next(plan.id)  # step 1 (needs a retry)
    asked_to_save = threading.Event()
    waited: list[tuple[str, bool]] = []  # (step 2's status in the file, the editor was asked)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.endswith(".tmp") and "/plans/" in path:
            status = json.loads(Path(path).read_text(encoding="utf-8"))["steps"][1]["status"]
            if status == "applied":
                waited.append((status, asked_to_save.wait(5)))
            else:
                waited.append((status, asked_to_save.is_set()))
        real_fsync(fd)

    save_documents = s.host.save_documents

    async def saving(paths: list[str]) -> list[str]:
        asked_to_save.set()
        return await save_documents(paths)

    monkeypatch.setattr(s.host, "save_documents", saving)
    monkeypatch.setattr(files_mod.os, "fsync", fsync)
    out = await s.execute_next(plan.id)
    monkeypatch.undo()
    assert (out.step, out.status.value) == (2, "done")
    assert waited == [("applied", True), ("done", True)], waited
    assert s.load(plan.id).state(2).status == StepStatus.DONE and srv.failures == []


async def test_a_step_answers_with_its_done_record_fsynced_and_plan_md_rendered_after(
    session: tuple[Session, ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step's last save ("done") is written and fsynced before the step answers; plan.md is
    rendered and written on the background writer, not on the way to the answer (#32): here
    rendering the done plan waits until the step has answered, which timed out when the step
    rendered it itself. plan.md shows the step done once the writer is through."""
    s, srv = session
    plan = await s.generate(TASK)
    await s.approve(plan.id)
    await s.execute_next(plan.id)  # step 1 (needs a retry)
    answered = threading.Event()
    waited: list[bool] = []
    fsynced: list[str] = []
    real_fsync, real_render = os.fsync, render_mod.render

    def render(p: Any) -> Any:
        if p.state(2).status == StepStatus.DONE:
            waited.append(answered.wait(5))
        return real_render(p)

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.endswith(".tmp") and "/plans/" in path:
            fsynced.append(json.loads(Path(path).read_text(encoding="utf-8"))["steps"][1]["status"])
        real_fsync(fd)

    for mod in (store_mod, held_mod):  # the step's thread rendered it before, the writer now
        monkeypatch.setattr(mod, "render", render)
    monkeypatch.setattr(files_mod.os, "fsync", fsync)
    out = await s.execute_next(plan.id)
    done_on_disk = list(fsynced)
    answered.set()
    s.flush_md()  # every queued write, then every plan.md left
    monkeypatch.undo()
    assert (out.step, out.status.value) == (2, "done") and done_on_disk[-1:] == ["done"]
    assert waited == [True]
    assert (
        "done" in s.store.plan_md(plan.id).read_text(encoding="utf-8").split("## Step 2")[1][:300]
    )
    assert srv.failures == []


async def test_a_failed_done_write_fails_the_step(
    session: tuple[Session, ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "done" record written on the background writer is waited for: a full disk fails
    the step (the error is raised to the command), it is never answered as done."""
    s, _srv = session
    plan = await s.generate(TASK)
    await s.approve(plan.id)
    await s.execute_next(plan.id)
    real = files_mod.atomic_write

    def full(path: Path, data: str, **kw: Any) -> None:
        if path.name == "plan.json" and json.loads(data)["steps"][1]["status"] == "done":
            raise OSError(28, "No space left on device")
        real(path, data, **kw)

    monkeypatch.setattr(files_mod, "atomic_write", full)
    with pytest.raises(SessionError, match="No space left") as err:
        await s.execute_next(plan.id)
    monkeypatch.undo()
    assert err.value.code == "save_failed"
    assert s.load(plan.id).state(2).status != StepStatus.DONE


def test_a_fifo_or_link_in_place_of_the_current_state_record_never_blocks_a_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record rewritten in place is opened without following a link and without blocking
    on a FIFO: either is replaced whole by a regular record (as before records were rewritten
    in place), and the file a link pointed to is left alone."""
    data = tmp_path / "data"
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(data))
    ws = tmp_path / "ws"
    ws.mkdir()
    st = PlanStore(ws)
    plan = make_plan()
    st.save(plan)
    st.settle()
    (record,) = (data / "current").iterdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("x" * origin.RECORD_BYTES)
    for plant in ("fifo", "link"):
        record.unlink()
        if plant == "fifo":
            os.mkfifo(record)
        else:
            record.symlink_to(outside)
        done = threading.Event()

        def save(title: str, done: threading.Event) -> None:
            plan.title = title
            st.save(plan)
            st.settle()
            done.set()

        threading.Thread(target=save, args=(f"after a {plant}", done), daemon=True).start()
        assert done.wait(10), f"a save blocked on a {plant} planted as the record"
        assert stat.S_ISREG(os.lstat(record).st_mode)
    assert outside.read_text() == "x" * origin.RECORD_BYTES
