"""The one trust policy (docs/reliability.md case 31): one list, folded names, used by review."""

from __future__ import annotations

from pathlib import Path

import pytest

from planfirst.core.planning.plan_lint import lint_plan
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.core.workspace.trust import needs_confirmation
from planfirst.plan.model import PlanBody
from planfirst.settings import Settings

TRUSTED = [
    "Makefile",
    "makefile",
    "GNUmakefile",
    "MAKEFILE",
    "pytest.ini",
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "tox.ini",
    "conftest.py",
    "tests/conftest.py",
    "package.json",
    ".npmrc",
    ".cargo/config.toml",
    "crates/x/.cargo/config.toml",
    ".gitlab-ci.yml",
    ".devcontainer/devcontainer.json",
    ".husky/pre-commit",
    ".nvim.lua",
    ".exrc",
    ".lazy.lua",
    ".neoconf.json",
    ".zed/settings.json",
    ".helix/config.toml",
    ".gitattributes",
    ".vscode/tasks.json",
    ".VSCode/tasks.json",
    ".github/workflows/ci.yml",
    ".GitHub/Workflows/ci.yml",
    ".idea/workspace.xml",
    ".pre-commit-config.yaml",
    ".envrc",
    ".git/hooks/pre-commit",
    "sub/.git/config",
    ".pylintrc",
    "mypy.ini",
]
PLAIN = [
    "src/app.py",
    "README.md",
    "docs/makefile.md",
    "github/workflows.txt",
    "my.nvim.lua.txt",
    "cargo/config.toml",
    "tests/test_conftest.py",
]


@pytest.mark.parametrize("path", TRUSTED + PLAIN)
def test_review_flags_exactly_what_execution_asks(tmp_path: Path, path: str) -> None:
    body = PlanBody.model_validate(
        {
            "summary": "Create one file.",
            "files_to_create": [{"path": path, "purpose": "x", "exports": []}],
            "steps": [
                {
                    "order": 1,
                    "description": f"Create `{path}`.",
                    "files_to_create": [path],
                    "validation": ["pytest -q"],
                }
            ],
            "test_criteria": ["`pytest -q` passes"],
        }
    )
    findings = lint_plan(body, WorkspaceGuard(tmp_path), Settings())
    flagged = any(f.rule == "protected-file" for f in findings)
    assert flagged == needs_confirmation(path) == (path in TRUSTED)


def test_review_judges_a_symlink_by_its_target(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text("all:\n")
    (tmp_path / "build.txt").symlink_to("Makefile")
    body = PlanBody.model_validate(
        {
            "summary": "Edit one file.",
            "files_to_modify": [{"path": "build.txt", "changes": "x"}],
            "steps": [
                {
                    "order": 1,
                    "description": "Edit `build.txt`.",
                    "files_to_modify": ["build.txt"],
                    "validation": ["pytest -q"],
                }
            ],
            "test_criteria": ["`pytest -q` passes"],
        }
    )
    findings = lint_plan(body, WorkspaceGuard(tmp_path), Settings())
    assert any(f.rule == "protected-file" for f in findings)
