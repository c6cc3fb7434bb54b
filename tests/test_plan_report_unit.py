"""plan/report.py: what the finish view counts (issue #33)."""

from __future__ import annotations

from planfirst.plan.model import RunOutcome, StepRun, StepStatus, Usage
from planfirst.plan.report import plan_report, start_texts, step_reports
from tests.support.plan_fixtures import make_plan


def _run(n: int, outcome: RunOutcome, **kw: object) -> StepRun:
    return StepRun(
        attempt=n,
        outcome=outcome,
        started_at=f"2026-12-01T10:00:0{n}+00:00",
        finished_at=f"2026-12-01T10:00:0{n + 1}+00:00",
        **kw,  # type: ignore[arg-type]
    )


def test_a_discarded_edit_offered_again_is_not_an_attempt() -> None:
    plan = make_plan()
    asked = Usage(input_tokens=100, output_tokens=10, cost_usd=0.01, calls=1)
    st = plan.state(1)
    st.status = StepStatus.DONE
    st.runs = [
        _run(1, RunOutcome.REJECTED, prompt_hash="h1", usage=asked, before={"a.py": "v0\n"}),
        # the same edit again, no model call: no prompt, no usage
        _run(2, RunOutcome.APPLIED, before={"a.py": "v0\n"}, after={"a.py": "v1\n"}),
        _run(3, RunOutcome.APPLIED, prompt_hash="h2", usage=asked, before={"a.py": "v1\n"}),
    ]
    plan.state(2).runs = [_run(1, RunOutcome.UNDONE, before={"b.py": None})]
    first = step_reports(plan)[0]
    assert first["attempts"] == 2
    assert first["outputTokens"] == 20 and first["inputTokens"] == 200
    assert first["costUsd"] == 0.02
    assert first["seconds"] == 3.0  # every run's time, the re-offer's too
    assert step_reports(plan)[1]["attempts"] == 0  # an undo asks no model
    # the text before the plan's first edit that landed, per file
    assert start_texts(plan) == {"a.py": "v0\n", "b.py": None}


def test_files_back_at_their_start_are_left_out() -> None:
    plan = make_plan()
    plan.state(1).runs = [
        _run(1, RunOutcome.APPLIED, prompt_hash="h", before={"a.py": "v0\n", "new.py": None})
    ]
    now = {"a.py": "v0\n", "new.py": "x\n"}
    report = plan_report(plan, now.get, lambda rel: f"file:///ws/{rel}")
    assert report["files"] == [
        {"path": "new.py", "uri": "file:///ws/new.py", "before": None, "after": "x\n"}
    ]


def test_paths_that_must_not_be_shown_are_counted_not_listed() -> None:
    """A plan.json from elsewhere can name any path: what the face refuses (uri None) is never
    read nor listed, and a huge file is counted instead of sent."""
    plan = make_plan()
    plan.state(1).runs = [
        _run(
            1,
            RunOutcome.APPLIED,
            prompt_hash="h",
            before={"../../etc/passwd": "", ".env": "", "big.txt": "x", "ok.py": "a\n"},
        )
    ]
    read: list[str] = []

    def reader(rel: str) -> str | None:
        read.append(rel)
        return "y" * 3_000_000 if rel == "big.txt" else "b\n"

    def uri(rel: str) -> str | None:
        return None if rel.startswith("..") or rel == ".env" else f"file:///ws/{rel}"

    report = plan_report(plan, reader, uri)
    assert [f["path"] for f in report["files"]] == ["ok.py"]
    assert report["omitted"] == 3
    assert "../../etc/passwd" not in read and ".env" not in read
