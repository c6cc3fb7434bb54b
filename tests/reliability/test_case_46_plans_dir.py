"""docs/reliability.md case 46: plans kept outside `.planfirst/` (`plansDir: docs/plans`, to commit
them with the code) are planfirst's data exactly like `.planfirst/`. The next plan's model sees
them nowhere: not in the workspace tree, not in `search_text` or `list_dir` results, not as
context; `view_file` of one is refused like a file under `.planfirst/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.reliability.conftest import Invariants, serve
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command

MARKER = (
    "zebra-quartz-7731"  # only in the first plan (its summary): stale text a model must not see
)


def _texts(body: dict[str, Any]) -> tuple[str, list[str]]:
    """(the first user message's text, every tool_result's text) of one request."""
    msgs = body["messages"]
    first = msgs[0]["content"]
    head = first if isinstance(first, str) else " ".join(b.get("text", "") for b in first)
    results = []
    for m in msgs:
        if m["role"] != "user" or isinstance(m["content"], str):
            continue
        for b in m["content"]:
            if b.get("type") == "tool_result":
                results.append(json.dumps(b.get("content"), ensure_ascii=False))
    return head, results


async def test_case_46_plans_in_another_folder_are_never_shown_to_the_model(
    ws: Path, inv: Invariants
) -> None:
    first = one_step_plan(["pytest -q tests/test_slug.py"])
    first["summary"] = f"Document `--top` in the README ({MARKER})."
    said = f"in the README ({MARKER})"  # the first plan's own words
    explore = [
        {"tool": "search_text", "input": {"pattern": MARKER}},
        {"tool": "list_dir", "input": {"path": "docs/plans"}},
        {"tool": "list_dir", "input": {"path": "docs"}},
        {"tool": "view_file", "input": {"path": "docs/plans"}},
    ]
    srv = inv.scripted_server(
        [plan_turn(first), *explore, plan_turn(one_step_plan(["pytest -q tests/test_slug.py"]))]
    )
    (ws / "docs").mkdir()
    (ws / "docs" / "guide.md").write_text("# Guide\n\nHow to count words.\n")
    opts = {"plansDir": "docs/plans"}
    async with serve(inv, ws, srv, init_options=opts) as (client, _e, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        plan_md = ws / "docs" / "plans" / pid / "plan.md"
        assert MARKER in plan_md.read_text()
        n = len(srv.requests)
        await command(client, "planfirst.generatePlan", {"task": "Document the count command"})
    later = [r.body for r in srv.requests[n:]]
    head, _ = _texts(later[0])
    assert "<workspace_tree>" in head and "guide.md" in head, "no tree in the request (premise)"
    tree = head.split("<workspace_tree>", 1)[1].split("</workspace_tree>", 1)[0]
    assert "plans/" not in tree and "plan.md" not in tree and pid not in tree, (
        f"plan files in the planning tree:\n{tree}"
    )
    _, results = _texts(later[-1])
    assert len(results) == len(explore), results
    search, plans_dir, docs, view = results
    assert "no matches" in search and "plans/" not in search, f"search_text showed a plan: {search}"
    assert pid not in plans_dir and "plan.md" not in plans_dir, plans_dir
    assert "guide.md" in docs and "plans" not in docs, docs
    assert "plansDir" in plans_dir or "excluded" in plans_dir, plans_dir
    assert "excluded" in view or "plansDir" in view, view
    for text in (json.dumps(b, ensure_ascii=False) for b in later):
        assert said not in text, "the first plan's text reached the model"
