"""docs/reliability.md case 29: nothing from the workspace, the model or a command's output freezes
the server: hovers on a plan document keep being answered while each of the three is processed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import Invariants, serve
from tests.reliability.red_team import edit_turn, hovers_during, progress_text, step_line
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command

NOISE = """\
import sys

for i in range(300):  # lines that make the old problem-parser regexes quadratic
    print("  1:1  error x" + " " * 480 + "!")
print("NOISE-DONE", flush=True)
sys.exit(1)
"""


async def test_case_29_problem_parsing_never_freezes(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 29: failing output whose lines make the problem parsers'
    regexes quadratic is parsed off the event loop with lines cut to a bounded length: hovers
    on the plan document are answered while it is parsed."""
    (ws / "noise.py").write_text(NOISE)
    (ws / "Makefile").write_text("noise:\n\t@python3 noise.py\n")
    body = one_step_plan(["make noise"])
    readme_edit = edit_turn("README.md", "# textkit", "# textkit\n\nSee `count --top N`.")
    srv = inv.scripted_server(
        [plan_turn(body), readme_edit, {"text": "done"}, {"text": "cannot fix"}]
    )
    opts = {"execution": {"maxAttempts": 2}}
    async with serve(inv, ws, srv, init_options=opts) as (client, _editor, _l):
        res = await command(client, "planfirst.generatePlan", {"task": "Document --top"})
        await command(client, "planfirst.approvePlan", {"planId": res["planId"], "force": True})
        step = asyncio.ensure_future(
            command(client, "planfirst.executeNextStep", {"planId": res["planId"]})
        )
        await hovers_during(
            client,
            res["uri"],
            step_line(ws, res["planId"]),
            started=lambda: any("NOISE-DONE" in m.message for m in client.log_messages),
            finished=lambda: (
                any("validation failed" in m.message for m in client.messages) or step.done()
            ),
            what="parsing the failing output",
        )
        assert (await step)["status"] == "failed"


def _search_data(ws: Path) -> None:
    """24 MB of 27-space lines: a search takes seconds even in linear time (off the loop)."""
    line = " " * 27 + "\n"
    (ws / "data").mkdir()
    for i in range(24):
        (ws / "data" / f"blank{i:02}.txt").write_text(line * (1_000_000 // len(line)))


async def _plan_then_search(
    ws: Path, inv: Invariants, search: dict[str, Any], prepare: Callable[[], None]
) -> None:
    """Plan A; then `prepare()` the workspace and plan B, whose model searches with `search`:
    hovers on plan A's document are answered while B gathers context and searches."""
    body = one_step_plan(["pytest -q tests/test_slug.py"])
    srv = inv.scripted_server(
        [plan_turn(body), {"tool": "search_text", "input": search}, plan_turn(body)]
    )
    async with serve(inv, ws, srv) as (client, _editor, _l):
        res = await command(client, "planfirst.generatePlan", {"task": "Document --top"})
        prepare()
        before = progress_text(client).count("gathering context")
        second = asyncio.ensure_future(
            command(client, "planfirst.generatePlan", {"task": "Document --top again"})
        )
        await hovers_during(
            client,
            res["uri"],
            step_line(ws, res["planId"]),
            started=lambda: progress_text(client).count("gathering context") > before,
            finished=lambda: len(srv.requests) >= 3 or second.done(),
            what="gathering context and searching",
        )
        await second
    assert srv.failures == [], srv.failures


@pytest.mark.timeout(120)
async def test_case_29_search_pattern_never_freezes(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 29: the model's search pattern `(?:\\s|\\s)*$x` (17 s per
    27-space line in Python's `re`) is matched in linear time: hovers keep being answered."""
    await _plan_then_search(ws, inv, {"pattern": r"(?:\s|\s)*$x"}, lambda: _search_data(ws))


@pytest.mark.timeout(120)
async def test_case_29_gitignore_line_never_freezes(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 29: the .gitignore line `*a*a*a*a*a*a*a*a*b` against a long
    name (seconds per name for a backtracking matcher) costs nothing while the tree is walked."""

    def prepare() -> None:
        _search_data(ws)
        (ws / ".gitignore").write_text("*a*a*a*a*a*a*a*a*b\n")
        (ws / "names").mkdir()
        (ws / "names" / ("a" * 44 + "0")).write_text("x\n")

    await _plan_then_search(ws, inv, {"pattern": "no such text anywhere"}, prepare)
