"""Two language servers on one workspace (two editor windows, or an editor and `planfirst run`):
what one of them says about a plan the other one runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import DEMO, Invariants, serve
from tests.reliability.test_step_edge_cases import approved
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until


async def test_cancel_in_the_other_window_says_where_the_step_runs(
    ws: Path, inv: Invariants
) -> None:
    """Window A runs step 1 (its preview open). Cancel in window B answered
    `{"cancelled": []}`: nothing happened and nothing said why. It is refused, naming where the
    plan runs; A's step then finishes normally."""
    srv = inv.scripted_server(DEMO[0:7])
    async with serve(inv, ws, srv, profile="vscode") as (a, editor_a, _la):
        pid = await approved(a)
        editor_a.hold = asyncio.Event()
        step1 = asyncio.ensure_future(command(a, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(editor_a.edits) >= 1, 60, "step 1's preview in window A")
        async with serve(inv, ws, srv, profile="vscode") as (b, _editor_b, _lb):
            with pytest.raises(JsonRpcException, match="another planfirst"):
                await command(b, "planfirst.cancel", {"planId": pid})
        editor_a.hold.set()
        res = await asyncio.wait_for(step1, 120)
        assert (res["step"], res["status"]) == (1, "done")
    assert PlanStore(ws).claimed(pid) is None


async def test_the_plans_view_follows_a_plan_another_planfirst_changed(
    ws: Path, inv: Invariants
) -> None:
    """VS Code shows a draft; another planfirst (the terminal, the ACP agent, a second window)
    approves it. The editor's Plans view and status bar kept saying "draft": its server only
    published changes it made itself. It now asks the client to watch the plan files and
    publishes a change another process made as its own."""
    from lsprotocol import types

    srv = inv.scripted_server(DEMO[0:2])
    async with serve(inv, ws, srv, profile="vscode-1.100") as (a, editor_a, _la):
        pid = (await command(a, "planfirst.generatePlan", {"task": "Add a --top N option"}))[
            "planId"
        ]
        await wait_until(lambda: bool(editor_a.registrations), 10, "the watch registration")
        (reg,) = editor_a.registrations
        assert reg.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
        async with serve(inv, ws, srv, profile="vscode") as (b, _editor_b, _lb):
            await command(b, "planfirst.approvePlan", {"planId": pid, "force": True})
        seen = len(editor_a.statuses)
        # what VS Code's file watcher reports for the registered glob
        plan_json = PlanStore(ws).plan_json(pid).resolve()
        a.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=plan_json.as_uri(), type=types.FileChangeType.Changed)]
            )
        )
        await wait_until(
            lambda: any(s.get("status") == "approved" for s in editor_a.statuses[seen:]),
            10,
            "the editor's status to say approved",
        )
        rows = {r["id"]: r for r in await command(a, "planfirst.listPlans")}
        assert rows[pid]["status"] == "approved"
