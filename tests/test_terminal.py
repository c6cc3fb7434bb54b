"""`planfirst run` / `resume` / `plans` / `--version`: the terminal client of the same server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from planfirst import __version__
from tests.e2e.test_execute import snapshot
from tests.support.demo_script import DEMO as PLAIN_DEMO  # the demo's session with the critique off

pytestmark = pytest.mark.e2e  # the terminal client starts the server as a subprocess

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "scripts" / "demo.json"
TASK = "Add a --top N option to textkit count"


def run(
    args: list[str], cwd: Path, stdin: str = "", timeout: float = 120, critique: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["NO_COLOR"] = "1"
    if critique:  # the tests run with the critique off (tests/conftest.py); the default is on
        env.pop("PLANFIRST_CRITIQUE_MODEL", None)
    return subprocess.run(
        [sys.executable, "-I", "-m", "planfirst", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_version(tmp_path: Path) -> None:
    res = run(["--version"], tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == f"planfirst {__version__}"


def test_run_yes_executes_everything(workspace: Path) -> None:
    res = run(
        ["run", TASK, "--workspace", str(workspace), "--yes", "--script", str(DEMO)],
        workspace,
        critique=True,
    )
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    assert "SCRIPTED model" in out
    assert "### Step 1" in out  # the plan is printed
    # the critic's finding, fixed by the tightening round, is printed before the approval
    critique = out.index("Critique by")
    fixed = out.index("✓ step 2: Step 2 hands the rows to an existing `print_counts(rows)`")
    assert critique < fixed < out.index("Approve this plan")
    assert "no findings left" in out[critique:]
    assert "critique: 4 model calls" in out  # its own line in the summary
    assert "+def top_words" in out  # each step's diff
    assert "validation failed; asking the model to fix it" in out  # the failure and its retry
    assert "Summary" in out and "test criteria: 2/2 passed" in out
    # the terminal previews each edit itself: no planfirst preview document, no extra question
    assert not list((workspace / ".planfirst").rglob("*.diff"))
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"], cwd=workspace, capture_output=True, text=True
    )
    assert tests.returncode == 0, tests.stdout
    listing = run(["plans", "--workspace", str(workspace)], workspace)
    assert listing.returncode == 0 and "done" in listing.stdout and "3/3 steps" in listing.stdout


def test_run_rejected_step_with_n(workspace: Path) -> None:
    before = snapshot(workspace)
    script = PLAIN_DEMO[:5]
    sfile = workspace.parent / "script.json"
    sfile.write_text(json.dumps(script))
    res = run(
        ["run", TASK, "--workspace", str(workspace), "--script", str(sfile)],
        workspace,
        stdin="y\nn\n",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Apply this edit? [y/N]" in res.stdout
    assert "step 1: rejected" in res.stdout
    after = snapshot(workspace)
    assert after == before  # nothing changed outside .planfirst
    listing = run(["plans", "--workspace", str(workspace)], workspace)
    assert "approved" in listing.stdout or "executing" in listing.stdout


def test_plan_only_then_decline(workspace: Path) -> None:
    script = PLAIN_DEMO[:2]
    sfile = workspace.parent / "script.json"
    sfile.write_text(json.dumps(script))
    res = run(
        ["run", TASK, "--workspace", str(workspace), "--script", str(sfile), "--plan-only"],
        workspace,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "(draft)" in res.stdout and "planfirst resume --plan" in res.stdout
    res2 = run(
        ["resume", "--workspace", str(workspace), "--script", str(sfile)], workspace, stdin="n\n"
    )
    assert res2.returncode == 0
    assert "kept as a draft" in res2.stdout


def test_no_key_no_script_is_a_clear_error(workspace: Path) -> None:
    res = run(["run", TASK, "--workspace", str(workspace)], workspace)
    assert res.returncode == 2
    assert "ANTHROPIC_API_KEY" in res.stdout and "--script" in res.stdout


def test_plans_reports_corrupt_file(workspace: Path) -> None:
    d = workspace / ".planfirst" / "plans" / "broken-000000"
    d.mkdir(parents=True)
    (d / "plan.json").write_text("{")
    res = run(["plans", "--workspace", str(workspace)], workspace)
    assert res.returncode == 1
    assert "broken-000000" in res.stderr and "not valid JSON" in res.stderr
