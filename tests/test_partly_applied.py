"""A step whose review applied only part of its edit ("Some files…" in VS Code, an unticked change
in a preview) is recorded and shown as partly applied, naming the files left out — not as plain
"applied" (#33). The end-to-end path (a real server, an editor that unticks a file) is
tests/e2e/test_execute.py::test_partly_applied_preview_is_what_gets_validated."""

from __future__ import annotations

import io
import time
from pathlib import Path

from planfirst.core.workflow.fsio import partly_applied
from planfirst.lsp.plans_view import step_rows
from planfirst.plan.model import Plan, RunOutcome, StepRun, StepState, StepStatus
from planfirst.plan.render import render
from planfirst.plan.store import PlanStore
from planfirst.terminal import report
from planfirst.terminal.editor import TerminalEditor
from tests.support.plan_fixtures import make_plan

BEFORE: dict[str, str | None] = {"a.py": "a0\n", "b.py": "b0\n", "new.py": None}
AFTER: dict[str, str | None] = {"a.py": "a1\n", "b.py": "b1\nb2\n", "new.py": "n\n"}


def test_files_left_out_whole_and_files_applied_in_part_are_told_apart() -> None:
    actual = {"a.py": "a1\n", "b.py": "b1\n", "new.py": None}
    assert partly_applied(BEFORE, AFTER, actual) == (["new.py"], ["b.py"])
    assert partly_applied(BEFORE, AFTER, dict(AFTER)) == ([], [])
    # without the text it was made from, a difference cannot be called "left out"
    assert partly_applied(None, AFTER, {**AFTER, "a.py": "a0\n"}) == ([], ["a.py"])


def _partly_done_plan() -> Plan:
    plan = make_plan()
    order = plan.body.steps[0].order
    run = StepRun(
        attempt=1,
        outcome=RunOutcome.APPLIED,
        before={"textkit/cli.py": "x\n", "tests/test_cli.py": "t\n"},
        after={"textkit/cli.py": "y\n", "tests/test_cli.py": "t\n"},
        left_out=["tests/test_cli.py"],
    )
    plan.steps = [StepState(order=s.order) for s in plan.body.steps]
    plan.state(order).runs = [run]
    plan.state(order).status = StepStatus.DONE
    return plan


def test_the_plan_document_and_the_plans_view_name_the_file_left_out() -> None:
    plan = _partly_done_plan()
    doc = render(plan).text
    assert "> Last run: attempt 1 · partly applied (left out: `tests/test_cli.py`)" in doc
    rows = step_rows(plan)
    assert rows[0]["leftOut"] == ["tests/test_cli.py"] and rows[0]["appliedInPart"] == []
    assert all("leftOut" not in r for r in rows[1:])


def test_a_later_run_that_applies_the_file_whole_clears_it() -> None:
    plan = _partly_done_plan()
    st = plan.state(plan.body.steps[0].order)
    fix = StepRun(
        attempt=2,
        outcome=RunOutcome.APPLIED,
        before={"tests/test_cli.py": "t\n"},
        after={"tests/test_cli.py": "t2\n"},
    )
    st.runs.append(fix)
    assert st.partly_applied() == ([], [])
    # an undone run is not on disk: what it left out no longer counts
    st.runs = [st.runs[0].model_copy(update={"outcome": RunOutcome.APPLIED_UNDONE})]
    assert st.partly_applied() == ([], [])


def test_the_terminal_summary_says_partly_applied(tmp_path: Path) -> None:
    plan = _partly_done_plan()
    store = PlanStore(tmp_path)
    store.save(plan)
    out = io.StringIO()
    report.summary(TerminalEditor(tmp_path, True, out=out), store, plan.id, time.monotonic())
    assert "partly applied: left out tests/test_cli.py" in out.getvalue(), out.getvalue()
