"""QA (qa9): the newest fixes in the orders real users meet them — a team repository's model
choice in an editor that pushes and pulls its configuration, a monorepo's generated .gitignore
over the ignore-file limits, and an ACP user who stops planning and asks again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

from planfirst.core.planning.context import gather_context
from planfirst.core.workspace.gitignore import MAX_IGNORE_RULES
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.plan.model import PlanStatus
from planfirst.plan.store import PlanStore
from planfirst.settings import ContextSettings
from tests.acp.conftest import agent
from tests.reliability.conftest import Invariants, inv, ws  # noqa: F401  (fixtures)
from tests.reliability.test_case_23_settings_trust import _count_configuration_pulls
from tests.reliability.test_step_edge_cases import plan_turn, step
from tests.support.lsp_harness import lsp_session
from tests.support.waiting import wait_until

DEARER = {"planningModel": "claude-mythos-5-2"}


@pytest.mark.e2e
async def test_an_ignored_workspace_model_is_said_once_per_change(ws: Path) -> None:  # noqa: F811
    """Neovim: the repository's settings pick a dearer planning model. Each
    didChangeConfiguration (the settings pushed, then pulled) showed the same warning twice, and
    an unrelated change (a cheaper execution model) showed it twice more: a popup storm for one
    setting the user was already told about."""
    async with lsp_session(ws, "neovim", init_options={"planfirst": {}}) as (client, _ed):
        pulls = _count_configuration_pulls(client)

        async def change(settings: dict[str, object]) -> None:
            client.set_configuration(settings, section="planfirst")
            before = pulls[0]
            client.workspace_did_change_configuration(
                types.DidChangeConfigurationParams(settings={"planfirst": settings})
            )
            await wait_until(lambda: pulls[0] > before, 30, "the configuration pull")

        def said() -> int:
            return sum("planningModel" in m.message for m in client.messages)

        await change(DEARER)
        await wait_until(lambda: said() >= 1, 30, "the warning")
        await change(DEARER)
        await change({**DEARER, "executionModel": "claude-haiku-5-5"})
        # a request round trip: every message sent before its answer has arrived
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="planfirst.listPlans", arguments=[{}])
        )
        assert said() == 1, [m.message for m in client.messages]
        await change({})  # the repository drops it, then sets it again: said again
        await change(DEARER)
        await wait_until(lambda: said() == 2, 30, "the warning again")


def test_a_gitignore_over_the_limit_is_named_in_the_context(ws: Path) -> None:  # noqa: F811
    """A monorepo's generated .gitignore of 12,000 lines: everything is taken as ignored (the
    safe side), but the plan's context was silently empty — no tree, no file, nothing left out —
    and the only word was a server log line. The context now names the file and the limit."""
    rules = [f"generated/pkg{i}/build/" for i in range(MAX_IGNORE_RULES + 2000)]
    (ws / ".gitignore").write_text("\n".join(rules) + "\n")
    ctx = gather_context(WorkspaceGuard(ws), "fix main", ContextSettings())
    assert not ctx.files  # still nothing shown
    notes = {c.path: c.reason for c in ctx.cut}
    assert ".gitignore" in notes, ctx.cut
    assert "10,000 lines" in notes[".gitignore"] and "ignored" in notes[".gitignore"]
    assert ".gitignore" in ctx.render()


S1 = step(1, ["textkit/slug.py"], what="Say `(one)` in slug.py.")


@pytest.mark.e2e
async def test_acp_a_new_prompt_after_a_cancel_while_planning_plans_again(
    ws: Path,  # noqa: F811
    inv: Invariants,  # noqa: F811
) -> None:
    """Zed: stopped while the plan streams in, the user asks again: a new plan is made, shown,
    and the removed one stays removed."""
    slow = dict(plan_turn([S1]))
    slow["delay_chunks"] = 1.0
    srv = inv.scripted_server([slow, plan_turn([S1])])
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        await a.new()
        turn = a.send("say one")
        await wait_until(lambda: ed.of("plan_update"), 30, "the plan streaming in")
        await a.conn.cancel(session_id=a.session_id)
        assert (await asyncio.wait_for(turn, 10)).stop_reason == "cancelled"
        gone = ed.of("plan_removed")[-1].plan_id
        res = await a.prompt("say one")
        assert res.stop_reason == "end_turn"
        plan_id = PlanStore(ws).active()
        assert plan_id is not None and plan_id != gone
        assert PlanStore(ws).load(plan_id).status != PlanStatus.FAILED
        assert ed.of("plan_update")[-1].plan.plan_id == plan_id
        assert [u.plan_id for u in ed.of("plan_removed")] == [gone]
