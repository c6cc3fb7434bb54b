"""docs/reliability.md case 32: secrets in command output are redacted, end to end."""

from __future__ import annotations

from pathlib import Path

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import CANARY, Invariants, serve
from tests.reliability.red_team import edit_turn
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command

LEAKY_TEST = """\
import os


def test_leaks_secrets():
    env = open(os.path.join(os.path.dirname(__file__), "..", ".env")).read()
    token = "ghp" + "-leak-" + "7f3a9c2e"
    assert False, "config was: " + env + " token " + token
"""


async def test_case_32_secrets_in_command_output_are_redacted(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 32: a failing test that prints the `.env` content and a token
    held in a variable scrubbed from the command environment: neither value reaches the retry
    request, the plan file or the log; `[redacted]` stands in their place."""
    token = "ghp-leak-7f3a9c2e"
    (ws / "tests" / "test_leak.py").write_text(LEAKY_TEST)
    body = one_step_plan(["python -m pytest -q tests/test_leak.py"])
    readme_edit = edit_turn("README.md", "# textkit", "# textkit\n\nSee `count --top N`.")
    clean = {"not_contains": [CANARY, token]}
    srv = inv.scripted_server(
        [
            plan_turn(body),
            readme_edit,
            {"text": "done"},
            # the retry request carries the failing output, redacted
            {"text": "I cannot fix this test.", "expect": {**clean, "contains": ["[redacted]"]}},
        ]
    )
    opts = {"execution": {"maxAttempts": 2}}
    async with serve(inv, ws, srv, init_options=opts, env={"GITHUB_TOKEN": token}) as (
        client,
        _editor,
        _l,
    ):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "failed", r
        output = PlanStore(ws).load(pid).state(1).runs[0].validation[0].output
    assert srv.failures == [], srv.failures
    assert "config was:" in output and "[redacted]" in output and token not in output
    for f in [*(ws / ".planfirst").rglob("*"), *inv.logs]:
        if f.is_file():
            assert token not in f.read_text(errors="replace"), f


# docs/reliability.md case 27: every example from the red-team pass, plus siblings.
