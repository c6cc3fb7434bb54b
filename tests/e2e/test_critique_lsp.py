"""e2e #20 through the language server: the critic's finding that the tightening round did not
fix is a diagnostic at the step's line, its hover shows the evidence and the fix, "Apply the
critic's fix" revises the plan with that finding, and approving with it asks first."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.support.demo_script import DEMO_WITH_CRITIQUE, editor_scripts
from tests.support.lsp_harness import command, lsp_session, write_script
from tests.support.waiting import wait_until

END = editor_scripts().planning_end(DEMO_WITH_CRITIQUE)
EXPLORE, FLAWED = DEMO_WITH_CRITIQUE[0], DEMO_WITH_CRITIQUE[1]
SEARCH, FINDING, TIGHTENED, _CLEAN = DEMO_WITH_CRITIQUE[2:END]
TASK = "Add a --top N option to textkit count"
CRITIQUE_ON = {"critique": {"model": ""}}  # "": the planning model (the tests default to off)


def _script() -> list[dict]:
    stubborn = copy.deepcopy(TIGHTENED)  # the tightening round keeps the mistake
    stubborn["input"] = FLAWED["input"]
    again = copy.deepcopy(FINDING)
    again.pop("expect")
    fixed = {
        "note": "the code action's revision: the finding is the feedback",
        "expect": {
            "contains": ["<feedback>", "Apply this fix from the plan review", "print_counts"]
        },
        "tool": "submit_plan",
        "input": TIGHTENED["input"],
    }
    clean = {"expect": {"tools": ["submit_critique"]}, "tool": "submit_critique"}
    clean["input"] = {"findings": []}
    return [EXPLORE, FLAWED, SEARCH, FINDING, stubborn, again, fixed, clean]


@pytest.mark.parametrize("profile", ["vscode", "neovim"])
async def test_critique_finding_diagnostic_hover_and_fix(
    workspace: Path, tmp_path: Path, profile: str
) -> None:
    script = write_script(tmp_path, _script())
    async with lsp_session(workspace, profile, script, init_options=CRITIQUE_ON) as (
        client,
        editor,
    ):
        res = await command(client, "planfirst.generatePlan", {"task": TASK})
        pid, uri = res["planId"], res["uri"]
        store = PlanStore(workspace)
        text = store.plan_md(pid).read_text()
        lines = text.split("\n")
        await wait_until(lambda: uri in client.diagnostics, 30, "the plan's diagnostics")
        diags = [d for d in client.diagnostics[uri] if d.source == "planfirst/critique"]
        assert len(diags) == 1
        d = diags[0]
        assert d.code == "critique/wrong-assumption"
        assert d.severity == types.DiagnosticSeverity.Error
        assert lines[d.range.start.line].startswith("### Step 2")
        assert "print_counts" in d.message and "fix: Print the rows" in d.message
        assert "**Critique:** 1 finding(s), 1 error(s)" in text

        doc = types.TextDocumentIdentifier(uri=uri)
        hov = await client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=d.range.start)
        )
        assert hov is not None
        value = hov.contents.value
        assert "Critic — error" in value and "textkit/cli.py:21-23" in value
        assert "no match" in value and "fix: Print the rows" in value

        # approving with the critic's error asks first; "No" keeps the draft
        editor.answer = "No"
        with pytest.raises(JsonRpcException, match="review error"):
            await command(client, "planfirst.approvePlan", {"planId": pid})
        assert any("1 from the critic" in q for q in editor.questions)

        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=doc,
                range=d.range,
                context=types.CodeActionContext(diagnostics=[d]),
            )
        )
        fix = next(a for a in actions if a.title.startswith("Apply the critic's fix"))
        assert fix.kind == types.CodeActionKind.QuickFix and fix.command is not None
        assert fix.command.command == "planfirst.revisePlan"
        assert fix.command.arguments[0]["steps"] == [2]  # a revision of that step only
        await command(client, fix.command.command, fix.command.arguments[0])
        plan = store.load(pid)
        assert plan.revision == 2 and "print_counts" not in plan.body.model_dump_json()
        assert [f for f in plan.findings if f.source == "critique"] == []
        assert plan.provenance.critique is not None
        await wait_until(
            lambda: (
                not [x for x in client.diagnostics.get(uri, []) if x.source == "planfirst/critique"]
            ),
            30,
            "the critic's diagnostic to clear",
        )
        # no code action once the finding is gone
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=doc, range=d.range, context=types.CodeActionContext(diagnostics=[])
            )
        )
        assert not [a for a in actions or [] if "critic" in a.title]
        editor.answer = None
        assert (await command(client, "planfirst.approvePlan", {"planId": pid}))[
            "status"
        ] == "approved"
