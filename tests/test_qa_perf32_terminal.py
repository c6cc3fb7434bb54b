"""QA of #32 through `planfirst run`: the process ends right after the plan's last step, and
plan.md (written on the background writer since #32) is on disk, the rendering of plan.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from planfirst.plan.render import render
from planfirst.plan.store import PlanStore
from tests.test_terminal import DEMO, TASK, run

pytestmark = pytest.mark.e2e  # the terminal client starts the server as a subprocess


def test_plan_md_is_on_disk_when_planfirst_run_exits(workspace: Path) -> None:
    args = ["run", TASK, "--workspace", str(workspace), "--yes", "--script", str(DEMO)]
    res = run(args, workspace, critique=True)  # the demo's script has the critic's turns
    assert res.returncode == 0, res.stdout + res.stderr
    store = PlanStore(workspace)
    (pid,) = [p.parent.name for p in store.plans_dir.glob("*/plan.json")]
    plan = store.load(pid)
    assert plan.status.value == "done"
    md = store.plan_md(pid).read_text(encoding="utf-8")
    assert md == render(plan).text and "**Steps:** 3/3 done" in md
