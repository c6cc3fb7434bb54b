"""Cost (#19) through the language server: approvePlan's preview answers the estimate for a
model without approving; approvePlan {executionModel} approves on that model; lenses and hover
show the estimate; the model is used for the step. Real server over stdio, scripted model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import types

from planfirst.plan.store import PlanStore
from tests.support.demo_script import DEMO  # the critique is off in tests
from tests.support.lsp_harness import command, lsp_session, write_script
from tests.support.waiting import wait_until


def _get(obj: Any, key: str) -> Any:
    """A field of a notification's params (a dict, or the object pygls made of it)."""
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


TASK = "Add a --top N option to textkit count"
CHOSEN = "claude-haiku-4-5"


async def test_preview_then_approve_on_a_chosen_model(workspace: Path, tmp_path: Path) -> None:
    first_step = {**DEMO[2], "expect": {**DEMO[2].get("expect", {}), "model": CHOSEN}}
    script = write_script(tmp_path, [*DEMO[:2], first_step, *DEMO[3:]])
    async with lsp_session(workspace, "vscode", script) as (client, editor):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        uri = f"planfirst:/plans/{pid}.md"
        doc = types.TextDocumentIdentifier(uri=uri)
        lenses = await client.text_document_code_lens_async(types.CodeLensParams(text_document=doc))
        titles = [x.command.title for x in lenses if x.command]
        assert any(t.startswith("✓ Approve plan (est. $") for t in titles), titles
        assert sum(t.startswith("$ est. $") for t in titles) == 3, titles

        default = await command(client, "planfirst.approvePlan", {"planId": pid, "preview": True})
        cheap = await command(
            client,
            "planfirst.approvePlan",
            {"planId": pid, "preview": True, "executionModel": CHOSEN},
        )
        assert default["preview"] and cheap["estimate"]["model"] == CHOSEN
        assert cheap["estimate"]["high"] < default["estimate"]["high"]
        assert [s["order"] for s in cheap["estimate"]["steps"]] == [1, 2, 3]
        # the choices: the set models and the newest of each family, each with its range
        choices = {c["model"]: (c["low"], c["high"]) for c in default["choices"]}
        assert {"claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5"} <= set(choices)
        assert choices["claude-haiku-5-5"][1] < choices["claude-opus-5-5"][1]
        assert PlanStore(workspace).load(pid).status.value == "draft"  # a preview approves nothing

        res = await command(
            client, "planfirst.approvePlan", {"planId": pid, "executionModel": CHOSEN}
        )
        assert res["status"] == "approved" and res["executionModel"] == CHOSEN
        assert res["estimate"]["model"] == CHOSEN
        await command(client, "planfirst.executeNextStep", {"planId": pid})
        plan = PlanStore(workspace).load(pid)
        assert plan.execution_model == CHOSEN
        assert {r.model for r in plan.state(1).runs} == {CHOSEN}
        symbols = await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=doc)
        )
        steps = next(x for x in symbols if x.name == "Steps")
        hov = await client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=steps.children[0].range.start)
        )
        assert hov is not None and "cost: $" in hov.contents.value
        assert f"on {CHOSEN}" in hov.contents.value

        # the status bar's notification carries what was spent and the estimate
        def costs() -> list[Any]:
            return [_get(st, "cost") for st in editor.statuses if _get(st, "done") == 1]

        await wait_until(
            lambda: any(_get(c, "model") == CHOSEN for c in costs()),
            10,
            "a planfirst/status with the cost after step 1",
        )
        assert _get(costs()[-1], "spent") >= plan.usage.cost_usd > 0
        text = PlanStore(workspace).plan_md(pid).read_text()
        assert "**Estimated cost:** " in text and f" on {CHOSEN} " in text
