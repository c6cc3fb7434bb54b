"""Session rules that need no model: one edit at a time per workspace, criteria commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from planfirst.core.workflow.session import Session, SessionError
from planfirst.plan.criteria import criteria_commands
from planfirst.settings import Settings


class _Nothing:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"not expected: {name}")


async def test_two_plans_never_edit_the_workspace_at_once(tmp_path: Path) -> None:
    session = Session(tmp_path, Settings(), _Nothing(), _Nothing())  # type: ignore[arg-type]
    async with session.exclusive("plan-a-000001", "executing a step"):
        with pytest.raises(SessionError, match="plan 'plan-a-000001' is executing a step"):
            async with session.exclusive("plan-b-000002", "undoing step 1"):
                pass
        # reading or planning another plan meanwhile is fine
        async with session.exclusive("plan-b-000002", "revising the plan"):
            assert session.busy() == {
                "plan-a-000001": "executing a step",
                "plan-b-000002": "revising the plan",
            }
        with pytest.raises(SessionError, match="busy"):
            async with session.exclusive("plan-a-000001", "revising the plan"):
                pass
    assert session.busy() == {}


def test_only_unmistakable_commands_run() -> None:
    """docs/reliability.md case 28: a criterion runs only when it starts with one backticked
    command followed by nothing but that it succeeds."""
    assert criteria_commands(
        [
            "`pytest -q` passes",
            "`pytest -q tests/x.py`",
            "`ruff check src` reports no errors (new code only)",
            "`count --top 2` prints `hello`",
            "no command here",
            "`textkit count` works and `python -m pytest -q tests/x.py` passes",
            "`--top 2` works",
            "Do not run `make deploy` until a maintainer has reviewed the change",
            "`make deploy` must not run before review",
            "`make deploy` — only after review",
        ]
    ) == ["pytest -q", "pytest -q tests/x.py", "ruff check src"]


async def test_a_handed_over_wait_tells_the_editor_when_the_plan_is_free(tmp_path: Path) -> None:
    # a preview answered "not applied" after a cancel saves nothing; the editor's status bar
    # still learns that the plan is no longer busy (it kept spinning in VS Code before)
    import asyncio

    changed: list[str] = []

    class _Host:
        def plan_changed(self, plan_id: str) -> None:
            changed.append(plan_id)

        def log(self, text: str) -> None:
            pass

    session = Session(tmp_path, Settings(), _Nothing(), _Host())  # type: ignore[arg-type]
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    async def wait() -> None:
        await answer

    session.hand_over("plan-a-000001", "waiting for your answer", wait())
    assert session.busy() == {"plan-a-000001": "waiting for your answer"} and changed == []
    answer.set_result(False)
    for _ in range(5):
        await asyncio.sleep(0)  # let the task and its done callback run (no wall-clock wait)
    assert session.busy() == {} and changed == ["plan-a-000001"]
