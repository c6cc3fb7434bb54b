"""e2e: the server starts, lists stored plans, serves plan documents, falls back to the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.support.lsp_harness import command, lsp_session
from tests.support.plan_fixtures import make_plan


async def test_list_and_content_vscode(workspace: Path) -> None:
    plan = make_plan()
    PlanStore(workspace).save(plan)
    async with lsp_session(workspace, "vscode") as (client, _editor):
        rows = await command(client, "planfirst.listPlans")
        assert [r["id"] for r in rows] == [plan.id]
        assert rows[0]["status"] == "draft" and rows[0]["steps"]["total"] == 3
        res = await client.workspace_text_document_content_async(
            types.TextDocumentContentParams(uri=f"planfirst:/plans/{plan.id}.md")
        )
        assert res.text.startswith("# Plan: Add --top")
        shown = await command(client, "planfirst.showPlan", {"planId": plan.id})
        assert shown["uri"] == f"planfirst:/plans/{plan.id}.md"
        assert client.shown_documents[-1].uri == shown["uri"]


async def test_initialize_advertises_content_scheme(workspace: Path) -> None:
    async with lsp_session(workspace, "vscode") as (_client, editor):
        assert editor.init_result is not None
        caps = editor.init_result.capabilities
        assert list(caps.workspace.text_document_content.schemes) == ["planfirst"]
        assert "planfirst.generatePlan" in caps.execute_command_provider.commands


async def test_show_plan_falls_back_to_markdown_file(workspace: Path) -> None:
    plan = make_plan()
    PlanStore(workspace).save(plan)
    async with lsp_session(workspace, "legacy") as (client, _):
        shown = await command(client, "planfirst.showPlan", {"planId": plan.id})
        md = PlanStore(workspace).plan_md(plan.id)
        assert shown["uri"] == md.resolve().as_uri()
        assert client.shown_documents[-1].uri == md.resolve().as_uri()


async def test_bad_settings_reported_defaults_used(workspace: Path) -> None:
    async with lsp_session(
        workspace,
        "vscode",
        init_options={"planfirst": {"maxTokens": "lots", "executionModel": "m"}},
    ) as (client, _):
        await command(client, "planfirst.listPlans")
        msgs = [m.message for m in client.messages]
        assert any("maxTokens" in m for m in msgs), msgs


async def test_corrupt_plan_reported_at_startup(workspace: Path) -> None:
    plan = make_plan()
    store = PlanStore(workspace)
    store.save(plan)
    store.plan_json(plan.id).write_text("{not json")
    async with lsp_session(workspace, "vscode") as (client, _):
        assert await command(client, "planfirst.listPlans") == []
        assert any("not valid JSON" in m.message for m in client.messages)
    assert store.plan_json(plan.id).read_text() == "{not json"


async def test_missing_key_is_a_message_not_a_crash(workspace: Path) -> None:
    async with lsp_session(workspace, "vscode", None) as (client, editor):
        await command(client, "planfirst.listPlans")
        # the extension declares notices: the warning comes with its reason (no_key)
        assert any(
            n["reason"] == "no_key" and "ANTHROPIC_API_KEY" in n["message"] for n in editor.notices
        )
        with pytest.raises(JsonRpcException, match="ANTHROPIC_API_KEY"):
            await command(client, "planfirst.generatePlan", {"task": "do something"})
        assert await command(client, "planfirst.listPlans") == []
