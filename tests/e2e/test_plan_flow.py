"""e2e phase 1: generate (progress, document, persistence, provenance), revise, approve,
code lenses / symbols / hover, the selection code action, secrets never sent, cancellation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.support.demo_script import DEMO  # the critique is off in tests
from tests.support.lsp_harness import command, lsp_session, write_script
from tests.support.waiting import wait_until

PLAN_TURNS = DEMO[:2]
PLAN_INPUT = DEMO[1]["input"]
TASK = "Add a --top N option to textkit count"


def revised_plan() -> dict[str, Any]:
    """The demo plan with one more risk (what a revision returns)."""
    p = json.loads(json.dumps(PLAN_INPUT))
    p["risks"].append("Large files: `top_words` sorts every word once, O(n log n).")
    return p


@pytest.mark.parametrize("profile", ["vscode", "neovim"])
async def test_generate_revise_approve(workspace: Path, tmp_path: Path, profile: str) -> None:
    script = write_script(
        tmp_path,
        [
            *PLAN_TURNS,
            {
                "expect": {"contains": ["<feedback>", "performance", "<previous_plan_revision>"]},
                "tool": "submit_plan",
                "input": revised_plan(),
            },
        ],
    )
    async with lsp_session(workspace, profile, script) as (client, _editor):
        res = await command(client, "planfirst.generatePlan", {"task": TASK})
        pid = res["planId"]
        store = PlanStore(workspace)
        plan = store.load(pid)
        assert plan.status.value == "draft" and plan.complete
        assert len(plan.steps) == 3
        # provenance: hashes of every file given to the model, including the explored one
        assert "textkit/cli.py" in plan.provenance.context_files
        assert all(len(h) == 64 for h in plan.provenance.context_files.values())
        assert plan.provenance.planning_model
        assert plan.usage.calls >= 2 and plan.usage.input_tokens > 0
        # progress from the first moment to the end
        reports = [r for seq in client.progress_reports.values() for r in seq]
        kinds = [getattr(r, "kind", None) for r in reports]
        assert kinds[0] == "begin" and kinds[-1] == "end"
        messages = " ".join(getattr(r, "message", "") or "" for r in reports)
        assert "gathering context" in messages
        if profile == "vscode":
            assert res["uri"] == f"planfirst:/plans/{pid}.md"
            assert any(d.uri == res["uri"] for d in client.shown_documents)
            text = (
                await client.workspace_text_document_content_async(
                    types.TextDocumentContentParams(uri=res["uri"])
                )
            ).text
        else:
            assert res["uri"].endswith(f"/.planfirst/plans/{pid}/plan.md")
            text = store.plan_md(pid).read_text()
        assert "### Step 1" in text and "`pytest -q tests/test_wordcount.py`" in text

        # code lenses and symbols on the plan document
        lenses = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=res["uri"]))
        )
        titles = [lens.command.title for lens in lenses if lens.command]
        assert any("Approve" in t for t in titles)
        symbols = await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=res["uri"]))
        )
        names = [s.name for s in symbols]
        assert "Steps" in names
        steps = next(s for s in symbols if s.name == "Steps")
        assert len(steps.children) == 3
        hov = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=res["uri"]),
                position=steps.children[0].range.start,
            )
        )
        assert hov is not None and "Step 1" in hov.contents.value

        # revise: revision 2, history kept
        with pytest.raises(JsonRpcException, match="feedback is empty"):
            await command(client, "planfirst.revisePlan", {"planId": pid})
        rev = await command(
            client, "planfirst.revisePlan", {"planId": pid, "feedback": "mention performance risks"}
        )
        assert rev["revision"] == 2
        assert store.revisions(pid) == [1]
        plan2 = store.load(pid)
        assert any("O(n log n)" in r for r in plan2.body.risks)
        assert plan2.feedback == ["mention performance risks"]

        # approve
        ok = await command(client, "planfirst.approvePlan", {"planId": pid})
        assert ok["status"] == "approved"
        rows = await command(client, "planfirst.listPlans")
        assert rows[0]["status"] == "approved" and rows[0]["active"]


async def test_code_action_on_selection_plans_with_that_file(
    workspace: Path, tmp_path: Path
) -> None:
    turns = [dict(PLAN_TURNS[0]), PLAN_TURNS[1]]
    turns[0]["expect"] = {"contains": ['<file path="textkit/slug.py"', "selection"]}
    script = write_script(tmp_path, turns)
    async with lsp_session(workspace, "vscode", script) as (client, editor):
        uri = (workspace / "textkit" / "slug.py").resolve().as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri,
                    language_id="python",
                    version=1,
                    text=(workspace / "textkit" / "slug.py").read_text(),
                )
            )
        )
        rng = types.Range(
            start=types.Position(line=6, character=0), end=types.Position(line=10, character=0)
        )
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        action = next(a for a in actions if "Plan a change" in a.title)
        args = dict(action.command.arguments[0])
        assert args["uri"] == uri
        # the VS Code extension fills in the task from an input box
        args["task"] = TASK
        res = await command(client, action.command.command, args)
        plan = PlanStore(workspace).load(res["planId"])
        assert "textkit/slug.py" in plan.provenance.context_files
        assert any(e.reason.startswith("selection") for e in plan.provenance.included)
        # without a task, a client that cannot prompt is offered common tasks
        editor.answer = None
        with pytest.raises(JsonRpcException, match="no task chosen"):
            await command(
                client,
                "planfirst.generatePlan",
                {"uri": uri, "range": json.loads(json.dumps(args["range"]))},
            )
        assert editor.questions


async def test_secrets_and_ignored_files_never_sent(workspace: Path, tmp_path: Path) -> None:
    (workspace / "build").mkdir()
    (workspace / "build" / "leak.py").write_text("IGNORED_CANARY = 'ignored-7c1b'\n")
    (workspace / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY----- key-canary-99\n")
    turns = [
        {
            "expect": {"not_contains": ["canary-5f0d6c1e", "ignored-7c1b", "key-canary-99"]},
            "tool": "view_file",
            "input": {"path": ".env"},
        },
        {
            "expect": {"tool_result_error": True, "not_contains": ["canary-5f0d6c1e"]},
            "tool": "view_file",
            "input": {"path": "build/leak.py"},
        },
        {
            "expect": {"tool_result_error": True, "not_contains": ["ignored-7c1b"]},
            "tool": "submit_plan",
            "input": PLAN_INPUT,
        },
    ]
    script = write_script(tmp_path, turns)
    async with lsp_session(workspace, "vscode", script) as (client, _):
        res = await command(
            client,
            "planfirst.generatePlan",
            {
                "task": TASK + " (see .env and build/leak.py and id_rsa)",
                "files": [".env", "id_rsa"],
            },
        )
        plan = PlanStore(workspace).load(res["planId"])
        cut = {e.path for e in plan.provenance.cut}
        assert ".env" in cut and "id_rsa" in cut
        assert ".env" not in plan.provenance.context_files
    for f in (workspace / ".planfirst").rglob("*"):
        if f.is_file():
            text = f.read_text(errors="replace")
            assert "canary-5f0d6c1e" not in text and "key-canary-99" not in text


async def test_cancel_mid_generation_saves_nothing(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, [{"delay": 30, "tool": "submit_plan", "input": PLAN_INPUT}])
    async with lsp_session(workspace, "vscode", script) as (client, _):
        task = asyncio.ensure_future(command(client, "planfirst.generatePlan", {"task": TASK}))
        await wait_until(lambda: client.progress_reports, 30, "the plan's progress to begin")
        res = await command(client, "planfirst.cancel", {})
        assert len(res["cancelled"]) == 1
        with pytest.raises(JsonRpcException) as info:
            await asyncio.wait_for(task, 10)
        assert info.value.code == -32800  # RequestCancelled
        assert await command(client, "planfirst.listPlans") == []
    assert not (workspace / ".planfirst" / "plans").exists() or not any(
        (workspace / ".planfirst" / "plans").iterdir()
    )


async def test_reload_edited_markdown(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, PLAN_TURNS)
    async with lsp_session(workspace, "neovim", script) as (client, _):
        res = await command(client, "planfirst.generatePlan", {"task": TASK})
        pid = res["planId"]
        store = PlanStore(workspace)
        md = store.plan_md(pid)
        text = md.read_text()
        md.write_text(
            text.replace(
                "  - `pytest -q tests/test_cli.py`",
                "  - `pytest -q tests/test_cli.py`\n  - `ruff check textkit`",
            )
        )
        out = await command(client, "planfirst.reloadPlan", {"planId": pid})
        assert out["revision"] == 2
        assert store.load(pid).body.step(2).validation == [
            "pytest -q tests/test_cli.py",
            "ruff check textkit",
        ]
        # a broken edit is reported with its line and changes nothing
        md.write_text(
            store.plan_md(pid)
            .read_text()
            .replace("- Modify: `textkit/cli.py`", "- Modify: `textkit/elsewhere.py`")
        )
        with pytest.raises(JsonRpcException, match=r"line \d+"):
            await command(client, "planfirst.reloadPlan", {"planId": pid})
        assert store.load(pid).revision == 2
