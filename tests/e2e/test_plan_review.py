"""e2e issue 10: a vague plan is flagged on the plan document before approval; the findings go
back to the model once; a revision that fixes them clears the diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.support.demo_script import DEMO  # the critique is off in tests
from tests.support.lsp_harness import command, lsp_session, write_script
from tests.support.waiting import wait_until

GOOD = DEMO[1]["input"]
VAGUE = {
    "summary": "Improve counting.",
    "files_to_modify": [
        {"path": "textkit/wordcount.py", "changes": "update the logic", "depends_on": []},
        {"path": "textkit/missing.py", "changes": "update it too", "depends_on": []},
    ],
    "files_to_create": [],
    "dependency_changes": {
        "packages": [{"name": "regex", "version": "", "manager": "pip"}],
        "config": [],
    },
    "steps": [
        {
            "order": 1,
            "description": "update the counting logic",
            "files_to_modify": ["textkit/wordcount.py", "textkit/missing.py"],
            "validation": [],
        },
    ],
    "test_criteria": ["it works better"],
    "risks": [],
    "assumptions": [],
}


@pytest.mark.parametrize("profile", ["vscode", "neovim"])
async def test_vague_plan_flagged_then_fixed(workspace: Path, tmp_path: Path, profile: str) -> None:
    script = write_script(
        tmp_path,
        [
            {"tool": "submit_plan", "input": VAGUE},
            {
                "expect": {"contains": ["plan review found these problems", "step-no-validation"]},
                "tool": "submit_plan",
                "input": VAGUE,
            },
            {"expect": {"contains": ["<feedback>"]}, "tool": "submit_plan", "input": GOOD},
        ],
    )
    async with lsp_session(workspace, profile, script) as (client, editor):
        res = await command(client, "planfirst.generatePlan", {"task": "improve counting"})
        pid, uri = res["planId"], res["uri"]
        plan = PlanStore(workspace).load(pid)
        rules = {f.rule for f in plan.findings}
        assert {
            "step-no-validation",
            "step-vague",
            "modify-missing-file",
            "criteria-not-checkable",
            "dependency-no-version",
        } <= rules
        await wait_until(lambda: uri in client.diagnostics, 30, "the plan's diagnostics")
        diags = client.diagnostics[uri]
        assert {d.code for d in diags} >= {"step-no-validation", "modify-missing-file"}
        step_diag = next(d for d in diags if d.code == "step-no-validation")
        text = PlanStore(workspace).plan_md(pid).read_text()
        assert text.split("\n")[step_diag.range.start.line].startswith("### Step 1")
        assert "**Review:**" in text  # summarised in the header
        # approving a plan with errors asks first; "No" keeps it a draft
        editor.answer = "No"
        with pytest.raises(JsonRpcException, match="review error"):
            await command(client, "planfirst.approvePlan", {"planId": pid})
        assert any("Approve anyway" in q for q in editor.questions)
        # a revision that fixes the plan clears the diagnostics
        await command(
            client,
            "planfirst.revisePlan",
            {"planId": pid, "feedback": "name the functions and add checks"},
        )
        await wait_until(
            lambda: (
                not [d for d in client.diagnostics.get(uri, []) if d.severity and d.severity <= 2]
            ),
            30,
            "the revision's diagnostics to clear the errors",
        )
        editor.answer = "Yes"
        assert (await command(client, "planfirst.approvePlan", {"planId": pid}))[
            "status"
        ] == "approved"
