"""Rendering is deterministic (golden file), maps steps to lines, and parses back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from planfirst.plan.model import PlanBody, StepRun, StepStatus, Usage, ValidationResult
from planfirst.plan.render import PlanParseError, parse_markdown, render
from tests.support.plan_fixtures import make_plan

GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "plan.md"


def _plan():
    plan = make_plan()
    plan.provenance.created_at = plan.provenance.updated_at = "2026-01-01T00:00:00+00:00"
    st = plan.state(1)
    st.status = StepStatus.DONE
    st.runs.append(
        StepRun(
            attempt=1,
            started_at="2026-01-01T00:00:00+00:00",
            outcome="applied",
            usage=Usage(input_tokens=10, output_tokens=5, calls=1),
            validation=[ValidationResult(command="pytest -q", exit_code=0, passed=True)],
        )
    )
    plan.usage = Usage(input_tokens=1200, output_tokens=300, cost_usd=0.0123, calls=2)
    return plan


def test_golden() -> None:
    text = render(_plan()).text
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_deterministic_and_step_map() -> None:
    plan = _plan()
    a, b = render(plan), render(plan)
    assert a.text == b.text
    lines = a.text.split("\n")
    for order, (start, end) in a.steps.items():
        assert lines[start].startswith(f"### Step {order}")
        assert start <= end
    assert lines[a.sections["Steps"][0]] == "## Steps"
    assert "[x] done" in lines[a.steps[1][0]]


def test_round_trip() -> None:
    plan = _plan()
    task, body = parse_markdown(render(plan).text)
    assert body == plan.body
    assert task == plan.task


def test_edited_markdown_parses_back() -> None:
    text = render(_plan()).text.replace("Add `top_words` to", "Write `top_words` in")
    text = text.replace(
        "  - `pytest -q tests/test_wordcount.py`",
        "  - `pytest -q tests/test_wordcount.py`\n  - `ruff check textkit`",
    )
    _, body = parse_markdown(text)
    assert body.step(1).description.startswith("Write `top_words`")
    assert body.step(1).validation == ["pytest -q tests/test_wordcount.py", "ruff check textkit"]


def test_parse_error_names_the_line() -> None:
    text = render(_plan()).text.replace(
        "- Modify: `textkit/wordcount.py`", "- Modify: `textkit/nowhere.py`"
    )
    with pytest.raises(PlanParseError) as info:
        parse_markdown(text)
    assert info.value.line is not None
    assert "nowhere.py" in str(info.value)


def test_missing_section() -> None:
    with pytest.raises(PlanParseError, match="Steps"):
        parse_markdown("# Plan\n\n## Summary\n\nx\n")


def test_backticks_in_commands_survive() -> None:
    plan = _plan()
    data = plan.body.model_dump()
    data["steps"][0]["validation"] = ["python -c 'print(`x`)'"]
    plan.body = PlanBody.model_validate(data)
    _, body = parse_markdown(render(plan).text)
    assert body.step(1).validation == ["python -c 'print(`x`)'"]


@pytest.mark.parametrize(
    "desc",
    [
        ">",
        "> quoted",
        "<!-- c -->",
        "## not a section",
        "### Step 9",
        "- Modify: `x.py`",
        "- Validation:",
        "\\\\x",
        "a\n> b\n# c",
        "text <!-- opened mid-line",
        "x\\<!--y",
        "\\\\<!--",
        "a\u202eb\u200bc",
        "\\u{202E} literal",
        "\\u{5C}u{41}",
    ],
)
def test_structural_looking_prose_round_trips(desc: str) -> None:
    plan = _plan()
    data = plan.body.model_dump()
    data["steps"][0]["description"] = desc
    data["summary"] = desc
    plan.body = PlanBody.model_validate(data)
    _, body = parse_markdown(render(plan).text)
    assert body.step(1).description == desc
    assert body.summary == desc


def test_multiline_items_round_trip() -> None:
    plan = _plan()
    data = plan.body.model_dump()
    data["risks"] = ["first line\n- looks like a bullet\n\n\\\\ backslash\n  indented"]
    data["test_criteria"] = ["`pytest -q` passes\n- and nothing else"]
    plan.body = PlanBody.model_validate(data)
    _, body = parse_markdown(render(plan).text)
    assert body.risks == data["risks"]
    assert body.test_criteria == data["test_criteria"]
