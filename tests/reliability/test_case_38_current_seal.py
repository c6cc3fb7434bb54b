"""docs/reliability.md case 38: the seal says which revision is current. The user approves a plan
(the approved plan.json is committed), then withdraws the approval by revising it; restoring the
older sealed plan.json from git history, or copying the kept revision file over plan.json, must
not bring the approval back. And Reload of a plan planfirst did not write (a cloned plan whose
plan.md differs from its plan.json) keeps it foreign: approving it still asks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.model import Plan, PlanBody
from planfirst.plan.origin import UNTRUSTED_RULE
from planfirst.plan.render import render
from planfirst.plan.store import PlanStore
from tests.reliability.conftest import Invariants, serve
from tests.reliability.test_untrusted_model import README_EDIT, one_step_plan, plan_turn
from tests.support.lsp_harness import command

SUMMARY = "Document `count --top N` in the README."


@pytest.mark.parametrize("restored", ["from git history", "a copy of the revision file"])
async def test_case_38_an_older_sealed_plan_never_revives_a_withdrawn_approval(
    ws: Path, inv: Invariants, restored: str
) -> None:
    srv = inv.scripted_server([plan_turn(one_step_plan(["pytest -q tests/test_slug.py"]))])
    async with serve(inv, ws, srv) as (client, editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        d = ws / ".planfirst" / "plans" / pid
        committed = (d / "plan.json").read_bytes()  # `git commit` of the approved plan
        md = d / "plan.md"
        md.write_text(md.read_text().replace(SUMMARY, "Only document `--top`; no code."))
        r = await command(client, "planfirst.reloadPlan", {"planId": pid})
        assert r["status"] == "draft" and r["revision"] == 2, r  # the approval is withdrawn
        if restored == "from git history":
            (d / "plan.json").write_bytes(committed)  # `git checkout HEAD~1 -- .planfirst`
        else:
            shutil.copy(d / "revisions" / "1.json", d / "plan.json")
        rows = await command(client, "planfirst.listPlans", {})
        assert [(p["id"], p["status"]) for p in rows] == [(pid, "draft")], rows
        with pytest.raises(JsonRpcException, match="not approved"):
            await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert editor.edits == [] and len(srv.requests) == 1
    plan = PlanStore(ws).load(pid)
    assert plan.status.value == "draft"
    assert any(f.rule == UNTRUSTED_RULE for f in plan.findings), plan.findings


async def test_case_38_reload_keeps_a_plan_planfirst_did_not_write_foreign(
    ws: Path, inv: Invariants
) -> None:
    body = PlanBody.model_validate(one_step_plan(["pytest -q tests/test_slug.py"]))
    shipped = Plan(id="document-top-0a1b2c", title="Document --top", task="x", body=body)
    d = ws / ".planfirst" / "plans" / shipped.id
    d.mkdir(parents=True)
    (d / "plan.json").write_text(shipped.model_dump_json(indent=2))  # no seal: not written here
    edited = render(shipped).text.replace(SUMMARY, "Document `--top`, as reviewed.")
    (d / "plan.md").write_text(edited)  # plan.md differs from plan.json
    srv = inv.scripted_server([README_EDIT, {"text": "done"}])
    async with serve(inv, ws, srv) as (client, editor, _l):
        r = await command(client, "planfirst.reloadPlan", {"planId": shipped.id})
        assert r["revision"] == 2, r
        reloaded = PlanStore(ws).load(shipped.id)
        assert any(f.rule == UNTRUSTED_RULE for f in reloaded.findings), (
            "the reload sealed a plan planfirst did not write as the user's"
        )
        editor.answer = "No"
        with pytest.raises(JsonRpcException, match="not approved"):
            await command(client, "planfirst.approvePlan", {"planId": shipped.id})
        assert any("Approve anyway" in q for q in editor.questions), editor.questions
        assert srv.requests == [] and editor.edits == []
    assert PlanStore(ws).load(shipped.id).status.value == "draft"
