"""QA of #32's step history (9ba0910) through `planfirst run`: a workspace with the previous
version's history.json, the whole demo plan, the process exiting right after the last step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planfirst.plan.render import render
from planfirst.plan.store import PlanStore
from tests.test_terminal import DEMO, TASK, run

pytestmark = pytest.mark.e2e  # the terminal client starts the server as a subprocess


def test_planfirst_run_after_an_upgrade_leaves_every_steps_row_and_plan_md(
    workspace: Path,
) -> None:
    legacy = [{"plan": "old", "step": 1, "status": "done", "attempts": 3, "cost": 0.0}]
    (workspace / ".planfirst").mkdir(exist_ok=True)
    hist = workspace / ".planfirst" / "history.json"
    hist.write_text(json.dumps(legacy) + "\n")
    args = ["run", TASK, "--workspace", str(workspace), "--yes", "--script", str(DEMO)]
    res = run(args, workspace, critique=True)
    assert res.returncode == 0, res.stdout + res.stderr
    store = PlanStore(workspace)
    (pid,) = [p.parent.name for p in store.plans_dir.glob("*/plan.json")]
    plan = store.load(pid)
    assert plan.status.value == "done"
    assert store.plan_md(pid).read_text(encoding="utf-8") == render(plan).text
    lines = (workspace / ".planfirst" / "history.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]  # every line whole when the process exited
    assert [(r["plan"], r["step"], r["attempts"]) for r in rows] == [
        (pid, 1, 2),
        (pid, 2, 1),
        (pid, 3, 1),
    ]
    assert store.step_history() == [*legacy, *rows]
    assert json.loads(hist.read_text()) == legacy
