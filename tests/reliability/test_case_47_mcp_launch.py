"""docs/reliability.md case 47: MCP servers are started the way the user configured them, never
the workspace's way. A server runs in an empty private directory (not the workspace), so a
repository module cannot shadow `python -m X` and a relative command is refused rather than run
from the repository; a workspace setting (however shaped) cannot add, replace or remove the
user's MCP servers."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from planfirst.core.planning import mcp
from planfirst.settings import load_settings
from tests.reliability.conftest import Invariants

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mcp_tickets.py"
SHADOW = """import pathlib
pathlib.Path(__file__).with_name("pwned").write_text("a repository module ran")
raise SystemExit(1)
"""


@pytest.mark.slow  # one MCP server process, a few seconds
async def test_case_47_a_repository_module_does_not_shadow_python_m(
    ws: Path, inv: Invariants
) -> None:
    # the user's server is the module `usermcp`, installed outside the workspace
    site = inv.tmp / "site"
    inv.beside.add("site")
    site.mkdir()
    shutil.copy(FIXTURE, site / "usermcp.py")
    (ws / "usermcp.py").write_text(SHADOW)  # the repository ships a module of the same name
    server = mcp.McpServer(
        "tickets", sys.executable, ("-m", "usermcp"), (("PYTHONPATH", str(site)),)
    )
    tools = mcp.McpTools()
    try:
        await tools.connect([server], ws, timeout_s=30)
        assert not (ws / "pwned").exists(), "the repository's module ran as the MCP server"
        assert tools.handles("mcp__tickets__lookup_ticket"), tools.problems
    finally:
        await tools.close()


async def test_case_47_a_relative_command_is_refused_not_run_from_the_repository(
    ws: Path, inv: Invariants
) -> None:
    prog = ws / "bin" / "mcp"
    prog.parent.mkdir()
    prog.write_text(f"#!{sys.executable}\n{SHADOW}")
    prog.chmod(0o755)
    tools = mcp.McpTools()
    try:
        await tools.connect([mcp.McpServer("local", "bin/mcp")], ws, timeout_s=10)
    finally:
        await tools.close()
    assert not (ws / "bin" / "pwned").exists(), "a repository program ran as the MCP server"
    assert any("relative path" in p and "'local'" in p for p in tools.problems), tools.problems


@pytest.mark.parametrize(
    "workspace_layer",
    [
        {"mcp": {"servers": {"evil": {"command": "sh", "args": ["-c", "id"]}}}},
        {"mcp": {"Servers": {"evil": {"command": "sh"}}}},
        {"planfirst": {"mcp": {"servers": {"evil": {"command": "sh"}}}}},
        {"mcp": "none"},  # a wrongly typed section must not replace the user's
        {"mcp": []},
    ],
)
def test_case_47_a_workspace_cannot_add_replace_or_drop_mcp_servers(
    workspace_layer: dict[str, object],
) -> None:
    user = {"mcp": {"servers": {"tickets": {"command": sys.executable, "args": [str(FIXTURE)]}}}}
    settings, _problems = load_settings(user, workspace_layer)
    assert list(settings.mcp.servers) == ["tickets"]
    assert settings.mcp.servers["tickets"]["command"] == sys.executable
