"""e2e through the LSP server with the real SDK: answers shaped like the live API's (an empty or
whitespace-only text block before a tool call, parallel tool calls in one message), replayed
into the next request, which the scripted server checks with the live API's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.support.demo_script import DEMO  # the critique is off in tests
from tests.support.lsp_harness import command, lsp_session, write_script

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


async def test_deprecated_model_warns_and_retired_model_is_refused(
    workspace: Path, tmp_path: Path
) -> None:
    """Through the LSP server: the scripted Models API says the planning model is deprecated (the
    user sees a warning naming a current model) and the execution model is retired (the step is
    refused before any Messages call, naming a current choice)."""
    script = tmp_path / "script.json"
    deprecated = {
        "base": "claude-opus-5",
        "lifecycle": "deprecated",
        "retires_at": "2027-03-01T00:00:00Z",
    }
    script.write_text(json.dumps({"turns": DEMO[:2], "models": {"claude-opus-5": deprecated}}))
    options = {"planningModel": "claude-opus-5", "executionModel": "claude-sonnet-4-5"}
    async with lsp_session(workspace, "vscode", script, init_options=options) as (client, editor):
        res = await command(client, "planfirst.generatePlan", {"task": TASK})
        warnings = [m.message for m in client.messages if "deprecated" in m.message]
        assert len(warnings) == 1, [m.message for m in client.messages]
        assert "'claude-opus-5' is deprecated and retires on 2027-03-01" in warnings[0]
        assert "'claude-opus-5-5'" in warnings[0]
        await command(client, "planfirst.approvePlan", {"planId": res["planId"]})
        with pytest.raises(JsonRpcException) as err:
            await command(client, "planfirst.executeNextStep", {"planId": res["planId"]})
        assert "'claude-sonnet-4-5' is retired" in str(err.value)
        assert "'claude-sonnet-5-5'" in str(err.value)
        assert editor.edits == []


async def test_retry_wait_is_shown_and_errors_name_the_request_id(
    workspace: Path, tmp_path: Path
) -> None:
    """A 429 asking for a 1 s wait is retried after that wait, and the progress says so; a spend
    limit (by its error code) is not retried and its message names the request-id."""
    turns = [
        {"fault": {"status": 429, "retry_after": 1}},
        *DEMO[:2],
        {"fault": {"status": 429, "error_code": "enforced_spend_limit_reached", "message": "x"}},
        {"text": "never reached"},
    ]
    script = write_script(tmp_path, turns)
    async with lsp_session(workspace, "vscode", script) as (client, _editor):
        await command(client, "planfirst.generatePlan", {"task": TASK})
        reports = [
            getattr(r, "message", "") or "" for seq in client.progress_reports.values() for r in seq
        ]
        assert any("rate limited (429); retrying in 1 s" in m for m in reports), reports
        with pytest.raises(JsonRpcException) as err:
            await command(client, "planfirst.generatePlan", {"task": TASK + " again"})
    message = str(err.value)
    assert "spend limit reached (429 enforced_spend_limit_reached)" in message
    assert "[request-id req_scripted_" in message
