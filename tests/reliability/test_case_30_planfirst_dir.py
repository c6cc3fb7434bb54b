"""docs/reliability.md case 30: planfirst's own directory is checked like any path. A cloned
repository whose `.planfirst` is a symlink, or contains one (`plans/`, a plan directory, `active`),
gets a refusal naming the link; nothing is written, and nothing is read, outside the workspace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import Invariants, serve
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command


def _outside(inv: Invariants, name: str) -> Path:
    d = inv.tmp / name
    d.mkdir()
    inv.beside.add(name)
    return d


def _tree(d: Path) -> dict[str, bytes]:
    return {
        p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("link", [".planfirst", ".planfirst/plans"])
async def test_case_30_a_symlinked_planfirst_dir_is_refused(
    ws: Path, inv: Invariants, link: str
) -> None:
    target = _outside(inv, "elsewhere")
    (ws / link).parent.mkdir(parents=True, exist_ok=True)
    (ws / link).symlink_to(target, target_is_directory=True)
    srv = inv.scripted_server([plan_turn(one_step_plan(["pytest -q"]))])
    async with serve(inv, ws, srv) as (client, _editor, _ledger):
        with pytest.raises(JsonRpcException) as err:
            await command(client, "planfirst.generatePlan", {"task": "Document the title"})
        assert "symbolic link" in str(err.value) and link in str(err.value), str(err.value)
        assert err.value.data == {"reason": "store"}  # an editor branches on it (#31)
        rows = await command(client, "planfirst.listPlans", {})
        assert rows == []
        shown = " ".join(m.message for m in client.messages)
        assert "symbolic link" in shown, shown
    assert _tree(target) == {}, "planfirst wrote outside the workspace through the link"


async def test_case_30_links_inside_planfirst_are_never_followed(ws: Path, inv: Invariants) -> None:
    """A plan directory linked to one outside (whose plan would load), and `active` linked to a
    file outside: neither is read, written or shown as a plan."""
    # a real plan, made by planfirst, copied outside and linked back in under another id
    srv = inv.scripted_server([plan_turn(one_step_plan(["pytest -q"]))])
    async with serve(inv, ws, srv) as (client, _e, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document the title"}))[
            "planId"
        ]
    outside = _outside(inv, "other")
    shutil.copytree(ws / ".planfirst" / "plans" / pid, outside / pid)
    shutil.rmtree(ws / ".planfirst" / "plans" / pid)
    (ws / ".planfirst" / "plans" / pid).symlink_to(outside / pid, target_is_directory=True)
    (outside / "active").write_text(pid + "\n")
    (ws / ".planfirst" / "active").unlink(missing_ok=True)
    (ws / ".planfirst" / "active").symlink_to(outside / "active")
    inv.broken.add(ws / ".planfirst" / "plans" / pid / "plan.json")
    inv.broken.add(ws / ".planfirst" / "plans" / pid / "plan.md")
    before = _tree(outside)
    async with serve(inv, ws, inv.scripted_server([])) as (client, _e, _l):
        assert await command(client, "planfirst.listPlans", {}) == []
        for cmd, args in (
            ("planfirst.approvePlan", {"planId": pid}),
            ("planfirst.approvePlan", {}),
            ("planfirst.executeNextStep", {"planId": pid}),
        ):
            with pytest.raises(JsonRpcException) as err:
                await command(client, cmd, args)
            assert "symbolic link" in str(err.value) or "no active plan" in str(err.value), (
                cmd,
                str(err.value),
            )
        shown = " ".join(m.message for m in client.messages)
        assert "symbolic link" in shown and pid in shown, shown
    assert _tree(outside) == before, "planfirst wrote through a link inside .planfirst"
    assert json.loads((outside / pid / "plan.json").read_text())["status"] == "draft"
    plans, problems = PlanStore(ws).list()
    assert plans == [] and any("symbolic link" in p.error for p in problems)
