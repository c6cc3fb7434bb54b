"""docs/how-it-works.md documents the step state machine the code has: every step status, run outcome
and command result of the typed state machine is a row of its table, and nothing else is."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from planfirst.core.workflow.contracts import StepResult
from planfirst.plan.model import RunOutcome, StepStatus

DOC = Path(__file__).resolve().parents[1] / "docs" / "how-it-works.md"


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## The step state machine")
    end = text.index("\n## ", start)
    return text[start:end]


def _tables() -> dict[str, list[str]]:
    """First header cell -> the first cells of the rows (backticked values)."""
    out: dict[str, list[str]] = {}
    for block in re.split(r"\n\s*\n", _section()):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if len(rows) < 3:
            continue
        head = rows[0].strip("|").split("|")[0].strip()
        out[head] = [re.sub(r"^`|`$", "", r.strip("|").split("|")[0].strip()) for r in rows[2:]]
    return out


@pytest.mark.parametrize(
    ("header", "enum"),
    [("Step status", StepStatus), ("Run outcome", RunOutcome), ("Result", StepResult)],
)
def test_doc_table_lists_every_value(header: str, enum: type[StrEnum]) -> None:
    rows = _tables()[header]
    assert sorted(rows) == sorted(v.value for v in enum)


def test_doc_states_the_undo_order_rule() -> None:
    assert "Undo goes last-first" in _section()
