"""QA of #32 through the LSP server (a real process, pytest-lsp): plan.md is written on the
background writer after a step's last save. Moments after a step answers, plan.md on disk
shows it; Show Plan, a hand edit reloaded, an undo and a second window reading the plan all see the
plan as it is on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from planfirst.plan.render import render
from planfirst.plan.store import PlanStore
from tests.reliability.conftest import DEMO, Invariants, serve
from tests.reliability.test_step_edge_cases import approved
from tests.support.lsp_harness import command


async def _settled(md_path: Path, store: PlanStore, pid: str) -> str:
    """plan.md once the server's writer has written it (it follows the step's answer)."""
    for _ in range(200):
        md = md_path.read_text(encoding="utf-8")
        if md == render(store.load(pid)).text:
            return md
        await asyncio.sleep(0.01)
    raise AssertionError("plan.md does not follow plan.json")


async def test_right_after_a_step_plan_md_show_reload_undo_and_a_second_window(
    ws: Path, inv: Invariants
) -> None:
    srv = inv.scripted_server(DEMO[0:7])
    store = PlanStore(ws)
    async with serve(inv, ws, srv, profile="neovim") as (a, _editor_a, _la):
        pid = await approved(a)
        md_path = store.plan_md(pid)
        async with serve(inv, ws, srv, profile="vscode") as (b, _editor_b, _lb):
            await command(b, "planfirst.listPlans")  # the second window has read the plan
            r1 = await command(a, "planfirst.executeNextStep", {"planId": pid})
            assert r1["step"] == 1 and r1["status"] == "done", r1
            # plan.md read from the disk as the step answered, once the writer wrote it
            md = await _settled(md_path, store, pid)
            assert "**Steps:** 1/3 done" in md
            # the other window is told (its client's file watcher) and follows
            b.workspace_did_change_watched_files(
                types.DidChangeWatchedFilesParams(
                    changes=[
                        types.FileEvent(
                            uri=store.plan_json(pid).resolve().as_uri(),
                            type=types.FileChangeType.Changed,
                        )
                    ]
                )
            )
            rows = {r["id"]: r for r in await command(b, "planfirst.listPlans")}
            assert rows[pid]["status"] == "executing", rows[pid]
            await command(b, "planfirst.showPlan", {"planId": pid})
            assert md_path.read_text(encoding="utf-8") == md
        await command(a, "planfirst.showPlan", {"planId": pid})  # Show Plan: nothing rewritten
        assert md_path.read_text(encoding="utf-8") == md
        # undo right after the step: plan.md follows before the answer
        await command(a, "planfirst.undoStep", {"planId": pid, "step": 1})
        undone = md_path.read_text(encoding="utf-8")
        assert undone == render(store.load(pid)).text and "**Steps:** 0/3 done" in undone
        # a hand edit of plan.md, reloaded at once
        md_path.write_text(
            undone.replace("## Risks", "## Risks\n\n- QA: a risk typed by hand\n", 1),
            encoding="utf-8",
        )
        got = await command(a, "planfirst.reloadPlan", {"planId": pid})
        assert got["revision"] == 2, got
        plan = store.load(pid)
        assert "QA: a risk typed by hand" in plan.body.risks
        assert md_path.read_text(encoding="utf-8") == render(plan).text
    assert srv.failures == []
