"""Plans used by several tests."""

from __future__ import annotations

from typing import Any

from planfirst.plan.model import Plan, PlanBody


def body_dict() -> dict[str, Any]:
    """A valid three-step plan body as the model would send it."""
    return {
        "summary": "Add a `top_words` helper and a `--top N` option to `count`.",
        "files_to_modify": [
            {
                "path": "textkit/wordcount.py",
                "changes": "add `top_words(counts, n)`",
                "depends_on": [],
            },
            {
                "path": "textkit/cli.py",
                "changes": "add `--top N`",
                "depends_on": ["textkit/wordcount.py"],
            },
        ],
        "files_to_create": [
            {"path": "tests/test_top.py", "purpose": "tests for `top_words`", "exports": []}
        ],
        "dependency_changes": {
            "packages": [{"name": "rich", "version": ">=13", "manager": "pip"}],
            "config": [],
        },
        "steps": [
            {
                "order": 1,
                "description": "Add `top_words` to `textkit/wordcount.py`.",
                "files_to_modify": ["textkit/wordcount.py"],
                "validation": ["pytest -q tests/test_wordcount.py"],
            },
            {
                "order": 2,
                "description": "Create `tests/test_top.py` with `test_top`.",
                "files_to_create": ["tests/test_top.py"],
                "validation": ["pytest -q tests/test_top.py"],
            },
            {
                "order": 3,
                "description": "Add `--top` to `main()` in `textkit/cli.py`.",
                "files_to_modify": ["textkit/cli.py"],
                "validation": ["pytest -q", "ruff check textkit"],
            },
        ],
        "test_criteria": ["`pytest -q` passes"],
        "risks": ["output order of `count` could change"],
        "assumptions": ["Python 3.9+"],
    }


def make_plan(plan_id: str = "add-top-abc123", **over: Any) -> Plan:
    """A stored-plan object around body_dict()."""
    data = body_dict()
    data.update(over)
    return Plan(
        id=plan_id, title="Add --top", task="Add a --top option", body=PlanBody.model_validate(data)
    )


# The model's diagnosis of failing test criteria (a scripted `submit_diagnosis` turn).
DIAGNOSIS = {
    "tool": "submit_diagnosis",
    "input": {
        "suspect_step": 1,
        "broken_assumption": "tests/test_missing.py exists",
        "explanation": "pytest found no such file",
        "suggested_fix": "name an existing test file",
    },
}


def failing_criteria(turn: dict[str, Any]) -> dict[str, Any]:
    """A planning turn whose test criteria fail (they name a test file that does not exist)."""
    turn["input"]["test_criteria"] = ["`pytest -q tests/test_missing.py` passes"]
    return turn
