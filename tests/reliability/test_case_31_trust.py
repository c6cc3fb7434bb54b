"""docs/reliability.md case 31: one trust policy for plan review and execution, end to end."""

from __future__ import annotations

from pathlib import Path

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import Invariants, serve
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command

TRUST_CASES = [
    ".VSCode/tasks.json",
    "GNUmakefile",
    "pytest.ini",
    ".husky/pre-commit",
    ".Nvim.lua",
    ".cargo/config.toml",
    "sub/.devcontainer/devcontainer.json",
]


async def test_case_31_one_trust_policy(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 31: plan review flags a file exactly when execution asks for
    its own confirmation; names compare case-insensitively (`.VSCode/tasks.json`), and the list
    has Makefile in every spelling, pytest.ini, .husky/, .nvim.lua, .cargo/config.toml,
    .devcontainer/ …"""
    plain = "docs/notes.md"
    files = [*TRUST_CASES, plain]
    body = one_step_plan(["pytest -q tests/test_slug.py"])
    body["files_to_modify"] = []
    body["files_to_create"] = [{"path": p, "purpose": "config", "exports": []} for p in files]
    body["steps"][0].update(
        files_to_modify=[],
        files_to_create=files,
        description="Create the tool configuration files listed in `files_to_create`.",
    )
    create = [
        {
            "tool": "str_replace_based_edit_tool",
            "input": {"command": "create", "path": p, "file_text": "x = 1\n"},
        }
        for p in files
    ]
    srv = inv.scripted_server([plan_turn(body), *create, {"text": "done"}])
    async with serve(inv, ws, srv, init_options={"planning": {"lintFeedback": False}}) as (
        client,
        editor,
        _l,
    ):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Add tool configs"}))[
            "planId"
        ]
        plan = PlanStore(ws).load(pid)
        flagged = {
            p
            for f in plan.findings
            if f.rule == "protected-file"
            for p in files
            if repr(p) in f.message
        }
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        editor.answer = "No"
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "rejected", r
        asked = {p for q in editor.questions for p in files if p in q}
    assert flagged == asked == set(TRUST_CASES), (flagged, asked)
    assert editor.edits == [] and not (ws / ".VSCode").exists()
