"""docs/reliability.md case 36: every file planfirst writes under its folder is checked like a plan
file. A pulled commit plants `.planfirst/plans/<id>/step-1-attempt-1.diff` (the preview document
planfirst writes for Neovim and other editors without virtual documents) as a symbolic link to a
file in the user's home, or as a FIFO; `.planfirst/active` and the plans folder's `plan.md` as a
FIFO or a link. Nothing is written through the link, the server never blocks on the FIFO, the
step's edit is not sent, and the refusal names the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore, StoreError
from tests.reliability.conftest import Invariants, serve
from tests.reliability.test_untrusted_model import README_EDIT, one_step_plan, plan_turn
from tests.support.lsp_harness import command

BASHRC = "export PATH=$HOME/bin:$PATH\n"


def _home(inv: Invariants) -> Path:
    home = inv.tmp / "home"
    home.mkdir()
    (home / ".bashrc").write_text(BASHRC)
    inv.beside.add("home")
    return home


@pytest.mark.parametrize("planted", ["symlink", "fifo"])
async def test_case_36_a_planted_preview_file_is_never_written_through(
    ws: Path, inv: Invariants, planted: str
) -> None:
    home = _home(inv)
    readme = (ws / "README.md").read_bytes()
    srv = inv.scripted_server(
        [plan_turn(one_step_plan(["pytest -q tests/test_slug.py"])), README_EDIT, {"text": "done"}]
    )
    async with serve(inv, ws, srv, profile="neovim") as (client, editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        doc = ws / ".planfirst" / "plans" / pid / "step-1-attempt-1.diff"
        if planted == "symlink":
            doc.symlink_to(home / ".bashrc")
        else:
            os.mkfifo(doc)
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] != "done", r
        why = "symbolic link" if planted == "symlink" else "not a regular file"
        assert why in r["message"] and "step-1-attempt-1.diff" in r["message"], r
        assert editor.edits == [], "the step's edit was sent although no preview was shown"
        # the server still answers
        assert [p["id"] for p in await command(client, "planfirst.listPlans", {})] == [pid]
    assert (home / ".bashrc").read_text() == BASHRC, "planfirst wrote through the planted link"
    assert (ws / "README.md").read_bytes() == readme
    assert doc.is_symlink() if planted == "symlink" else not doc.is_file()


async def test_case_36_a_fifo_where_planfirst_reads_its_own_state_never_blocks(
    ws: Path, inv: Invariants
) -> None:
    """`.planfirst/active`, the step history and a plan's plan.md as FIFOs (a reader blocks on
    a FIFO until a writer comes): the server answers, the state reads as absent or is refused."""
    home = _home(inv)
    srv = inv.scripted_server([plan_turn(one_step_plan(["pytest -q tests/test_slug.py"]))])
    async with serve(inv, ws, srv) as (client, _e, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
    (ws / ".planfirst" / "active").unlink(missing_ok=True)
    os.mkfifo(ws / ".planfirst" / "active")
    os.mkfifo(ws / ".planfirst" / "history.json")
    md = ws / ".planfirst" / "plans" / pid / "plan.md"
    md.unlink()
    md.symlink_to(home / ".bashrc")
    inv.broken.add(md)
    store = PlanStore(ws)
    assert store.active() is None and store.step_history() == []
    with pytest.raises(StoreError, match="not a regular file"):
        store.write_file(ws / ".planfirst" / "history.json", "[]\n")
    async with serve(inv, ws, inv.scripted_server([])) as (client, _e, _l):
        rows = await command(client, "planfirst.listPlans", {})
        assert [p["id"] for p in rows] == [pid]
        with pytest.raises(JsonRpcException) as err:
            await command(client, "planfirst.reloadPlan", {"planId": pid})
        assert "symbolic link" in str(err.value), str(err.value)
    assert (home / ".bashrc").read_text() == BASHRC


async def test_case_36_a_plan_md_replaced_by_a_link_while_its_write_waits(
    ws: Path, inv: Invariants
) -> None:
    """plan.md is written a moment after the change (debounced). A link put in its place
    meanwhile is never written through, and the user is told once that plan.md was not
    written (it is what Neovim and Emacs users read)."""
    import asyncio

    from planfirst.core.workflow.session import Session
    from planfirst.settings import Settings
    from tests.support.demo_script import DEMO
    from tests.support.fake_host import FakeHost, ScriptedModels

    srv = inv.scripted_server(list(DEMO))
    settings = Settings.model_validate({"critique": {"model": "off"}})
    models = ScriptedModels(settings, srv.base_url)
    host = FakeHost(ws)
    session = Session(ws, settings, models, host)
    target = inv.sentinel / "config"
    try:
        plan = await session.generate("Add a --top N option to textkit count")
        await session.approve(plan.id)
        md = session.store.plan_md(plan.id)
        running = asyncio.ensure_future(session.execute_next(plan.id))
        for _ in range(1000):  # until a plan.md write waits
            if plan.id in session._md_timers:
                break
            await asyncio.sleep(0.005)
        md.unlink()
        md.symlink_to(target)
        inv.broken.add(md)  # the link is the test's: the invariants do not parse it
        result = await running
        assert result.status.value == "done", result
        # plan.md follows the step's answer on the writer (docs/performance.md), and a refused
        # write comes back to the session's loop: let both happen
        await asyncio.to_thread(session.store.settle)
        for _ in range(2):
            await asyncio.sleep(0)
    finally:
        await models.aclose()
    assert target.read_text() == "untouched\n"
    assert md.is_symlink()
    told = [m for level, m in host.notes if "plan.md" in m]
    assert len(told) == 1 and "symbolic link" in told[0], host.notes
