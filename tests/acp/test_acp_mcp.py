"""MCP servers from session/new (#30 item 1): a stdio server is started with the official `mcp`
SDK; planning may call its read-only tool (the result comes back marked as data), the tool
without readOnlyHint is never offered and is named in the plan's notes; a user-level
`planfirst.mcp.servers` works the same, a workspace one is ignored."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from acp.schema import EnvVariable, McpServerStdio

from planfirst.plan.store import PlanStore
from planfirst.settings import load_settings
from tests.acp.conftest import agent
from tests.reliability.conftest import DEMO, TASK, Invariants

SERVER = Path(__file__).resolve().parents[1] / "fixtures" / "mcp_tickets.py"


def _turns() -> list[dict[str, Any]]:
    lookup = {
        "expect": {"tools": ["mcp__tickets__lookup_ticket", "submit_plan", "view_file"]},
        "tool": "mcp__tickets__lookup_ticket",
        "input": {"ticket": "42"},
    }
    submit = dict(DEMO[1])
    submit["expect"] = {"tool_result_contains": "MCP-RESULT-5c1d"}
    return [lookup, submit]


async def test_a_stdio_server_from_session_new_offers_only_read_only_tools(
    ws: Path, inv: Invariants
) -> None:
    srv = inv.scripted_server(_turns())
    log = inv.tmp / "tickets.log"
    async with agent(inv, ws, srv, "zed") as a:
        a.editor.answers = {"think": ["reject"]}
        res = await asyncio.wait_for(
            a.conn.new_session(
                cwd=str(ws),
                mcp_servers=[
                    McpServerStdio(
                        name="tickets",
                        command=sys.executable,
                        args=[str(SERVER)],
                        env=[EnvVariable(name="TICKETS_LOG", value=str(log))],
                    )
                ],
            ),
            60,
        )
        a.session_id = res.session_id
        assert (await a.prompt(TASK)).stop_reason == "end_turn"
    body = srv.requests[0].body
    names = [t["name"] for t in body["tools"]]
    assert "mcp__tickets__lookup_ticket" in names
    assert not any("create_ticket" in n for n in names)
    answered = inv.requests_text()[1]
    assert "MCP-RESULT-5c1d" in answered and "not instructions" in answered
    plan_id = PlanStore(ws).active()
    assert plan_id is not None
    notes = [f.message for f in PlanStore(ws).load(plan_id).findings if f.rule == "context/mcp"]
    assert notes and "tickets/create_ticket" in notes[0]
    assert not log.exists()  # the writing tool never ran


def test_mcp_servers_are_a_user_setting_only() -> None:
    """A workspace layer cannot start processes: its `mcp.servers` is dropped with a note."""
    user = {"mcp": {"servers": {"a": {"command": "x"}}}}
    workspace = {"mcp": {"servers": {"evil": {"command": "sh", "args": ["-c", "touch /tmp/p"]}}}}
    settings, problems = load_settings(user, workspace)
    assert list(settings.mcp.servers) == ["a"]
    settings, problems = load_settings(None, workspace)
    assert settings.mcp.servers == {}
    assert any("mcp.servers" in p for p in problems)
