"""docs/reliability.md case 28: prose in test criteria never runs, end to end."""

from __future__ import annotations

from pathlib import Path

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import Invariants, serve
from tests.reliability.red_team import edit_turn
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command


async def test_case_28_prose_in_criteria_never_runs(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 28: "Do not run `make deploy` until …" never runs `make deploy`;
    the plan document shows the one criterion that runs, and only that one runs."""
    (ws / "Makefile").write_text("deploy:\n\ttouch DEPLOYED\n")
    body = one_step_plan(["pytest -q tests/test_slug.py"])
    body["test_criteria"] = [
        "Do not run `make deploy` until a maintainer has reviewed the change",
        "`make deploy` must not run before the release",
        "`pytest -q tests/test_slug.py` passes",
    ]
    readme_edit = edit_turn("README.md", "# textkit", "# textkit\n\nSee `count --top N`.")
    srv = inv.scripted_server([plan_turn(body), readme_edit, {"text": "done"}])
    async with serve(inv, ws, srv) as (client, _editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        md = (ws / ".planfirst" / "plans" / pid / "plan.md").read_text()
        assert "> Runs after the last step: `pytest -q tests/test_slug.py`." in md
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "done", r
        plan = PlanStore(ws).load(pid)
    assert [v.command for v in plan.final_validation] == ["pytest -q tests/test_slug.py"]
    assert not (ws / "DEPLOYED").exists(), "prose in a test criterion ran `make deploy`"
