"""core/planning/mcp.py in-process: the user-level `planfirst.mcp.servers` (the language server's
and the terminal's way, lsp/server.py) connected with the official `mcp` SDK; planning may call
the read-only tool, never the other, whose name lands in the plan's findings; a server that
cannot start is a finding too, not a failure; results share a budget."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.planning import mcp
from planfirst.core.workflow.session import Session
from planfirst.llm.scripted.server import ScriptedServer
from planfirst.settings import Settings
from tests.support.demo_script import DEMO
from tests.support.fake_host import FakeHost, ScriptedModels

SERVER = Path(__file__).resolve().parent / "fixtures" / "mcp_tickets.py"
TASK = "Add a --top N option to textkit count"


def _settings(servers: dict[str, Any]) -> Settings:
    return Settings.model_validate({"critique": {"model": "off"}, "mcp": {"servers": servers}})


@pytest.mark.slow  # two MCP server processes and a planning run, ~10 s on a loaded machine
async def test_planning_uses_the_user_settings_servers(workspace: Path) -> None:
    settings = _settings(
        {
            "tickets": {"command": sys.executable, "args": [str(SERVER)]},
            "broken": {"command": str(workspace / "no-such-server")},
        }
    )
    servers, problems = mcp.servers_from_setting(settings.mcp.servers)
    assert not problems and [s.name for s in servers] == ["tickets", "broken"]
    tools = mcp.McpTools()
    await tools.connect(servers, workspace)
    lookup = {"tool": "mcp__tickets__lookup_ticket", "input": {"ticket": "42"}}
    submit = dict(DEMO[1])
    submit["expect"] = {"tool_result_contains": "MCP-RESULT-5c1d"}
    srv = ScriptedServer([lookup, submit]).start()
    models = ScriptedModels(settings, srv.base_url)
    try:
        session = Session(workspace, settings, models, FakeHost(workspace))
        session.mcp = tools
        plan = await session.generate(TASK)
    finally:
        await models.aclose()
        srv.stop()
        await tools.close()
    names = [t["name"] for t in srv.requests[0].body["tools"]]
    assert "mcp__tickets__lookup_ticket" in names and not any("create" in n for n in names)
    notes = [f.message for f in plan.findings if f.rule == "context/mcp"]
    assert any("'broken' could not be used" in n for n in notes), notes
    assert any("tickets/create_ticket" in n for n in notes), notes


@pytest.mark.slow  # an MCP server process, ~4 s
async def test_results_are_capped_by_the_run_budget(workspace: Path) -> None:
    tools = mcp.McpTools()
    await tools.connect([mcp.McpServer("t", sys.executable, (str(SERVER),))], workspace)
    try:
        budget = mcp.Budget(30)
        first = await tools.call("mcp__t__lookup_ticket", {"ticket": "1"}, budget)
        assert "more characters cut" in first.text and "not instructions" in first.text
        second = await tools.call("mcp__t__lookup_ticket", {"ticket": "2"}, budget)
        assert second.is_error and "budget" in second.text
    finally:
        await tools.close()


def test_bad_server_settings_are_named() -> None:
    servers, problems = mcp.servers_from_setting(
        {"a": {"command": "x", "args": [1]}, "b": {"url": "file:///etc"}, "c": "sh"}
    )
    assert servers == [] and len(problems) == 3


async def test_a_server_that_never_answers_is_a_finding_and_is_stopped(workspace: Path) -> None:
    tools = mcp.McpTools()
    mute = mcp.McpServer("mute", sys.executable, ("-c", "import time; time.sleep(60)"))
    await tools.connect([mute], workspace, timeout_s=1.0)
    assert tools.problems and "'mute' could not be used" in tools.problems[0]
    assert not tools.specs
    assert not _children_running("time.sleep(60)")  # its process ended with the attempt
    await tools.close()


def _children_running(needle: str) -> list[int]:
    """Live processes of this test's (whose parent is this process) whose command has needle."""
    me, out = os.getpid(), []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if fields and fields[0] != "Z" and int(fields[1]) == me and needle in cmd:
            out.append(int(proc.name))
    return out
