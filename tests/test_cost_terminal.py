"""`planfirst run` / `resume` show the cost estimate before the approval question, let the answer
name another execution model (its estimate is shown), and compare estimate and actual at the end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from planfirst.plan.store import PlanStore
from tests.support.demo_script import DEMO as DEMO_TURNS
from tests.test_terminal import DEMO, TASK, run

pytestmark = pytest.mark.e2e  # the terminal client starts the server as a subprocess


def test_resume_shows_the_estimate_and_a_model_can_be_chosen(workspace: Path) -> None:
    script = json.loads(DEMO.read_text())["turns"][:2]
    sfile = workspace.parent / "script.json"
    sfile.write_text(json.dumps(script))
    res = run(
        ["run", TASK, "--workspace", str(workspace), "--script", str(sfile), "--plan-only"],
        workspace,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    res2 = run(
        ["resume", "--workspace", str(workspace), "--script", str(sfile)],
        workspace,
        stdin="claude-haiku-4-5\nn\n",
    )
    assert res2.returncode == 0, res2.stdout + res2.stderr
    lines = re.findall(r"Estimated cost: [^\n]*", res2.stdout)
    assert len(lines) == 2, res2.stdout
    assert " on claude-sonnet-5-5 " in lines[0] and " on claude-haiku-4-5 " in lines[1]
    ranges = [re.findall(r"\$([0-9.]+)–\$([0-9.]+)", x)[0] for x in lines]
    assert float(ranges[1][1]) < float(ranges[0][1])  # Haiku is cheaper than Sonnet
    assert "catalogue of 2026-" in lines[0]
    assert "on another model — " in res2.stdout and "claude-haiku-5-5 $" in res2.stdout
    assert "kept as a draft" in res2.stdout


def test_run_with_a_chosen_model_records_it_and_compares_the_estimate(workspace: Path) -> None:
    res = run(
        [
            "run",
            TASK,
            "--workspace",
            str(workspace),
            "--yes",
            "--script",
            str(DEMO),
            "--execution-model",
            "claude-haiku-4-5",
        ],
        workspace,
        critique=True,  # the demo script has the critic's turns
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Estimated cost: " in res.stdout and " on claude-haiku-4-5 " in res.stdout
    assert "estimate before approval: " in res.stdout and "(within the range)" in res.stdout
    plans, _ = PlanStore(workspace).list()
    plan = plans[0]
    assert plan.execution_model == "claude-haiku-4-5"
    assert {r.model for st in plan.steps for r in st.runs} == {"claude-haiku-4-5"}


def test_a_cap_stops_the_run_and_resume_continues_after_raising_it(workspace: Path) -> None:
    res = run(
        [
            "run",
            TASK,
            "--workspace",
            str(workspace),
            "--yes",
            "--script",
            str(DEMO),
            "--max-cost-per-plan",
            "0.01",  # below step 1's prompt plus the least answer it can be sent with
        ],
        workspace,
        critique=True,  # the demo script has the critic's turns
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "planfirst.budget.maxCostPerPlan ($0.010) would be crossed" in res.stdout
    assert "step 1 is estimated at $" in res.stdout
    plans, _ = PlanStore(workspace).list()
    assert plans[0].state(1).status.value == "pending"
    # a new process: its scripted model starts at the step turns the first run never used
    rest = workspace.parent / "rest.json"
    rest.write_text(json.dumps(DEMO_TURNS[2:]))  # the critique is off in tests
    res2 = run(
        [
            "resume",
            "--workspace",
            str(workspace),
            "--yes",
            "--script",
            str(rest),
            "--max-cost-per-plan",
            "5",
        ],
        workspace,
    )
    assert res2.returncode == 0, res2.stdout + res2.stderr
    plans, _ = PlanStore(workspace).list()
    assert plans[0].status.value == "done"
