"""e2e through the LSP server with the real SDK: answers shaped like the live API's (an empty or
whitespace-only text block before a tool call, parallel tool calls in one message), replayed
into the next request, which the scripted server checks with the live API's rules."""

from __future__ import annotations

import json
from pathlib import Path

from planfirst.plan.store import PlanStore
from tests.lsp_harness import command, lsp_session, write_script

DEMO = json.loads((Path(__file__).resolve().parents[2] / "examples" / "scripts" / "demo.json").read_text())["turns"]
TASK = "Add a --top N option to textkit count"


def live_shaped_turns() -> list[dict]:
    """The demo script with empty/whitespace text blocks before tool calls (planning, a single
    call and parallel calls in execution)."""
    turns = json.loads(json.dumps(DEMO))
    turns[0]["text"] = ""  # planning: thinking, an empty text block, then view_file
    turns[2]["text"] = ""  # step 1: one edit after an empty text block
    assert len(turns[3]["tools"]) >= 2
    turns[3]["text"] = " \n"  # step 1: parallel edits after a whitespace-only block
    assert len(turns[7]["tools"]) >= 2
    turns[7]["text"] = ""  # step 2: parallel edits after an empty text block
    return turns


async def test_empty_text_blocks_and_parallel_tool_calls(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, live_shaped_turns())
    async with lsp_session(workspace, "vscode", script) as (client, _editor):
        res = await command(client, "planfirst.generatePlan", {"task": TASK})
        pid = res["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        for order in (1, 2, 3):
            r = await command(client, "planfirst.executeNextStep", {"planId": pid})
            assert r["step"] == order and r["status"] == "done", r
    plan = PlanStore(workspace).load(pid)
    assert plan.status.value == "done"
    # both parallel edits of step 2 landed
    cli = (workspace / "textkit" / "cli.py").read_text()
    assert "top_words" in cli and "--top" in cli
