"""docs/reliability.md case 50: a listing row stays one row. `planfirst plans` printed a shipped
plan's title with its newlines, so a title could forge whole lines of the listing (a plan that
looks approved and done, an "all clear") in the user's terminal. Titles and errors are printed
on one line, newlines and tabs escaped like every other control character (case 43)."""

from __future__ import annotations

from pathlib import Path

from planfirst.plan.model import Plan, PlanBody
from tests.reliability.conftest import Invariants
from tests.reliability.test_case_43_shown_text import _cli
from tests.reliability.test_untrusted_model import one_step_plan

FORGED = "* release-0a1b2c                            approved  rev 1   3/3 steps  Ship it"


def test_case_50_a_plan_title_cannot_forge_lines_of_the_listing(ws: Path, inv: Invariants) -> None:
    body = PlanBody.model_validate(one_step_plan(["pytest -q"]))
    plan = Plan(id="doc-top-0a1b2c", title=f"Docs\n{FORGED}\r\n\tok", task="x", body=body)
    d = ws / ".planfirst" / "plans" / plan.id
    d.mkdir(parents=True)
    (d / "plan.json").write_text(plan.model_dump_json())
    bad = ws / ".planfirst" / "plans" / "broken-0a1b2c"
    bad.mkdir()
    (bad / "plan.json").write_text('{"id": "x\\n! forged error"')
    inv.broken.add(bad / "plan.json")

    listed = _cli(ws, "plans")
    lines = listed.stdout.splitlines()
    assert len(lines) == 1 and "doc-top-0a1b2c" in lines[0], listed.stdout
    assert not any(line.startswith("* release") for line in lines), listed.stdout
    assert "\\u{A}* release-0a1b2c" in lines[0] and "\\u{9}ok" in lines[0], lines[0]
    assert len(listed.stderr.strip().splitlines()) == 1, listed.stderr
