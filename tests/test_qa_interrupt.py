"""Ctrl-C in `planfirst run` mid-step, then the same plan continued from another face (QA of
the cross-process lock `.planfirst/running/<id>` and the shared driver)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planfirst.plan.store import PlanStore
from tests.support.demo_script import DEMO

pytestmark = pytest.mark.e2e  # the terminal client starts the server as a subprocess

TASK = "Add a --top N option to textkit count"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["NO_COLOR"] = "1"
    return env


def _ctrl_c_default() -> None:
    """In the child before it runs planfirst: Ctrl-C as a terminal's foreground job gets it. A
    test run started in the background of a shell without job control (nohup, `&`) ignores
    SIGINT, which every child inherits: Python then leaves it ignored, as it should."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _script(tmp: Path, name: str, turns: list[dict[str, object]]) -> Path:
    path = tmp / name
    path.write_text(json.dumps({"turns": turns}), encoding="utf-8")
    return path


def test_ctrl_c_mid_step_then_resume_runs_the_same_step_once(workspace: Path) -> None:
    """The user presses Ctrl-C while step 1 waits on the model: `planfirst run` says how to go
    on (no traceback), the plan is not left locked, and `planfirst resume` runs step 1 (once)
    and the rest to the end."""
    slow = dict(DEMO[2])
    slow["delay"] = 30
    first = _script(workspace.parent, "first.json", [DEMO[0], DEMO[1], slow])
    proc = subprocess.Popen(
        [sys.executable, "-I", "-m", "planfirst", "run", TASK, "--yes", "--script", str(first)],
        cwd=workspace,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        preexec_fn=_ctrl_c_default,
    )
    running = workspace / ".planfirst" / "running"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        held = [f.read_text() for f in running.iterdir()] if running.is_dir() else []
        if any("executing" in h for h in held):
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("step 1 never started: " + (proc.communicate()[0] or ""))
    time.sleep(1.0)  # the model call is on its way
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "Traceback" not in out and "InvalidStateError" not in out, out
    assert "planfirst resume" in out

    store = PlanStore(workspace)
    plan_id = store.active()
    assert plan_id is not None
    assert store.claimed(plan_id) is None  # nobody holds it now
    assert store.load(plan_id).state(1).status.value in ("pending", "running")

    rest = _script(workspace.parent, "rest.json", DEMO[2:])
    res = subprocess.run(
        [sys.executable, "-I", "-m", "planfirst", "resume", "--yes", "--script", str(rest)],
        cwd=workspace,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    plan = PlanStore(workspace).load(plan_id)
    assert plan.status.value == "done"
    applied = [r for r in plan.state(1).runs if r.outcome == "applied"]
    assert len(applied) == 2  # step 1 needs its retry, as in the demo: applied once per attempt
    src = (workspace / "textkit" / "wordcount.py").read_text(encoding="utf-8")
    assert src.count("def top_words") == 1


def test_ctrl_c_while_planning_says_nothing_was_saved(workspace: Path) -> None:
    """Ctrl-C while the plan is being made: there is no plan to resume, so the terminal does
    not send the user to `planfirst resume` (which answered "no stored plan to resume")."""
    slow = dict(DEMO[1])
    slow["delay"] = 30
    script = _script(workspace.parent, "plan.json", [DEMO[0], slow])
    proc = subprocess.Popen(
        [sys.executable, "-I", "-m", "planfirst", "run", TASK, "--yes", "--script", str(script)],
        cwd=workspace,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_ctrl_c_default,
    )
    running = workspace / ".planfirst" / "running"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if running.is_dir() and any("generating" in f.read_text() for f in running.iterdir()):
            break
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "no plan was saved" in out and "planfirst resume" not in out, out
    assert PlanStore(workspace).list()[0] == []


def test_resume_approves_only_the_revision_it_printed(workspace: Path) -> None:
    """`planfirst resume` prints a draft and asks "Approve this plan…?". Meanwhile the user
    edits plan.md in the editor and reloads it (revision 2). Answering y approved revision 2,
    which the terminal never printed, and ran it. It is refused; the plan stays a draft."""
    import threading

    from planfirst.core.workflow.session import Session
    from planfirst.settings import Settings
    from tests.support.fake_host import FakeHost
    from tests.support.plan_fixtures import make_plan

    plan = make_plan()
    PlanStore(workspace).save(plan)
    PlanStore(workspace).set_active(plan.id)
    script = _script(workspace.parent, "none.json", [])
    proc = subprocess.Popen(
        [sys.executable, "-I", "-m", "planfirst", "resume", "--script", str(script)],
        cwd=workspace,
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None and proc.stdin is not None
    seen = bytearray()

    def read() -> None:
        assert proc.stdout is not None
        while chunk := os.read(proc.stdout.fileno(), 4096):
            seen.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while b"Approve this plan" not in seen and time.monotonic() < deadline:
        time.sleep(0.1)
    assert b"Approve this plan" in seen, seen.decode(errors="replace")

    editor = Session(workspace, Settings(), None, FakeHost(workspace))  # type: ignore[arg-type]
    md = editor.store.plan_md(plan.id)
    first = plan.body.step(1).description
    md.write_text(md.read_text(encoding="utf-8").replace(first, first + " Keep it short."))
    assert editor.reload(plan.id).revision == 2

    proc.stdin.write(b"y\n")
    proc.stdin.close()
    assert proc.wait(timeout=60) != 0
    reader.join(5)
    out = seen.decode(errors="replace")
    assert "changed while you were asked" in out, out
    now = PlanStore(workspace).load(plan.id)
    assert now.revision == 2 and now.status.value == "draft"
    assert all(not st.runs for st in now.steps)
