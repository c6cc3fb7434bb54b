"""Revisions and the step state machine end consistent (#29 items 1-3, 6, 7): undo follows the
order edits landed, Reload keeps an applied step applied, a busy step is named for what it is,
a refused revision still counts what it cost, and a plan.md with merge conflict markers is
refused. End to end through the real server with the scripted model (the case 22 invariants
are checked after each, see conftest.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import Invariants, serve
from tests.reliability.test_step_edge_cases import (
    ORIG_SLUG,
    approved,
    done,
    edit,
    plan_turn,
    snapshot,
    step,
)
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until

SLUG = "textkit/slug.py"
ONE = '"""URL slugs (one)."""\n'
TWO = '"""URL slugs (one) (two)."""\n'


def _new_step_before_step_1(text: str, what: str) -> str:
    """plan.md with a step of the user's own (no id comment) put before step 1."""
    at = text.index("### Step 1")
    mine = f"### Step 1\n\n{what}\n\n- Modify: `{SLUG}`\n- Validation:\n  - `pytest -q tests/test_slug.py`\n\n"
    return text[:at] + mine + text[at:].replace("### Step 1", "### Step 2", 1)


async def test_item_01_undo_follows_the_order_edits_were_applied(ws: Path, inv: Invariants) -> None:
    """1. Step 1 is done; the user adds a step before it in plan.md (same file), reloads,
    approves and executes it. The reload says what that means for undo; undo (no step) then
    reverts the new step first, then the old one, back to the exact bytes. Undoing the old one
    first is refused naming the new one (it was applied after it)."""
    srv = inv.scripted_server(
        [
            plan_turn([step(1, [SLUG], what="Say `(one)` in the docstring of `textkit/slug.py`.")]),
            edit(SLUG, ORIG_SLUG, ONE),
            done(),
            edit(SLUG, ONE, TWO),
            done(),
        ]
    )
    before = snapshot(ws)
    async with serve(inv, ws, srv, profile="neovim") as (client, _e, _l):
        pid = await approved(client)
        assert (await command(client, "planfirst.executeNextStep", {"planId": pid}))[
            "status"
        ] == "done"
        md = PlanStore(ws).plan_md(pid)
        md.write_text(
            _new_step_before_step_1(md.read_text(), "Add `(two)` to the docstring as well."),
            encoding="utf-8",
        )
        res = await command(client, "planfirst.reloadPlan", {"planId": pid})
        assert res["undoOrder"] and "undo it before step 2" in res["undoOrder"][0], res
        assert "undo it before step 2" in md.read_text()
        plan = PlanStore(ws).load(pid)
        assert [s.id for s in plan.body.steps] == ["s2", "s1"]
        assert plan.state(2).status.value == "done"
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert (r["step"], r["status"]) == (1, "done"), r
        assert (ws / SLUG).read_text().startswith(TWO)
        listed = (await command(client, "planfirst.listPlans", {}))[0]["stepList"]
        assert [s["undoable"] for s in listed] == [True, False]
        with pytest.raises(JsonRpcException, match=r"step 1 was applied after it; undo step 1"):
            await command(client, "planfirst.undoStep", {"planId": pid, "step": 2})
        u = await command(client, "planfirst.undoStep", {"planId": pid})
        assert (u["step"], u["status"]) == (1, "undone"), u
        assert (ws / SLUG).read_text().startswith(ONE)
        u = await command(client, "planfirst.undoStep", {"planId": pid})
        assert (u["step"], u["status"]) == (2, "undone"), u
    assert srv.failures == []
    assert snapshot(ws) == before


async def test_item_01_a_redo_on_top_of_a_newer_step_is_undone_in_layers(
    ws: Path, inv: Invariants
) -> None:
    """1. (layers) Step s1 is done (edit a); a revision adds a step before it and changes s1
    (needs redo). The new step runs (edit b), then s1 again on top (edit c). Undo reverts c
    only (s1's edit a is below b) and says so, then b, then a: every undo restores exactly the
    text before its edit."""
    three = '"""URL slugs (one) (two) (three)."""\n'
    first = step(1, [SLUG], what="Say `(one)` in the docstring of `textkit/slug.py`.")
    revised = plan_turn(
        [
            step(1, [SLUG], what="Add `(two)` to the docstring of `textkit/slug.py`."),
            {**step(2, [SLUG], what="Then add `(three)` to it as well."), "id": "s1"},
        ]
    )
    srv = inv.scripted_server(
        [
            plan_turn([first]),
            edit(SLUG, ORIG_SLUG, ONE),
            done(),
            revised,
            edit(SLUG, ONE, TWO),
            done(),
            edit(SLUG, TWO, three),
            done(),
        ]
    )
    before = snapshot(ws)
    async with serve(inv, ws, srv, profile="neovim") as (client, _e, _l):
        pid = await approved(client)
        assert (await command(client, "planfirst.executeNextStep", {"planId": pid}))[
            "status"
        ] == "done"
        rev = await command(
            client, "planfirst.revisePlan", {"planId": pid, "feedback": "two, then three"}
        )
        assert rev["needsRedo"] == [2] and "undo it before step 2" in rev["undoOrder"][0], rev
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        for n in (1, 2):
            r = await command(client, "planfirst.executeNextStep", {"planId": pid})
            assert (r["step"], r["status"]) == (n, "done"), r
        assert (ws / SLUG).read_text().startswith(three)
        u = await command(client, "planfirst.undoStep", {"planId": pid})
        assert u["step"] == 2 and "undo step 1, then step 2 again" in u["message"], u
        assert (ws / SLUG).read_text().startswith(TWO)
        assert PlanStore(ws).load(pid).state(2).status.value == "pending"
        for n, text_now in ((1, ONE), (2, ORIG_SLUG)):
            u = await command(client, "planfirst.undoStep", {"planId": pid})
            assert (u["step"], u["status"]) == (n, "undone"), u
            assert (ws / SLUG).read_text().startswith(text_now)
    assert srv.failures == []
    assert snapshot(ws) == before


async def test_item_02_reload_keeps_an_applied_step_and_execute_only_validates(
    ws: Path, inv: Invariants
) -> None:
    """2. A step's validation is cancelled, so it is `applied`; the user fixes its validation
    command in plan.md and reloads: the step stays `applied`, and Execute validates the edit on
    disk with the new command — no model call, no second review."""
    slow = 'python -c "import time; time.sleep(30)"'
    srv = inv.scripted_server(
        [
            plan_turn([step(1, [SLUG], what="Say `(one)` in the docstring.", check=slow)]),
            edit(SLUG, ORIG_SLUG, ONE),
            done(),
        ]
    )
    async with serve(inv, ws, srv, profile="neovim") as (client, editor, _l):
        pid = await approved(client)
        run = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        store = PlanStore(ws)
        await wait_until(
            lambda: (
                store.load(pid).state(1).status.value == "applied"
                and (ws / SLUG).read_text().startswith(ONE)
            ),
            60,
            "the edit to be applied",
        )
        await asyncio.sleep(0.5)  # the validation command has started
        await command(client, "planfirst.cancel", {"planId": pid})
        with pytest.raises(JsonRpcException, match="cancel"):
            await run
        assert store.load(pid).state(1).status.value == "applied"
        md = store.plan_md(pid)
        md.write_text(md.read_text().replace(slow, "pytest -q tests/test_slug.py"))
        await command(client, "planfirst.reloadPlan", {"planId": pid})
        plan = store.load(pid)
        assert plan.state(1).status.value == "applied"
        assert plan.body.steps[0].validation == ["pytest -q tests/test_slug.py"]
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        calls, edits = len(srv.requests), len(editor.edits)
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert (r["step"], r["status"]) == (1, "done"), r
        assert len(srv.requests) == calls and len(editor.edits) == edits
        runs = store.load(pid).state(1).runs
        assert [x.outcome for x in runs] == ["applied"]
        assert [v.command for v in runs[0].validation] == ["pytest -q tests/test_slug.py"]
    assert srv.failures == []


async def test_item_03_revising_while_a_step_runs_names_it_running(
    ws: Path, inv: Invariants
) -> None:
    """3. Revise while the model works on a step: refused, and the words fit a running step
    (not "its edit is applied but not validated")."""
    srv = inv.scripted_server(
        [
            plan_turn([step(1, [SLUG], what="Say `(one)` in the docstring.")]),
            {**edit(SLUG, ORIG_SLUG, ONE), "delay": 5},
            done(),
        ]
    )
    async with serve(inv, ws, srv, profile="neovim") as (client, _e, _l):
        pid = await approved(client)
        run = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        store = PlanStore(ws)
        await wait_until(
            lambda: store.load(pid).state(1).status.value == "running", 30, "the running step"
        )
        with pytest.raises(JsonRpcException) as err:
            await command(client, "planfirst.revisePlan", {"planId": pid, "feedback": "smaller"})
        assert "step 1 is running" in str(err.value), err.value
        assert "applied but not validated" not in str(err.value)
        assert (await run)["status"] == "done"
    assert srv.failures == []
