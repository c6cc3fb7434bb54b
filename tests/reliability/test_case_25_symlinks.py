"""docs/reliability.md case 25: a symlink to a secret is that secret on every read path, end to
end through LSP with the scripted model; the five invariants (case 22) are checked after it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import CANARY, Invariants, serve
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command


async def test_case_25_symlink_to_a_secret_is_that_secret(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 25: `docs/settings.txt -> ../.env` is the `.env` on every read
    path: context asked for by the user, exploration (view, list, search), and a plan step
    that names it (the execution prompt). The canary never reaches the model."""
    (ws / "docs").mkdir()
    (ws / "docs" / "settings.txt").symlink_to(Path("..") / ".env")
    no_canary = {"not_contains": [CANARY]}
    body = one_step_plan(["pytest -q tests/test_slug.py"], path="docs/settings.txt")
    srv = inv.scripted_server(
        [
            {"tool": "view_file", "input": {"path": "docs/settings.txt"}, "expect": no_canary},
            {"tool": "list_dir", "input": {"path": "docs"}, "expect": no_canary},
            {"tool": "search_text", "input": {"pattern": "canary"}, "expect": no_canary},
            {**plan_turn(body), "expect": {"not_contains": [CANARY, "settings.txt/"]}},
            # the step is never sent: if it were, this turn would receive the prompt
            {"text": "done", "expect": no_canary},
        ]
    )
    async with serve(inv, ws, srv, init_options={"planning": {"lintFeedback": False}}) as (
        client,
        _editor,
        _l,
    ):
        pid = (
            await command(
                client,
                "planfirst.generatePlan",
                {"task": "Explain the settings", "files": ["docs/settings.txt"]},
            )
        )["planId"]
        plan = PlanStore(ws).load(pid)
        assert "docs/settings.txt" not in {e.path for e in plan.provenance.included}
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        with pytest.raises(JsonRpcException, match="never reads"):
            await command(client, "planfirst.executeNextStep", {"planId": pid})
    assert srv.failures == [], srv.failures
    assert len(srv.requests) == 4, "the step was sent to the model"
