"""`planfirst run` / `resume` end consistent (#29): `--max-cost-per-plan 0` spends nothing on the
steps, `resume --execution-model M` runs the remaining steps of an approved plan on M, and with
PLANFIRST_PLANS_DIR set the critique is still printed before the approval question."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planfirst.plan.store import PlanStore
from tests.support.demo_script import DEMO as DEMO_TURNS
from tests.test_terminal import DEMO, TASK, run


def test_a_zero_plan_cap_spends_nothing_and_resume_on_another_model_goes_on(
    workspace: Path,
) -> None:
    plan_turns = workspace.parent / "plan.json"
    plan_turns.write_text(json.dumps(DEMO_TURNS[:2]))  # planning only (the critique is off)
    res = run(
        [
            "run",
            TASK,
            "--workspace",
            str(workspace),
            "--yes",
            "--script",
            str(plan_turns),
            "--max-cost-per-plan",
            "0",
        ],
        workspace,
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "planfirst.budget.maxCostPerPlan is $0: nothing may be spent" in res.stdout
    [plan] = PlanStore(workspace).list()[0]
    st = plan.state(1)
    assert st.status.value == "pending" and [r.outcome.value for r in st.runs] == ["error"]
    assert sum(r.usage.cost_usd for s in plan.steps for r in s.runs) == 0
    # the approved plan goes on, on a cheaper model than the one it was approved on
    assert plan.execution_model != "claude-haiku-4-5"
    rest = workspace.parent / "rest.json"
    rest.write_text(json.dumps(DEMO_TURNS[2:]))
    res2 = run(
        [
            "resume",
            "--workspace",
            str(workspace),
            "--yes",
            "--script",
            str(rest),
            "--execution-model",
            "claude-haiku-4-5",
        ],
        workspace,
    )
    assert res2.returncode == 0, res2.stdout + res2.stderr
    assert "The remaining steps run on claude-haiku-4-5" in res2.stdout
    plan = PlanStore(workspace).load(plan.id)
    assert plan.status.value == "done"
    assert plan.execution_model == "claude-haiku-4-5"
    models = {r.model for st in plan.steps for r in st.runs if r.outcome.value != "error"}
    assert models == {"claude-haiku-4-5"}


def test_run_with_a_plans_dir_prints_the_critique_before_approval(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANFIRST_PLANS_DIR", "docs/plans")
    res = run(
        ["run", TASK, "--workspace", str(workspace), "--yes", "--script", str(DEMO)],
        workspace,
        critique=True,  # the demo script has the critic's turns
    )
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    assert (workspace / "docs" / "plans").is_dir()
    assert "Critique by" in out and out.index("Critique by") < out.index("Approve this plan")
