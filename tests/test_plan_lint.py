"""Plan-quality rules: one positive and one negative case per rule, plus settings and confidence."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.planning.plan_lint import (
    RULES,
    confidence,
    is_checkable,
    is_specific,
    lint_plan,
)
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.plan.model import PlanBody
from planfirst.settings import Settings

GOOD_STEP = "In `src/app.py`, add `parse_args()` that returns the parsed options"


def plan(**over: Any) -> PlanBody:
    """A clean two-file plan; keyword arguments replace top-level fields."""
    data: dict[str, Any] = {
        "summary": "Add argument parsing.",
        "files_to_modify": [{"path": "src/app.py", "changes": "add parse_args"}],
        "files_to_create": [{"path": "tests/test_app.py", "purpose": "tests"}],
        "steps": [
            {
                "order": 1,
                "description": GOOD_STEP,
                "files_to_modify": ["src/app.py"],
                "validation": ["python -c 'import src.app'"],
            },
            {
                "order": 2,
                "description": "Write tests in tests/test_app.py for parse_args",
                "files_to_create": ["tests/test_app.py"],
                "validation": ["pytest -q tests/test_app.py"],
            },
        ],
        "test_criteria": ["`pytest -q` passes"],
        "risks": ["argv parsing may differ on Windows"],
        "assumptions": ["Python 3.11"],
    }
    data.update(over)
    return PlanBody.model_validate(data)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/app.py").write_text("x = 1\n")
    return tmp_path


@pytest.fixture
def guard(ws: Path) -> WorkspaceGuard:
    return WorkspaceGuard(ws)


def rules(findings: list[Any]) -> list[str]:
    return [f.rule for f in findings]


def run(body: PlanBody, guard: WorkspaceGuard | None, **settings: Any) -> list[Any]:
    return lint_plan(body, guard, Settings.model_validate(settings))


def step(order: int, description: str = GOOD_STEP, **kw: Any) -> dict[str, Any]:
    return {"order": order, "description": description, "validation": ["pytest -q"], **kw}


def test_clean_plan_has_no_findings(guard: WorkspaceGuard) -> None:
    assert run(plan(), guard) == []


def test_every_rule_is_documented() -> None:
    for rule_id, (severity, text) in RULES.items():
        assert severity in ("error", "warning", "info") and text and rule_id == rule_id.lower()


def test_step_no_validation(guard: WorkspaceGuard) -> None:
    body = plan(
        steps=[
            step(1, files_to_modify=["src/app.py"], validation=[]),
            step(2, files_to_create=["tests/test_app.py"]),
        ]
    )
    found = [f for f in run(body, guard) if f.rule == "step-no-validation"]
    assert len(found) == 1 and found[0].step == 1 and found[0].severity == "warning"
    assert "add one" in found[0].message


@pytest.mark.parametrize(
    "description",
    [
        "Update the auth logic",
        "Make it faster and cleaner",
        "Refactor as discussed, e.g. the usual way",
    ],
)
def test_step_vague(guard: WorkspaceGuard, description: str) -> None:
    body = plan(
        steps=[
            step(1, description, files_to_modify=["src/app.py"]),
            step(2, files_to_create=["tests/test_app.py"]),
        ]
    )
    found = [f for f in run(body, guard) if f.rule == "step-vague"]
    assert [f.step for f in found] == [1]
    assert "say which file" in found[0].message


@pytest.mark.parametrize(
    "description",
    [
        "Update `login` to hash passwords",
        "Edit src/auth.py to hash passwords",
        "Edit auth.py to hash passwords",
        "Add a SessionStore class",
        "Call hash_password from the login flow",
        "Make login( check the hash",
        "Use hashlib.sha256 for the digest",
        "Raise MAX_RETRIES to 5",
        "Add a target to the Makefile",
    ],
)
def test_step_specific(description: str) -> None:
    assert is_specific(description)


def test_step_too_many_files(guard: WorkspaceGuard) -> None:
    files = [f"src/m{i}.py" for i in range(4)]
    body = plan(
        files_to_modify=[],
        files_to_create=[{"path": p, "purpose": "x"} for p in files],
        steps=[step(1, files_to_create=files)],
    )
    assert "step-too-many-files" in rules(run(body, guard, lint={"maxFilesPerStep": 3}))
    assert "step-too-many-files" not in rules(run(body, guard, lint={"maxFilesPerStep": 4}))


def test_modify_missing_file(guard: WorkspaceGuard) -> None:
    body = plan(
        files_to_modify=[
            {"path": "src/app.py", "changes": "x"},
            {"path": "src/gone.py", "changes": "x"},
        ],
        steps=[
            step(1, files_to_modify=["src/app.py", "src/gone.py"]),
            step(2, files_to_create=["tests/test_app.py"]),
        ],
    )
    found = [f for f in run(body, guard) if f.rule == "modify-missing-file"]
    assert len(found) == 1
    assert (
        found[0].severity == "error" and "'src/gone.py'" in found[0].message and found[0].step == 1
    )
    # without a workspace the rule cannot judge and stays quiet
    assert "modify-missing-file" not in rules(run(body, None))


def test_modify_through_symlink_out_is_an_error(
    ws: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("out")
    (out / "x.py").write_text("")
    (ws / "src/link.py").symlink_to(out / "x.py")
    body = plan(
        files_to_modify=[{"path": "src/link.py", "changes": "x"}],
        files_to_create=[],
        steps=[step(1, files_to_modify=["src/link.py"])],
    )
    found = [f for f in run(body, WorkspaceGuard(ws)) if f.rule == "modify-missing-file"]
    assert found and "symlink" in found[0].message


def test_create_existing_file(ws: Path, guard: WorkspaceGuard) -> None:
    assert "create-existing-file" not in rules(run(plan(), guard))
    (ws / "tests").mkdir()
    (ws / "tests/test_app.py").write_text("")
    found = [f for f in run(plan(), guard) if f.rule == "create-existing-file"]
    assert len(found) == 1 and found[0].step == 2 and "files_to_modify" in found[0].message


def test_file_not_in_steps(guard: WorkspaceGuard) -> None:
    body = plan(steps=[step(1, files_to_modify=["src/app.py"])])
    found = [f for f in run(body, guard) if f.rule == "file-not-in-steps"]
    assert len(found) == 1 and "'tests/test_app.py'" in found[0].message


def test_protected_file(guard: WorkspaceGuard) -> None:
    body = plan(
        files_to_modify=[],
        files_to_create=[
            {"path": ".github/workflows/ci.yml", "purpose": "ci"},
            {"path": "docs/a.md", "purpose": "d"},
        ],
        steps=[step(1, files_to_create=[".github/workflows/ci.yml", "docs/a.md"])],
    )
    found = [f for f in run(body, guard) if f.rule == "protected-file"]
    assert [f.message.split()[0] for f in found] == ["'.github/workflows/ci.yml'"]
    assert "protected-file" not in rules(run(plan(), guard))


def test_edits_validation_script(guard: WorkspaceGuard) -> None:
    body = plan(
        files_to_modify=[],
        files_to_create=[
            {"path": "Makefile", "purpose": "m"},
            {"path": "scripts/check.py", "purpose": "c"},
        ],
        steps=[
            step(
                1,
                "Add a `test` target to the Makefile",
                files_to_create=["Makefile"],
                validation=["make test"],
            ),
            step(
                2,
                "Add scripts/check.py",
                files_to_create=["scripts/check.py"],
                validation=["python scripts/check.py"],
            ),
        ],
    )
    found = [f for f in run(body, guard) if f.rule == "edits-validation-script"]
    assert [f.step for f in found] == [1, 2]
    # editing a test file that pytest then runs is normal, not flagged
    assert "edits-validation-script" not in rules(run(plan(), guard))


def test_validation_unparseable_and_shell_syntax(guard: WorkspaceGuard) -> None:
    body = plan(
        steps=[
            step(1, files_to_modify=["src/app.py"], validation=["pytest 'unbalanced"]),
            step(
                2,
                files_to_create=["tests/test_app.py"],
                validation=["pytest -q && curl x.test | sh", "FOO=1 pytest"],
            ),
        ]
    )
    got = run(body, guard)
    assert [f.step for f in got if f.rule == "validation-unparseable"] == [1]
    shell = [f for f in got if f.rule == "validation-shell-syntax"]
    assert [f.step for f in shell] == [2, 2]
    assert "&&" in shell[0].message and "without a shell" in shell[0].message
    assert "validation-shell-syntax" not in rules(run(plan(), guard))


def test_validation_not_installed(ws: Path, guard: WorkspaceGuard) -> None:
    body = plan(
        steps=[
            step(1, files_to_modify=["src/app.py"], validation=["no-such-tool-xyz --check"]),
            step(2, files_to_create=["tests/test_app.py"]),
        ]
    )
    found = [
        f
        for f in run(body, guard, validation={"allow": ["no-such-tool-xyz", "pytest"]})
        if f.rule == "validation-not-installed"
    ]
    assert len(found) == 1 and "'no-such-tool-xyz'" in found[0].message
    # a tool installed in the workspace (node_modules/.bin) counts as installed
    binp = ws / "node_modules/.bin/no-such-tool-xyz"
    binp.parent.mkdir(parents=True)
    binp.write_text("#!/bin/sh\n")
    binp.chmod(binp.stat().st_mode | stat.S_IXUSR)
    assert "validation-not-installed" not in rules(
        run(body, guard, validation={"allow": ["no-such-tool-xyz", "pytest"]})
    )


def test_validation_workspace_script_path(ws: Path, guard: WorkspaceGuard) -> None:
    script = ws / "scripts/check.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    os.chmod(script, 0o755)
    body = plan(
        steps=[
            step(
                1,
                files_to_modify=["src/app.py"],
                validation=["./scripts/check.sh", "./scripts/nope.sh"],
            ),
            step(2, files_to_create=["tests/test_app.py"]),
        ]
    )
    found = [
        f
        for f in run(body, guard, validation={"allow": ["check.sh", "nope.sh", "pytest"]})
        if f.rule == "validation-not-installed"
    ]
    assert len(found) == 1 and "nope.sh" in found[0].message


def test_validation_not_allowed(guard: WorkspaceGuard) -> None:
    body = plan(
        steps=[
            step(1, files_to_modify=["src/app.py"], validation=["curl https://x.test"]),
            step(2, files_to_create=["tests/test_app.py"]),
        ]
    )
    found = [f for f in run(body, guard) if f.rule == "validation-not-allowed"]
    assert len(found) == 1 and "'curl'" in found[0].message and "allow-list" in found[0].message
    # an explicit allow list overrides the settings
    assert "validation-not-allowed" not in rules(
        lint_plan(body, guard, Settings(), allow=["curl", "pytest"])
    )


@pytest.mark.parametrize(
    ("criterion", "ok"),
    [
        ("`pytest -q tests/test_app.py` passes", True),
        ("parse_args(['-v']) returns verbose=True", True),
        ("the CLI prints usage and exits with exit code 2", True),
        ("an empty file raises ValueError", True),
        ("The code is better", False),
        ("Everything works well and is clean", False),
    ],
)
def test_criteria_checkable(guard: WorkspaceGuard, criterion: str, ok: bool) -> None:
    assert is_checkable(criterion) is ok
    found = [
        f for f in run(plan(test_criteria=[criterion]), guard) if f.rule == "criteria-not-checkable"
    ]
    assert (not found) is ok


def test_depends_on_order(guard: WorkspaceGuard) -> None:
    files = [
        {"path": "src/app.py", "changes": "x", "depends_on": ["src/util.py"]},
        {"path": "src/util.py", "changes": "y"},
    ]
    (guard.root / "src/util.py").write_text("")
    ok = plan(
        files_to_modify=files,
        files_to_create=[],
        steps=[step(1, files_to_modify=["src/util.py"]), step(2, files_to_modify=["src/app.py"])],
    )
    assert "depends-on-order" not in rules(run(ok, guard))
    same = plan(
        files_to_modify=files,
        files_to_create=[],
        steps=[step(1, files_to_modify=["src/app.py", "src/util.py"])],
    )
    found = [f for f in run(same, guard) if f.rule == "depends-on-order"]
    assert len(found) == 1 and "both first change in step 1" in found[0].message
    untouched = plan(
        files_to_modify=files, files_to_create=[], steps=[step(1, files_to_modify=["src/app.py"])]
    )
    found = [f for f in run(untouched, guard) if f.rule == "depends-on-order"]
    assert len(found) == 1 and "no step touches 'src/util.py'" in found[0].message
    # the hard case is rejected by the model; a body built without validation is still caught
    bad_steps = [
        ok.steps[1].model_copy(update={"order": 1}),
        ok.steps[0].model_copy(update={"order": 2}),
    ]
    bad = PlanBody.model_construct(**{**ok.__dict__, "steps": bad_steps})
    found = [f for f in run(bad, guard) if f.rule == "depends-on-order"]
    assert found and found[0].severity == "error" and "reorder" in found[0].message


def test_dependency_no_version(guard: WorkspaceGuard) -> None:
    body = plan(
        dependency_changes={"packages": [{"name": "httpx"}, {"name": "rich", "version": ">=13"}]}
    )
    found = [f for f in run(body, guard) if f.rule == "dependency-no-version"]
    assert len(found) == 1 and "'httpx'" in found[0].message


def test_duplicate_steps(guard: WorkspaceGuard) -> None:
    body = plan(
        steps=[
            step(1, GOOD_STEP, files_to_modify=["src/app.py"]),
            step(2, GOOD_STEP + ".", files_to_create=["tests/test_app.py"]),
        ]
    )
    found = [f for f in run(body, guard) if f.rule == "duplicate-steps"]
    assert len(found) == 1 and found[0].step == 2
    assert "duplicate-steps" not in rules(run(plan(), guard))


def test_no_risks_no_assumptions_only_on_multi_file_plans(guard: WorkspaceGuard) -> None:
    got = rules(run(plan(risks=[], assumptions=[]), guard))
    assert "no-risks" in got and "no-assumptions" in got
    single = plan(
        files_to_create=[],
        steps=[step(1, files_to_modify=["src/app.py"])],
        risks=[],
        assumptions=[],
    )
    got = rules(run(single, guard))
    assert "no-risks" not in got and "no-assumptions" not in got


def test_disabled_rules(guard: WorkspaceGuard) -> None:
    body = plan(risks=[], assumptions=[], test_criteria=["it is nice"])
    assert {"no-risks", "criteria-not-checkable"} <= set(rules(run(body, guard)))
    got = rules(run(body, guard, lint={"disabled": ["no-risks", "criteria-not-checkable"]}))
    assert "no-risks" not in got and "criteria-not-checkable" not in got and "no-assumptions" in got


def test_confidence() -> None:
    body = plan(
        steps=[
            step(1, files_to_modify=["src/app.py"]),
            step(2, "tidy things", files_to_create=["tests/test_app.py"], validation=[]),
        ]
    )
    findings = lint_plan(body, None, Settings())
    c = confidence(body, findings, stale_files=1)
    assert c["steps"] == 2 and c["specific_and_validated"] == 1 and c["share"] == 0.5
    assert c["files_touched"] == 2 and c["stale_files"] == 1
    assert c["warnings"] == len([f for f in findings if f.severity == "warning"])
    assert c["summary"].startswith("1/2 steps specific and validated")
