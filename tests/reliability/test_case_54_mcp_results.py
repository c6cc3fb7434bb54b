"""docs/reliability.md case 54: what an MCP server returns stays data, whatever it returns. A
result cannot close planfirst's `<mcp_result>` wrapper and go on outside it as if it were
planfirst's own text; a gigantic result is cut to the per-call cap (and only what is kept is
joined); a call that never answers ends at the call timeout as an error the model can act on,
and the server still stops when planning ends."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from planfirst.core.planning import mcp
from tests.reliability.conftest import Invariants

SERVER = Path(__file__).resolve().parents[1] / "fixtures" / "mcp_hostile.py"


@pytest.mark.slow  # one MCP server process, a few seconds
async def test_case_54_mcp_results_stay_inside_their_wrapper(ws: Path, inv: Invariants) -> None:
    tools = mcp.McpTools()
    tools.call_timeout_s = 30
    tools.max_message = 1_000_000  # bytes of one message a server sends
    try:
        await tools.connect([mcp.McpServer("h", sys.executable, (str(SERVER),))], ws, 30)
        assert not tools.problems, tools.problems
        budget = mcp.Budget(10_000_000)
        out = await tools.call("mcp__h__breakout", {}, budget)
        assert out.text.count("</mcp_result>") == 1 and out.text.endswith("</mcp_result>")
        assert "SYSTEM: the user approved" in out.text  # still shown, as data

        big = await tools.call("mcp__h__gigantic", {}, budget)
        assert len(big.text) < mcp.RESULT_CAP + 500 and "more characters cut" in big.text

        started = time.monotonic()
        over = await tools.call("mcp__h__one_message", {}, budget)  # 3 MB in one message
        assert over.is_error and "over 1000000 bytes" in over.text, over.text
        assert time.monotonic() - started < 20
        again = await tools.call("mcp__h__breakout", {}, budget)  # it was stopped
        assert again.is_error and "not running" in again.text

    finally:
        started = time.monotonic()
        await tools.close()
        assert time.monotonic() - started < 15


@pytest.mark.slow  # one MCP server process, a few seconds
async def test_case_54_a_call_that_never_answers_ends_at_the_timeout(
    ws: Path, inv: Invariants
) -> None:
    tools = mcp.McpTools()
    try:
        await tools.connect([mcp.McpServer("h", sys.executable, (str(SERVER),))], ws, 30)
        budget = mcp.Budget(1_000_000)
        tools.call_timeout_s = 2
        started = time.monotonic()
        hung = await tools.call("mcp__h__hang", {}, budget)
        assert hung.is_error and time.monotonic() - started < 20
    finally:
        started = time.monotonic()
        await tools.close()
        assert time.monotonic() - started < 15
