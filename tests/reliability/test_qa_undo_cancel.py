"""Undo cancelled while its preview is open, then applied anyway (QA across the step state
machine: the undo counterpart of case 13, tests/reliability/test_step_edge_cases.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import DEMO, Invariants, serve
from tests.reliability.test_step_edge_cases import approved, snapshot
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until


async def test_undo_applied_after_cancel_is_recorded(ws: Path, inv: Invariants) -> None:
    """Step 1 is done; the user runs Undo, cancels while its preview is open, then clicks Apply
    in the preview that stayed open (pygls never cancels the applyEdit request). The disk is
    back to the text before step 1, so plan.json must say step 1 is undone: it said `done` with
    its edit applied, the plan ran on as if the edit were there ("all steps done") and Undo
    refused ("changed since the step was applied")."""
    srv = inv.scripted_server([*DEMO[:7]])  # planning and step 1 (with its retry)
    before = snapshot(ws)
    async with serve(inv, ws, srv, profile="vscode") as (client, editor, _l):
        pid = await approved(client)
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert (res["step"], res["status"]) == (1, "done")
        edits = len(editor.edits)
        editor.hold = asyncio.Event()
        undo = asyncio.ensure_future(command(client, "planfirst.undoStep", {"planId": pid}))
        await wait_until(lambda: len(editor.edits) > edits, 60, "the undo's preview")
        assert (await command(client, "planfirst.cancel", {"planId": pid}))["cancelled"] == [pid]
        with pytest.raises(JsonRpcException, match="cancelled"):
            await undo
        editor.hold.set()  # the user clicks Apply in the preview that stayed open

        def undone() -> bool:
            st = PlanStore(ws).load(pid).state(1)
            return st.status.value == "undone" and st.last_run is not None

        await wait_until(undone, 30, "the late undo to be recorded")
        await wait_until(lambda: snapshot(ws) == before, 10, "the disk sync")
        rows = {r["id"]: r for r in await command(client, "planfirst.listPlans")}
        assert rows[pid]["steps"]["done"] == 0
    assert snapshot(ws) == before
