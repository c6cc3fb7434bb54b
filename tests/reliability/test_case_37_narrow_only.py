"""docs/reliability.md case 37: a workspace setting can only narrow what the user set. The user
excludes `notes/**` from what the model sees; the workspace's settings (pulled through
`workspace/configuration` and pushed with `didChangeConfiguration`) say `"context.exclude": []`
and add `build/**`, try to turn off the review rule for edits to trust files, and raise the
exploration turns. The user's exclusion holds (the workspace's is added), the rule stays, the
turns stay capped, and the user is told what was ignored."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from planfirst.plan.store import PlanStore
from planfirst.settings import load_settings
from tests.reliability.conftest import Invariants, serve
from tests.reliability.test_case_23_settings_trust import _count_configuration_pulls
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until

PRIVATE = "private-note-4471-do-not-share"
BUILD = "build-output-9921"


async def test_case_37_a_workspace_cannot_widen_what_the_user_narrowed(
    ws: Path, inv: Invariants
) -> None:
    (ws / "notes").mkdir()
    (ws / "notes" / "salaries.md").write_text(f"# Salaries\n\n{PRIVATE}\n")
    (ws / "build").mkdir()
    (ws / "build" / "out.txt").write_text(f"{BUILD}\n")
    body = one_step_plan(["pytest -q tests/test_slug.py"], path=".vscode/settings.json")
    body["files_to_modify"] = []
    body["files_to_create"] = [{"path": ".vscode/settings.json", "purpose": "x", "exports": []}]
    body["steps"][0]["files_to_modify"] = []
    body["steps"][0]["files_to_create"] = [".vscode/settings.json"]
    explore = [
        {"tool": "view_file", "input": {"path": "notes/salaries.md"}},
        {"tool": "search_text", "input": {"pattern": "do-not-share"}},
        {"tool": "view_file", "input": {"path": "build/out.txt"}},
    ]
    srv = inv.scripted_server([*explore, plan_turn(body)])
    user = {
        "context": {"exclude": ["notes/**"]},
        "planning": {"maxExploreTurns": 3, "lintFeedback": False},
    }
    workspace = {
        "context": {"exclude": ["build/**"]},
        "lint": {"disabled": ["protected-file", "no-risks"]},
        "planning": {"maxExploreTurns": 50},
    }
    async with serve(inv, ws, srv, init_options=user) as (client, _editor, _l):
        pulls = _count_configuration_pulls(client)
        client.set_configuration(workspace, section="planfirst")
        before = pulls[0]
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"planfirst": {"context": {"exclude": []}}})
        )
        await wait_until(lambda: pulls[0] > before, 30, "the configuration pull")
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document the title"}))[
            "planId"
        ]
        sent = "\n".join(inv.requests_text())
        assert PRIVATE not in sent, "a file the user excluded went to the model"
        assert BUILD not in sent, "the workspace's own exclusion was not applied"
        await wait_until(
            lambda: any("maxExploreTurns" in m.message for m in client.messages),
            30,
            "the warning about the ignored workspace settings",
        )
        shown = " ".join(m.message for m in client.messages)
    assert "planfirst.planning.maxExploreTurns" in shown and "protected-file" in shown, shown
    plan = PlanStore(ws).load(pid)
    assert any(f.rule == "protected-file" for f in plan.findings), plan.findings


async def test_case_37_a_wrongly_typed_workspace_list_does_not_drop_the_users(
    ws: Path, inv: Invariants
) -> None:
    """`"context.exclude": "build/**"` (a string, not a list) in workspace settings: validation
    used to drop the merged list, the user's exclusions with it, and the model read the file."""
    (ws / "notes").mkdir()
    (ws / "notes" / "salaries.md").write_text(f"# Salaries\n\n{PRIVATE}\n")
    explore = [{"tool": "view_file", "input": {"path": "notes/salaries.md"}}]
    srv = inv.scripted_server([*explore, plan_turn(one_step_plan(["pytest -q"]))])
    user = {"context": {"exclude": ["notes/**"]}, "planning": {"lintFeedback": False}}
    async with serve(inv, ws, srv, init_options=user) as (client, _editor, _l):
        pulls = _count_configuration_pulls(client)
        client.set_configuration({"context": {"exclude": "build/**"}}, section="planfirst")
        before = pulls[0]
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={}))
        await wait_until(lambda: pulls[0] > before, 30, "the configuration pull")
        await command(client, "planfirst.generatePlan", {"task": "Document the title"})
        sent = "\n".join(inv.requests_text())
        assert PRIVATE not in sent, "a file the user excluded went to the model"
        await wait_until(
            lambda: any("context.exclude" in m.message for m in client.messages),
            30,
            "the warning about the ignored workspace setting",
        )


def test_case_37_workspace_numbers_and_thinking_only_narrow() -> None:
    """Numbers given as strings ("900000") passed the ceiling check and were coerced by
    validation; thinking (on/off and effort) spends money on every request and was taken from
    the workspace as is; a workspace "auto" undid the user's "planfirst" preview."""
    user = {
        "context": {"tokenBudget": 8000},
        "execution": {"maxAttempts": 1},
        "thinking": {"enabled": False, "executionEffort": "low"},
        "preview": "planfirst",
    }
    workspace = {
        "context": {"tokenBudget": "900000", "treeMaxEntries": 100_000},
        "execution": {"maxAttempts": "9", "largeFileLines": 100_000},
        "thinking": {"enabled": True, "execution": True, "effort": "max", "executionEffort": "max"},
        "preview": "auto",
    }
    s, problems = load_settings(user, {"planfirst": workspace})
    assert (s.context.token_budget, s.execution.max_attempts) == (8000, 1)
    assert (s.context.tree_max_entries, s.execution.large_file_lines) == (400, 600)
    assert not s.thinking.on_for("plan") and not s.thinking.on_for("execute")
    assert (s.thinking.effort, s.thinking.effort_for("execute")) == ("high", "low")
    assert s.preview == "planfirst"
    shown = "\n".join(problems)
    for key in ("tokenBudget", "maxAttempts", "thinking.enabled", "executionEffort", "preview"):
        assert key in shown, shown
    # narrowing still works: a workspace may lower the effort and turn a phase's thinking off
    s, _ = load_settings({}, {"thinking": {"effort": "low", "critique": False}})
    assert s.thinking.effort == "low" and not s.thinking.on_for("critique")
