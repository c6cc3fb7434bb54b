"""The critique pass (#20), in-process: core.session with the fake host, the real SDK against the
scripted server. A plan naming a function the workspace does not have gets a wrong-assumption
finding with evidence, the tightening round fixes it, a good plan gets none, `off` skips it, the
critic only reads (no secret), and its cost is its own line inside the plan's total."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from planfirst.acp.views import approval_text
from planfirst.core.planning.critique import CriticFinding, Critique, feedback_text, to_finding
from planfirst.core.workflow.session import Session, SessionError
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.plan.model import PlanBody
from planfirst.plan.render import critique_report, render
from planfirst.settings import Settings
from tests.support.demo_script import DEMO_WITH_CRITIQUE, editor_scripts
from tests.support.fake_host import FakeHost, ScriptedModels

ES = editor_scripts()
END = ES.planning_end(DEMO_WITH_CRITIQUE)
EXPLORE, FLAWED = DEMO_WITH_CRITIQUE[0], DEMO_WITH_CRITIQUE[1]
SEARCH, FINDING, TIGHTENED, CLEAN = DEMO_WITH_CRITIQUE[2:END]
GOOD = TIGHTENED["input"]
TASK = "Add a --top N option to textkit count"
READ_ONLY = {"view_file", "list_dir", "search_text", "submit_critique"}


@pytest.fixture
async def start(workspace: Path) -> AsyncIterator[Any]:
    """Call with the script's turns and the critique settings: (session, host, server)."""
    servers: list[ScriptedServer] = []
    models: list[ScriptedModels] = []

    def go(
        turns: list[dict[str, Any]], critique: dict[str, Any] | None = None
    ) -> tuple[Session, FakeHost, ScriptedServer]:
        srv = ScriptedServer(turns).start()
        servers.append(srv)
        settings = Settings.model_validate({"critique": critique or {}})
        models.append(ScriptedModels(settings, srv.base_url))
        host = FakeHost(workspace)
        return Session(workspace, settings, models[-1], host), host, srv

    yield go
    for m in models:
        await m.aclose()
    for s in servers:
        s.stop()


def _content(body: PlanBody) -> dict[str, Any]:
    """A plan's content without the step ids the store assigns."""
    data = body.model_dump()
    for step in data["steps"]:
        step.pop("id", None)
    return data


def _critic_requests(srv: ScriptedServer) -> list[dict[str, Any]]:
    return [
        r.body
        for r in srv.requests
        if any(t.get("name") == "submit_critique" for t in r.body.get("tools", []))
    ]


async def test_wrong_assumption_found_then_fixed_by_the_tightening_round(
    start: Any, workspace: Path
) -> None:
    session, _host, srv = start(DEMO_WITH_CRITIQUE[:END])
    plan = await session.generate(TASK)
    assert srv.failures == [] and srv.remaining() == 0
    # the tightened plan replaced the one that leaned on print_counts
    assert _content(plan.body) == _content(PlanBody.model_validate(GOOD))
    assert "print_counts" not in plan.body.model_dump_json()
    assert [f for f in plan.findings if f.source == "critique"] == []
    crit = plan.provenance.critique
    assert crit is not None and crit.rounds == 1
    assert crit.fixed and "print_counts" in crit.fixed[0] and "wrong-assumption" in crit.fixed[0]
    # cost: the critic's two rounds (3 calls) and the planner's answer (1 call), inside the total
    assert crit.usage.calls == 4 and crit.usage.cost_usd > 0
    assert plan.usage.calls == 2 + 4
    assert plan.usage.cost_usd >= crit.usage.cost_usd
    # the critic read only, through the exploration tools, and never saw the secret
    critic = _critic_requests(srv)
    assert len(critic) == 3
    for body in critic:
        assert {t["name"] for t in body["tools"]} == READ_ONLY
    secret = (workspace / ".env").read_text().split("TEXTKIT_API_TOKEN=")[1].strip()
    assert not any(secret in json.dumps(b) for b in critic)
    # the plan document tells the story
    text = render(plan).text
    assert "**Critique:** 0 finding(s), 0 error(s)" in text and "tightening round fixed 1" in text
    assert "fixed by the tightening round: step 2:" in text
    report = "\n".join(critique_report(plan))
    assert "no findings left" in report and "critique cost: 4 model call(s)" in report


async def test_a_remaining_finding_is_shown_and_approval_asks(start: Any) -> None:
    """The planner's answer keeps the mistake: the critic's error stays, with its evidence and
    fix, at step 2; approving asks first and "No" keeps the draft."""
    again = copy.deepcopy(TIGHTENED)
    again["input"] = FLAWED["input"]
    second = copy.deepcopy(FINDING)
    second.pop("expect")
    session, host, srv = start([EXPLORE, FLAWED, SEARCH, FINDING, again, second])
    plan = await session.generate(TASK)
    assert srv.failures == []
    mine = [f for f in plan.findings if f.source == "critique"]
    assert len(mine) == 1
    f = mine[0]
    assert (f.rule, f.severity, f.step, f.field) == (
        "critique/wrong-assumption",
        "error",
        2,
        "description",
    )
    assert any("no match" in e for e in f.evidence) and "print_counts" in f.message
    assert "existing loop" in f.fix
    crit = plan.provenance.critique
    assert crit is not None and crit.rounds == 1 and crit.fixed == []
    r = render(plan)
    lines = r.text.split("\n")
    start_line, end_line = r.steps[2]
    step2 = "\n".join(lines[start_line : end_line + 1])
    assert "error: Step 2 hands the rows" in step2 and "evidence: textkit/cli.py:21-23" in step2
    assert "fix: Print the rows" in step2
    assert "**Critique:** 1 finding(s), 1 error(s)" in r.text
    # the ACP agent's approval question carries the same report
    asked = approval_text(plan, ".planfirst/plans/x/plan.md")
    assert "Critique by" in asked and "evidence: textkit/cli.py:21-23" in asked
    host.answer = False
    with pytest.raises(SessionError, match="not approved"):
        await session.approve(plan.id)
    assert "(1 from the critic)" in host.questions[-1]
    assert "print_counts" in host.questions[-1]
    host.answer = True
    assert (await session.approve(plan.id)).status.value == "approved"


async def test_a_good_plan_gets_no_finding(start: Any) -> None:
    good = {**FLAWED, "input": GOOD}
    clean = {**CLEAN, "expect": {"tools": ["submit_critique"]}}
    session, _host, srv = start([EXPLORE, good, clean])
    plan = await session.generate(TASK)
    assert srv.failures == [] and srv.remaining() == 0
    assert [f for f in plan.findings if f.source == "critique"] == []
    crit = plan.provenance.critique
    assert crit is not None and crit.rounds == 0 and crit.usage.calls == 1
    assert "**Critique:** 0 finding(s)" in render(plan).text


async def test_off_skips_the_critique(start: Any) -> None:
    session, _host, srv = start([EXPLORE, FLAWED], {"model": "off"})
    plan = await session.generate(TASK)
    assert srv.failures == [] and srv.remaining() == 0
    assert plan.provenance.critique is None
    assert _critic_requests(srv) == []
    assert "Critique" not in render(plan).text


async def test_no_tightening_round_when_turned_off(start: Any) -> None:
    session, _host, srv = start([EXPLORE, FLAWED, SEARCH, FINDING], {"tighten": False})
    plan = await session.generate(TASK)
    assert srv.failures == [] and srv.remaining() == 0
    assert _content(plan.body) == _content(PlanBody.model_validate(FLAWED["input"]))
    crit = plan.provenance.critique
    assert crit is not None and crit.rounds == 0
    assert [f.rule for f in plan.findings if f.source == "critique"] == [
        "critique/wrong-assumption"
    ]


async def test_a_failed_critique_keeps_the_plan_and_says_so(start: Any) -> None:
    refused = {"fault": {"status": 400, "message": "critic request refused"}}
    session, _host, srv = start([EXPLORE, FLAWED, refused])
    plan = await session.generate(TASK)
    assert srv.remaining() == 0  # the refused request was not retried
    assert _content(plan.body) == _content(PlanBody.model_validate(FLAWED["input"]))
    crit = plan.provenance.critique
    assert crit is not None and crit.notes and "the critique did not run" in crit.notes[0]
    assert "critic request refused" in crit.notes[0]
    note = [f for f in plan.findings if f.rule == "critique/not-run"]
    assert len(note) == 1 and note[0].severity == "info"
    assert "the critique did not run" in render(plan).text


async def test_a_revision_is_critiqued_too(start: Any) -> None:
    good = {**FLAWED, "input": GOOD}
    clean = {**CLEAN, "expect": {"tools": ["submit_critique"]}}
    revised = {"expect": {"contains": ["<feedback>"]}, "tool": "submit_plan", "input": GOOD}
    critic_on_revision = {
        "expect": {"tools": ["submit_critique"], "contains": ["<plan_under_review>"]},
        "tool": "submit_critique",
        "input": {"findings": [dict(FINDING["input"]["findings"][0], severity="warning")]},
    }
    session, _host, srv = start([EXPLORE, good, clean, revised, critic_on_revision])
    plan = await session.generate(TASK)
    new = await session.revise(plan.id, "keep the output unchanged without --top")
    assert srv.failures == [] and srv.remaining() == 0
    assert new.revision == 2
    # a warning is shown, not sent back to the planner
    assert [(f.rule, f.severity) for f in new.findings if f.source == "critique"] == [
        ("critique/wrong-assumption", "warning")
    ]
    assert new.provenance.critique is not None and new.provenance.critique.rounds == 0


async def test_a_targeted_revision_tightened_by_the_critic_keeps_its_step_ids(start: Any) -> None:
    """A revision of step 2 brings the mistake in; the critic's error goes back to the planner
    with the revision's rules (ids, the one step to change); the corrected plan keeps the ids and
    nothing is flagged as not asked for."""
    good = {**FLAWED, "input": GOOD}
    clean = {**CLEAN, "expect": {"tools": ["submit_critique"]}}
    revised = {"expect": {"contains": ["<feedback>"]}, "tool": "submit_plan"}
    revised["input"] = FLAWED["input"]
    tightened = copy.deepcopy(TIGHTENED)
    tightened["expect"]["contains"] += ["Change ONLY", "stable id", "<feedback>"]
    script = [EXPLORE, good, clean, revised, SEARCH, FINDING, tightened, CLEAN]
    session, _host, srv = start(script)
    plan = await session.generate(TASK)
    ids = [st.id for st in plan.body.steps]
    new = await session.revise(plan.id, "print through a helper", steps=[2])
    assert srv.failures == [] and srv.remaining() == 0
    assert [st.id for st in new.body.steps] == ids
    assert _content(new.body) == _content(PlanBody.model_validate(GOOD))
    crit = new.provenance.critique
    assert crit is not None and crit.rounds == 1 and len(crit.fixed) == 1
    assert "not asked for" not in render(new).text


async def test_a_hand_edit_is_linted_not_critiqued_again(start: Any) -> None:
    session, _host, srv = start([EXPLORE, FLAWED, SEARCH, FINDING], {"tighten": False})
    plan = await session.generate(TASK)
    asked = len(srv.requests)
    md = session.store.plan_md(plan.id)
    md.write_text(md.read_text().replace("`print_counts(rows)` helper", "loop in `main()`"))
    new = session.reload(plan.id)
    assert len(srv.requests) == asked and srv.failures == []  # no model call for the hand edit
    assert new.revision == 2 and "print_counts" not in new.body.model_dump_json()
    assert [f for f in new.findings if f.source == "critique"] == []
    crit = new.provenance.critique
    assert crit is not None and crit.notes[-1] == (
        "revision 2 was edited by hand and not critiqued again"
    )
    assert "not critiqued again" in render(new).text


def test_a_finding_on_a_step_the_plan_does_not_have_is_plan_wide() -> None:
    body = PlanBody.model_validate(GOOD)
    raw = Critique.model_validate(
        {
            "findings": [
                {
                    "kind": "untestable-criterion",
                    "step": 9,
                    "field": "test_criteria",
                    "evidence": ["", "tests/test_cli.py:1 — " + "x" * 500],
                    "severity": "warning",
                    "problem": "The criterion\ncannot fail.",
                    "fix": "Name the test.",
                }
            ]
        }
    )
    f = to_finding(raw.findings[0], body)
    assert f.step is None and f.section == "Test criteria"
    assert "step 9, which the plan does not have" in f.message
    assert f.message.startswith("The criterion cannot fail.")
    assert len(f.evidence) == 1 and len(f.evidence[0]) == 300
    text = feedback_text([f])
    assert "[warning] test_criteria:" in text and "fix: Name the test." in text


def test_the_submit_schema_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError):
        CriticFinding.model_validate(
            {
                "kind": "nitpick",
                "field": "summary",
                "severity": "info",
                "problem": "p",
                "fix": "f",
            }
        )
