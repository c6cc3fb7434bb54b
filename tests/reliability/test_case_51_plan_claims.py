"""docs/reliability.md case 51: the cross-process claim on a plan (`.planfirst/running/<id>`)
cannot be forged or left behind. A claim is live exactly while a planfirst process holds its
lock: a file a repository planted there naming a live unrelated pid (pid 1, or a pid reused after
a crash) used to lock the plan forever ("busy in another planfirst"); a symbolic link there
silently switched claims off (two faces ran one plan); a directory locked it with a misleading
message. Now a planted file, link, FIFO or huge file is replaced, a directory is named, and a
real holder in another process is still respected until it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.workflow.contracts import SessionError
from planfirst.core.workflow.session import Session
from planfirst.plan.store import PlanStore, StoreError
from planfirst.settings import Settings
from tests.reliability.conftest import Invariants
from tests.support.demo_script import DEMO
from tests.support.fake_host import FakeHost, ScriptedModels

TASK = "Add a --top N option to textkit count"
HOLD = """import sys, time
sys.path[:0] = [sys.argv[3]]
from pathlib import Path
from planfirst.plan.store import PlanStore, StoreError
store = PlanStore(Path(sys.argv[1]))
assert store.claim(sys.argv[2], f"{__import__('os').getpid()} other", "executing step 1") is None
print("held", flush=True)
time.sleep(120)
"""
SERVER = str(Path(__file__).resolve().parents[2] / "server")


@pytest.fixture
async def session(ws: Path, inv: Invariants) -> AsyncIterator[Session]:
    srv = inv.scripted_server(list(DEMO))
    settings = Settings.model_validate({"critique": {"model": "off"}})
    models = ScriptedModels(settings, srv.base_url)
    try:
        yield Session(ws, settings, models, FakeHost(ws))
    finally:
        await models.aclose()


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def _holder(ws: Path, plan_id: str) -> subprocess.Popen[bytes]:
    """Another planfirst process that claims the plan and keeps working on it."""
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ws), plan_id, SERVER], stdout=subprocess.PIPE
    )


PLANTS: dict[str, Callable[[Path, Invariants, list[Any]], None]] = {
    "pid 1": lambda p, inv, procs: p.write_text("1 f00d\nexecuting step 9\n"),
    "a reused pid": lambda p, inv, procs: p.write_text(
        f"{procs.append(_sleeper()) or procs[-1].pid} cafe\nexecuting step 1\n"
    ),
    "a link out": lambda p, inv, procs: p.symlink_to(inv.sentinel / "config"),
    "a FIFO": lambda p, inv, procs: os.mkfifo(p),
    "a huge file": lambda p, inv, procs: p.write_bytes(b"1 x\n" + b"y" * 5_000_000),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
async def test_case_51_a_planted_claim_neither_locks_the_plan_nor_switches_claims_off(
    ws: Path, inv: Invariants, session: Session, plant: str
) -> None:
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    running = ws / ".planfirst" / "running"
    running.mkdir(exist_ok=True)
    procs: list[Any] = []
    try:
        PLANTS[plant](running / plan.id, inv, procs)
        # the editor's session works on the plan: another face must see its claim
        result = await session.execute_next(plan.id)
        assert result.step == 1 and result.status.value == "done", result
        owner = f"{os.getpid()} someone"
        store = PlanStore(ws)
        assert store.claim(plan.id, owner, "executing step 2") is None
        other = PlanStore(ws).claimed(plan.id)
        assert other is not None and other[0] == owner, "the claim was not taken"
        store.release(plan.id, owner)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert (inv.sentinel / "config").read_text() == "untouched\n"


async def test_case_51_a_directory_in_the_claims_place_is_named(
    ws: Path, inv: Invariants, session: Session
) -> None:
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    where = ws / ".planfirst" / "running" / plan.id
    (where / "keep").mkdir(parents=True)
    with pytest.raises(StoreError, match="is a directory, not a claim") as e:
        await session.execute_next(plan.id)
    assert str(where) in e.value.message
    assert (where / "keep").is_dir()  # not planfirst's: left for the user


async def test_case_51_a_live_holder_elsewhere_is_respected_until_it_dies(
    ws: Path, inv: Invariants, session: Session
) -> None:
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    proc = _holder(ws, plan.id)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
        with pytest.raises(SessionError, match="busy in another planfirst"):
            await session.execute_next(plan.id)
        os.kill(proc.pid, signal.SIGKILL)  # a crash: its claim goes with it
        proc.wait()
        # the pid is reused by an unrelated process: still no claim
        (ws / ".planfirst" / "running" / plan.id).write_text(
            f"{os.getppid()} other\nexecuting step 1\n"
        )
        result = await session.execute_next(plan.id)
        assert result.status.value == "done", result
    finally:
        proc.kill()
        proc.wait()


async def test_case_51_a_linked_running_folder_is_refused_not_followed(
    ws: Path, inv: Invariants, session: Session
) -> None:
    plan = await session.generate(TASK)
    await session.approve(plan.id)
    elsewhere = inv.tmp / "elsewhere"
    inv.beside.add("elsewhere")
    elsewhere.mkdir()
    running = ws / ".planfirst" / "running"
    for f in running.iterdir():  # nothing is claimed now
        f.unlink()
    running.rmdir()
    running.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(StoreError, match="symbolic link"):
        await session.execute_next(plan.id)
    assert list(elsewhere.iterdir()) == [], "a claim was written through the link"
