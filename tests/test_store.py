"""The store: atomic writes, corrupt files reported and never overwritten, revisions, active."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from planfirst.plan import files as files_mod  # atomic writes (split from store.py)
from planfirst.plan import store as store_mod
from planfirst.plan.store import PlanStore, StoreError, UnknownPlan, atomic_write, new_plan_id
from tests.support.plan_fixtures import make_plan


def test_save_load_list(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    assert st.load(plan.id) == plan
    assert st.plan_md(plan.id).read_text().startswith("# Plan: Add --top")
    plans, problems = st.list()
    assert [p.id for p in plans] == [plan.id] and problems == []
    st.set_active(plan.id)
    assert st.active() == plan.id


def test_crash_between_temp_write_and_rename_keeps_old_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    before = st.plan_json(plan.id).read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("killed before rename")

    monkeypatch.setattr(files_mod.os, "replace", crash)
    plan.title = "changed"
    with pytest.raises(OSError):
        st.save(plan)
    monkeypatch.undo()
    assert st.plan_json(plan.id).read_bytes() == before
    assert [p.name for p in st.plan_json(plan.id).parent.iterdir() if p.name.endswith(".tmp")] == []
    assert st.load(plan.id).title == "Add --top"


def test_corrupt_plan_reported_by_name_and_left_in_place(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    path = st.plan_json(plan.id)
    path.write_text('{"id": "add-top-abc123", "title": ', encoding="utf-8")
    with pytest.raises(StoreError) as info:
        st.load(plan.id)
    assert str(path) in str(info.value) and "not valid JSON" in str(info.value)
    with pytest.raises(StoreError):
        st.save(plan)  # never overwrite a file we could not read
    assert path.read_text(encoding="utf-8") == '{"id": "add-top-abc123", "title": '
    plans, problems = st.list()
    assert plans == [] and problems[0].plan_id == plan.id


def test_schema_invalid_plan_reported(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    data = json.loads(st.plan_json(plan.id).read_text())
    data["body"]["steps"][0]["order"] = 7
    st.plan_json(plan.id).write_text(json.dumps(data))
    with pytest.raises(StoreError, match="does not match the plan schema"):
        st.load(plan.id)


def test_unknown_and_invalid_ids(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    with pytest.raises(UnknownPlan):
        st.load("nope-000000")
    with pytest.raises(UnknownPlan):
        st.load("../../etc")
    assert not st.exists("../x")


def test_revisions_kept(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    st.save_revision(plan)
    plan.revision = 2
    st.save(plan)
    assert st.revisions(plan.id) == [1]
    assert st.load_revision(plan.id, 1).revision == 1


def test_atomic_write_fsyncs_and_replaces(tmp_path: Path) -> None:
    p = tmp_path / "d" / "f.txt"
    atomic_write(p, "one")
    atomic_write(p, "two")
    assert p.read_text() == "two"
    assert sorted(os.listdir(p.parent)) == ["f.txt"]


def test_plan_ids_are_safe() -> None:
    pid = new_plan_id("Fix ../../ the thing!! ✨")
    assert store_mod.PLAN_ID.match(pid)
    assert "/" not in pid and ".." not in pid


@pytest.mark.parametrize(
    "link",
    [".planfirst", ".planfirst/plans", ".planfirst/plans/{id}", ".planfirst/plans/{id}/revisions"],
)
def test_a_symlink_in_planfirst_is_refused_and_nothing_written_through_it(
    tmp_path: Path, link: str
) -> None:
    """docs/reliability.md case 30."""
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    plan = make_plan()
    where = ws / link.format(id=plan.id)
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(outside, target_is_directory=True)
    st = PlanStore(ws)
    refusals = []
    for op in (st.save, st.save_revision, lambda p: st.set_active(p.id)):
        try:
            op(plan)
        except StoreError as e:
            refusals.append(str(e))
    assert refusals and all("symbolic link" in r and str(where) in r for r in refusals), refusals
    assert list(outside.rglob("*")) == []
    with pytest.raises(StoreError, match="symbolic link"):
        st.save_revision(plan) if "revisions" in link else st.load(plan.id)


def test_temp_files_of_a_killed_writer_are_removed_at_the_next_save(tmp_path: Path) -> None:
    # a server SIGKILLed inside atomic_write leaves its temp file (docs/reliability.md case 13)
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(gone.stdout)
    d = st.plan_json(plan.id).parent
    orphan = d / f".plan.json.{dead_pid}.abc123{store_mod.TEMP_SUFFIX}"
    orphan.write_text("half a plan")
    live = d / f".plan.json.{os.getpid()}.def456{store_mod.TEMP_SUFFIX}"  # a write in progress
    live.write_text("in flight")
    st2 = PlanStore(tmp_path)  # the restarted server
    st2.save(st2.load(plan.id))
    assert not orphan.exists() and live.exists()
    assert st2.load(plan.id).title == plan.title


def test_the_current_state_survives_a_crash_and_an_older_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/reliability.md case 38: a server killed before or after plan.json is replaced loads
    the plan as it is on disk; a state older than both loads as foreign."""
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "data"))
    ws = tmp_path / "ws"
    ws.mkdir()
    s = PlanStore(ws)
    plan = make_plan()
    s.save(plan)
    first = s.plan_json(plan.id).read_bytes()
    plan.revision = 2
    s.save(plan)
    second = s.plan_json(plan.id).read_bytes()
    plan.revision = 3

    def killed(*_a: object, **_k: object) -> None:
        raise OSError("killed before the rename")

    monkeypatch.setattr(files_mod, "atomic_write", killed)
    with pytest.raises(OSError):
        s.save(plan)  # the state being written was recorded; plan.json is still revision 2
    monkeypatch.undo()
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "data"))
    assert PlanStore(ws).load(plan.id).findings == []
    s.plan_json(plan.id).write_bytes(second)
    assert PlanStore(ws).load(plan.id).findings == []
    s.plan_json(plan.id).write_bytes(first)  # older than anything recorded as current
    assert [f.rule for f in PlanStore(ws).load(plan.id).findings] == ["untrusted-origin"]


def test_a_failed_background_save_is_raised_once_not_again_by_its_plan_md(
    tmp_path: Path,
) -> None:
    """Red team (#32): plan.md's job, queued under its own key after a background save, does
    not run when that save failed; the failure is the save's, raised once (by the settle that
    waits for it), not again by the next save or flush_md once the disk takes writes again."""
    import resource
    import signal

    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    md_before = st.plan_md(plan.id).read_text()
    plan.title = "Add --top, renamed"
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200, old[1]))  # a real EFBIG on the writer
    try:
        st.save(plan, wait=False, render_md=True)
        with pytest.raises(OSError):
            st.settle(plan.id)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert st.plan_md(plan.id).read_text() == md_before  # plan.json failed: plan.md did not run
    st.save(plan)  # the disk takes writes again: nothing of the old failure is raised here
    assert st.load(plan.id).title == "Add --top, renamed"
    assert "Add --top, renamed" in st.plan_md(plan.id).read_text()
    assert st.flush_md(plan.id) is None
