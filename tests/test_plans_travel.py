"""Plans that travel with the repository (#18 point 5): plan.md and plan.json can be committed
and reviewed (deterministic, LF, no absolute paths or user names), the plans directory is a
setting, and a plan that arrives with someone else's commit opens as a draft to approve."""

from __future__ import annotations

import getpass
import os
import subprocess
from pathlib import Path

import pytest

from planfirst import cli
from planfirst.core.workflow import revisions
from planfirst.plan.model import (
    Finding,
    PlanBody,
    PlanStatus,
    RunOutcome,
    StepRun,
    StepStatus,
    ValidationResult,
)
from planfirst.plan.origin import UNTRUSTED_RULE
from planfirst.plan.store import PlanStore
from planfirst.settings import load_settings
from tests.support.plan_fixtures import body_dict, make_plan


def executed_plan(root: Path):
    """A revised plan whose step 1 ran, with the machine's paths in its command output."""
    plan = make_plan()
    plan.status = PlanStatus.EXECUTING
    revisions.approve_steps(plan)
    home = os.path.expanduser("~")
    out = (
        f"rootdir: {root}\n{root}/tests/test_wordcount.py:3: AssertionError\n"
        f"cache in {home}/.cache/pytest\n"
    )
    plan.findings = [
        Finding(rule="argv", severity="warning", message=f"`{root}/bin/check` is not allowed")
    ]
    plan.state(1).status = StepStatus.DONE
    plan.state(1).runs = [
        StepRun(
            attempt=1,
            outcome=RunOutcome.APPLIED,
            before={"textkit/wordcount.py": f"# keep {root} in the code\n"},
            after={"textkit/wordcount.py": "x = 1\n"},
            validation=[ValidationResult(command="pytest -q", exit_code=1, output=out)],
            error=f"validation failed in {root}",
        )
    ]
    return plan


def test_plan_files_are_deterministic_lf_and_free_of_machine_paths(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    store = PlanStore(root)
    plan = executed_plan(root)
    store.save(plan)
    md = store.plan_md(plan.id).read_bytes()
    js = store.plan_json(plan.id).read_bytes()
    # a second writer (another process) renders exactly the same markdown
    again = PlanStore(root)
    again.plan_md(plan.id).unlink()
    again.save(again.load(plan.id))
    assert again.plan_md(plan.id).read_bytes() == md
    for data in (md, js):
        assert b"\r" not in data
        text = data.decode()
        # the one occurrence allowed: the recorded text of a file that itself names the path
        assert text.count(str(tmp_path)) == (1 if data is js else 0)
        assert os.path.expanduser("~") not in text
        user = getpass.getuser()
        assert f"/{user}/" not in text
    loaded = store.load(plan.id)
    run = loaded.state(1).runs[0]
    assert "rootdir: .\ntests/test_wordcount.py:3: AssertionError" in run.validation[0].output
    assert "~/.cache/pytest" in run.validation[0].output
    # the recorded file text (what undo restores) is kept byte for byte
    assert run.before["textkit/wordcount.py"] == f"# keep {root} in the code\n"
    assert run.error == "validation failed in ."
    assert loaded.findings[0].message == "`bin/check` is not allowed"


def test_the_plans_directory_is_a_setting(tmp_path: Path) -> None:
    settings, problems = load_settings({"plansDir": "docs/plans/"})
    assert settings.plans_dir == "docs/plans" and problems == []
    ws_settings, _ = load_settings(None, {"planfirst": {"plansDir": "plans"}})
    assert ws_settings.plans_dir == "plans"  # a workspace may say where its plans are
    for bad, why in (
        ("/tmp/plans", "absolute"),
        ("../plans", "'..'"),
        (".git/plans", "inside .git"),
        # Windows drops trailing dots and spaces from a name: these are .git (and .planfirst)
        (".git./plans", "inside .git"),
        (".GIT /plans", "inside .git"),
        ("docs/.git.. /plans", "inside .git"),
        (".planfirst./other", "only '.planfirst/plans'"),
        (".planfirst/other", "only '.planfirst/plans'"),
    ):
        s, problems = load_settings({"plansDir": bad})
        assert s.plans_dir == ".planfirst/plans"
        assert any(why in p for p in problems), (bad, problems)
    assert load_settings(environ={"PLANFIRST_PLANS_DIR": "team/plans"})[0].plans_dir == "team/plans"
    root = tmp_path / "ws"
    root.mkdir()
    store = PlanStore(root, "docs/plans")
    plan = make_plan()
    store.save(plan)
    assert (root / "docs" / "plans" / plan.id / "plan.md").is_file()
    assert not (root / ".planfirst" / "plans").exists()
    assert [p.id for p in store.list()[0]] == [plan.id]


def _git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Someone Else",
        "GIT_AUTHOR_EMAIL": "else@example.com",
        "GIT_COMMITTER_NAME": "Someone Else",
        "GIT_COMMITTER_EMAIL": "else@example.com",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_a_plan_from_someone_elses_commit_opens_as_a_draft(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "their-data"))
    store = PlanStore(theirs)
    plan = executed_plan(theirs)
    store.save(plan)
    data = body_dict()
    data["steps"][1]["description"] = "Create `tests/test_top.py` with two tests."
    new = plan.model_copy(deep=True)
    new.revision, new.steps = 2, []
    new.body = PlanBody.model_validate(
        {**data, "steps": [{**s, "id": f"s{s['order']}"} for s in data["steps"]]}
    )
    new = type(plan).model_validate(new.model_dump())
    revisions.carry_over(plan, new, hand_edit=False)
    store.save_revision(plan)
    new.status = PlanStatus.APPROVED
    revisions.approve_steps(new)
    store.save(new)
    _git(theirs, "init", "-q")
    _git(theirs, "add", ".planfirst/plans")
    _git(theirs, "commit", "-q", "-m", "plan for --top")
    # you clone their commit, with your own planfirst key
    mine = tmp_path / "mine"
    _git(tmp_path, "clone", "-q", str(theirs), str(mine))
    monkeypatch.setenv("PLANFIRST_DATA_DIR", str(tmp_path / "my-data"))
    cloned = PlanStore(mine).load(plan.id)
    assert cloned.status == PlanStatus.DRAFT
    assert [s.id for s in cloned.body.steps] == ["s1", "s2", "s3"]  # the ids travel
    assert all(st.status == StepStatus.PENDING and not st.runs for st in cloned.steps)
    assert all(st.approved == "" for st in cloned.steps)  # nothing is approved for you
    assert [f.rule for f in cloned.findings] == [UNTRUSTED_RULE]
    assert cloned.changes is not None and [c.id for c in cloned.changes.steps] == ["s2"]
    # the kept revision is a draft too
    old = PlanStore(mine).load_revision(plan.id, 1)
    assert old.status == PlanStatus.DRAFT and not old.state(1).runs
    # a reviewer compares the two revisions from the terminal
    assert cli.main(["diff", "--workspace", str(mine), "--plan", plan.id]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"--- {plan.id} revision 1\n+++ {plan.id} revision 2\n")
    changed = [x for x in out.splitlines() if x[:1] in "+-" and not x.startswith(("+++", "---"))]
    assert changed == [
        "-Create `tests/test_top.py` with `test_top`.",
        "+Create `tests/test_top.py` with two tests.",
    ]
    assert cli.main(["diff", "--workspace", str(mine), "--plan", plan.id, "--to", "1"]) == 2
    assert "nothing before revision 1" in capsys.readouterr().err
    assert cli.main(["diff", "--workspace", str(mine), "--plan", plan.id, "--from", "7"]) == 2
    assert "has no revision 7; it has 1, 2" in capsys.readouterr().err
