"""Validation in the client's terminal (acp/terminal.py, #30 item 7): the client's terminal
shows the command, but planfirst decides what runs and with which environment; a client whose
terminal fails gets the command run by planfirst itself."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from acp.schema import ClientCapabilities

from planfirst.acp.host import AcpHost
from planfirst.plan.store import PlanStore
from tests.acp.conftest import agent
from tests.acp.harness import Editor, capabilities
from tests.reliability.conftest import DEMO, TASK, Invariants

CANARY = "terminal-canary-0b7e"


async def test_the_client_terminal_gets_planfirsts_argv_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The editor's own environment holds a token: the command never sees it; a `;` in an
    argument reaches the program as it is (no shell); a timeout kills the terminal."""
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)  # in the editor's environment
    ed = Editor(tmp_path, "zed")
    host = AcpHost(ed, "s1", tmp_path, capabilities("zed"))
    host.step = "step 1"
    run = host.command_runner()
    assert run is not None
    code = "import os, sys; print(os.environ.get('GITHUB_TOKEN', 'absent'), sys.argv[1])"
    res = await run(
        [sys.executable, "-c", code, "a; touch pwned"], tmp_path, timeout_s=30, output_cap=10_000
    )
    assert res.exit_code == 0, res.output
    assert res.output.strip() == "absent a; touch pwned"
    assert not (tmp_path / "pwned").exists()
    assert len(ed.terminals) == 1 and ed.released == ["term-1"]
    res = await run(
        [sys.executable, "-c", "import time; time.sleep(30)"], tmp_path, timeout_s=1, output_cap=100
    )
    assert res.timed_out and res.exit_code is None
    await host.outbox.close()


async def test_without_a_client_terminal_planfirst_runs_the_command(tmp_path: Path) -> None:
    ed = Editor(tmp_path, "zed")
    ed.terminals_work = False
    host = AcpHost(ed, "s1", tmp_path, capabilities("zed"))
    run = host.command_runner()
    assert run is not None
    res = await run([sys.executable, "-c", "print('ran')"], tmp_path, timeout_s=30, output_cap=100)
    assert res.exit_code == 0 and res.output.strip() == "ran" and not ed.terminals
    assert AcpHost(ed, "s2", tmp_path, ClientCapabilities()).command_runner() is None
    await host.outbox.close()


async def test_a_failing_terminal_falls_back_and_the_plan_finishes(
    ws: Path, inv: Invariants
) -> None:
    srv = inv.scripted_server(DEMO[0:12])
    ed = Editor(ws, "zed")
    ed.terminals_work = False
    async with agent(inv, ws, srv, "zed", editor=ed) as a:
        ed.answers = {"think": ["approve"]}
        await a.new()
        assert (await a.prompt(TASK)).stop_reason == "end_turn"
    plan_id = PlanStore(ws).active()
    assert plan_id is not None and PlanStore(ws).load(plan_id).status.value == "done"
    checks = [c for c in ed.tool_calls().values() if c.get("kind") == "execute"]
    assert "test_top_words_ties" in checks[0]["content"][0].content.text
