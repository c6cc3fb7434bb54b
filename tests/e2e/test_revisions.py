"""e2e: revisions (#18) through the real server, the real SDK and the scripted model: a
targeted revision of one step of a three-step plan with step 1 done keeps step 1 done and step 3
approved; the diff document shows exactly the change; a revision that touches an unnamed step
is sent back once and then shown highlighted; reloadPlan after a hand edit keeps the ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from planfirst.plan.store import PlanStore
from tests.support.demo_script import DEMO  # the critique is off in tests
from tests.support.lsp_harness import command, lsp_session, write_script

TASK = "Add a --top N option to textkit count"
STEP2_NEW = (
    "In `textkit/cli.py` add `--top N` (type int, default: all words) to the `count` subparser "
    "in `main()`, and print the rows of `top_words(counts, N)`. Add `test_count_top` to "
    "`tests/test_cli.py`."
)


def plan_input() -> dict[str, Any]:
    """The demo plan, with README.md not built on cli.py (so step 3 does not depend on step 2)."""
    p = json.loads(json.dumps(DEMO[1]["input"]))
    for f in p["files_to_modify"]:
        if f["path"] == "README.md":
            f["depends_on"] = []
    return p


def with_ids(p: dict[str, Any]) -> dict[str, Any]:
    for s in p["steps"]:
        s["id"] = f"s{s['order']}"
    return p


def step2_reworded() -> dict[str, Any]:
    p = with_ids(plan_input())
    p["steps"][1]["description"] = STEP2_NEW
    return p


def changed_lines(diff: str) -> list[str]:
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++ ", "--- "))
    ]


async def test_targeted_revision_keeps_done_and_approved_steps(
    workspace: Path, tmp_path: Path
) -> None:
    plan_turns = [DEMO[0], {**DEMO[1], "input": plan_input()}]
    step1 = DEMO[2:7]  # attempt 1 fails validation, attempt 2 passes
    revise_step2 = {
        "expect": {"contains": ["ONLY step 2 (id s2)", "id s1", "<!-- step-id: s3 -->", "default"]},
        "tool": "submit_plan",
        "input": step2_reworded(),
    }
    # asked to change step 3 only, the model also changes step 2 — twice
    touches_two = step2_reworded()
    touches_two["steps"][1]["description"] = STEP2_NEW.replace("default: all words", "default 10")
    touches_two["steps"][2]["description"] += " Mention the default."
    sneaky = {
        "expect": {"contains": ["ONLY step 3 (id s3)"]},
        "tool": "submit_plan",
        "input": touches_two,
    }
    sent_back = {
        "expect": {
            "contains": ["step 2 (s2): reworded: this step was not named", "<submitted_plan>"]
        },
        "tool": "submit_plan",
        "input": touches_two,
    }
    redo_1 = json.loads(json.dumps(touches_two))
    redo_1["steps"][0]["description"] += " Keep `top_words` pure."
    revise_step1 = {
        "expect": {"contains": ["ONLY step 1 (id s1)"]},
        "tool": "submit_plan",
        "input": redo_1,
    }
    script = write_script(
        tmp_path, [*plan_turns, *step1, revise_step2, sneaky, sent_back, revise_step1]
    )
    async with lsp_session(workspace, "vscode", script) as (client, _editor):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        assert (await command(client, "planfirst.executeNextStep", {"planId": pid}))[
            "status"
        ] == "done"

        rev = await command(
            client,
            "planfirst.revisePlan",
            {"planId": pid, "feedback": "make the default explicit", "steps": [2]},
        )
        assert rev["revision"] == 2
        assert rev["changes"] == [{"id": "s2", "before": 2, "after": 2, "kinds": ["reworded"]}]
        assert rev["needsApproval"] == [2] and rev["notAskedFor"] == []
        store = PlanStore(workspace)
        plan = store.load(pid)
        assert [s.id for s in plan.body.steps] == ["s1", "s2", "s3"]
        assert plan.status.value == "draft"
        assert plan.state(1).status.value == "done"  # step 1 stays done
        assert plan.state(2).approved == ""  # step 2 needs approval
        assert plan.state(3).approved != ""  # step 3 keeps its approval

        doc = (
            await client.workspace_text_document_content_async(
                types.TextDocumentContentParams(uri=rev["uri"])
            )
        ).text
        assert "> **Needs approval:** step 2 · steps 1, 3 keep their approval" in doc
        assert "## Changes in revision 2" in doc and "> - Step 2 (s2): reworded" in doc

        # the compare lens, and the diff it opens shows exactly the change
        lenses = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=rev["uri"]))
        )
        compare = next(
            lens.command
            for lens in lenses
            if lens.command and lens.command.title.endswith("Compare with revision 1")
        )
        diff = await command(client, compare.command, compare.arguments[0])
        assert diff["uri"] == f"planfirst:/plans/{pid}/revision-1-2.diff"
        assert any(d.uri == diff["uri"] for d in client.shown_documents)
        text = (
            await client.workspace_text_document_content_async(
                types.TextDocumentContentParams(uri=diff["uri"])
            )
        ).text
        assert text == diff["diff"]
        old_desc = DEMO[1]["input"]["steps"][1]["description"]
        assert changed_lines(text) == [f"-{old_desc}", f"+{STEP2_NEW}"]

        # approving records step 2; a revision touching an unnamed step is caught
        await command(client, "planfirst.approvePlan", {"planId": pid})
        rev3 = await command(
            client,
            "planfirst.revisePlan",
            {"planId": pid, "feedback": "say what the default is", "steps": ["s3"]},
        )
        assert rev3["revision"] == 3 and rev3["notAskedFor"] == ["s2"]
        assert sorted(rev3["needsApproval"]) == [2, 3]
        doc = (
            await client.workspace_text_document_content_async(
                types.TextDocumentContentParams(uri=rev3["uri"])
            )
        ).text
        assert "> - Step 2 (s2): reworded · ⚠ not asked for" in doc
        assert "⚠ Not asked for" in doc
        assert store.load(pid).state(1).status.value == "done"
        # any two revisions can be compared
        both = await command(client, "planfirst.diffPlan", {"planId": pid, "from": 1, "to": 3})
        assert len(changed_lines(both["diff"])) == 4

        # a revision that changes done step 1: it needs redo, and its undo is offered
        before = (workspace / "textkit" / "wordcount.py").read_text()
        rev4 = await command(
            client,
            "planfirst.revisePlan",
            {"planId": pid, "feedback": "keep it pure", "steps": [1]},
        )
        assert rev4["needsRedo"] == [1] and rev4["notAskedFor"] == []
        lenses = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=rev4["uri"]))
        )
        undo = next(
            lens.command
            for lens in lenses
            if lens.command and lens.command.title.endswith("Undo step 1")
        )
        doc = (
            await client.workspace_text_document_content_async(
                types.TextDocumentContentParams(uri=rev4["uri"])
            )
        ).text
        assert "> **Needs redo:** step 1" in doc
        assert "def top_words" in before  # step 1's edit is still on disk
        res = await command(client, undo.command, undo.arguments[0])
        assert res["status"] == "undone"
        assert "def top_words" not in (workspace / "textkit" / "wordcount.py").read_text()
        assert (
            "Needs redo"
            not in (
                await client.workspace_text_document_content_async(
                    types.TextDocumentContentParams(uri=rev4["uri"])
                )
            ).text
        )


@pytest.mark.parametrize("profile", ["neovim"])
async def test_reload_after_a_hand_edit_keeps_ids_and_diff_is_a_file(
    workspace: Path, tmp_path: Path, profile: str
) -> None:
    script = write_script(tmp_path, [DEMO[0], {**DEMO[1], "input": plan_input()}])
    async with lsp_session(workspace, profile, script) as (client, _editor):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        store = PlanStore(workspace)
        md = store.plan_md(pid)
        text = md.read_text()
        # the user swaps steps 2 and 3 (renumbering them) and adds a step 4 of their own
        a, b = text.index("### Step 2"), text.index("### Step 3")
        end = text.index("## Test criteria")
        step2, step3 = text[a:b], text[b:end]
        edited = (
            text[:a]
            + step3.replace("### Step 3", "### Step 2")
            + step2.replace("### Step 2", "### Step 3")
            + "### Step 4\n\nRun `ruff check textkit` once more.\n\n- Validation:\n  - `ruff check textkit`\n\n"
            + text[end:]
        )
        md.write_text(edited)
        out = await command(client, "planfirst.reloadPlan", {"planId": pid})
        assert out["revision"] == 2
        plan = store.load(pid)
        assert [s.id for s in plan.body.steps] == ["s1", "s3", "s2", "s4"]
        kinds = {c["id"]: c["kinds"] for c in out["changes"]}
        assert kinds["s4"] == ["added"] and "moved" in (kinds.get("s2", []) + kinds.get("s3", []))
        reloaded = md.read_text()
        assert "> Compared with revision 1 · (edited by hand in plan.md)" in reloaded
        assert "> - Step 4 (s4): new step — Run `ruff check textkit` once more." in reloaded
        # a client without virtual documents gets the diff as a file beside the plan
        diff = await command(client, "planfirst.diffPlan", {"planId": pid})
        assert diff["uri"].endswith(f"/.planfirst/plans/{pid}/diffs/revision-1-2.diff")
        path = store.plan_md(pid).parent / "diffs" / "revision-1-2.diff"
        assert (
            path.read_text() == diff["diff"]
            and "+Run `ruff check textkit` once more." in diff["diff"]
        )


async def test_plans_dir_setting_keeps_plans_where_the_team_commits_them(
    workspace: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path, [DEMO[0], {**DEMO[1], "input": plan_input()}])
    async with lsp_session(
        workspace, "neovim", script, init_options={"plansDir": "docs/plans"}
    ) as (client, _editor):
        res = await command(client, "planfirst.generatePlan", {"task": TASK})
        pid = res["planId"]
        md = workspace / "docs" / "plans" / pid / "plan.md"
        assert res["uri"] == md.resolve().as_uri() and md.is_file()
        assert not (workspace / ".planfirst" / "plans").exists()
        lenses = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=res["uri"]))
        )
        assert any(lens.command and "Approve" in lens.command.title for lens in lenses)
        rows = await command(client, "planfirst.listPlans")
        assert [r["id"] for r in rows] == [pid]
