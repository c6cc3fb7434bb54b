"""planfirst.planReport: the finish view's figures (per step attempts, tokens, cost, time) and the
"Review all changes" diff of the whole plan against its start (issue #33)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.e2e.test_execute import TASK, snapshot
from tests.support.demo_script import DEMO
from tests.support.lsp_harness import command, lsp_session, write_script


async def test_plan_report_after_a_finished_plan(workspace: Path, tmp_path: Path) -> None:
    start = snapshot(workspace)
    script = write_script(tmp_path, DEMO)
    async with lsp_session(workspace, "vscode", script) as (client, _editor):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        for _ in range(3):
            await command(client, "planfirst.executeNextStep", {"planId": pid})
        report = await command(client, "planfirst.planReport", {"planId": pid})

        # an unknown plan is an error with a reason the editor branches on, not a crash
        with pytest.raises(JsonRpcException) as err:
            await command(client, "planfirst.planReport", {"planId": "no-such-plan"})
        assert err.value.data and err.value.data.get("reason"), err.value.data

    plan = PlanStore(workspace).load(pid)
    assert report["planId"] == pid and report["status"] == "done"
    steps = report["steps"]
    assert [s["order"] for s in steps] == [1, 2, 3]
    # step 1 failed validation once and passed on its retry: two model runs, as the plan records
    assert [s["attempts"] for s in steps] == [2, 1, 1]
    for s, st in zip(steps, plan.steps, strict=True):
        assert s["status"] == "done"
        assert s["outputTokens"] == sum(r.usage.output_tokens for r in st.runs) > 0
        assert s["costUsd"] == pytest.approx(sum(r.usage.cost_usd for r in st.runs))
        assert s["seconds"] >= 0
        assert s["title"]
    assert report["costUsd"] == pytest.approx(plan.usage.cost_usd)

    # every file the plan changed, with its text at the start and now
    now = snapshot(workspace)
    changed = {p for p in now if start.get(p) != now[p]} | {p for p in start if p not in now}
    files = {f["path"]: f for f in report["files"]}
    assert set(files) == changed and changed
    for path, f in files.items():
        assert f["before"] == (start[path].decode() if path in start else None)
        assert f["after"] == now[path].decode()
        assert f["uri"] == (workspace / path).resolve().as_uri()


@pytest.mark.parametrize("profile", ["vscode", "neovim"])
async def test_no_key_is_a_notice_with_its_reason_for_the_extension(
    workspace: Path, profile: str
) -> None:
    """Without a key the VS Code extension gets `planfirst/notice` {reason: no_key} (it offers
    Set API Key… in its own words); any other editor gets the warning in words."""
    async with lsp_session(workspace, profile, None) as (client, editor):
        with pytest.raises(JsonRpcException) as err:
            await command(client, "planfirst.generatePlan", {"task": "Add a flag"})
        assert err.value.data == {"reason": "auth"}, err.value.data
        shown = [m.message for m in client.messages]
    key_messages = [m for m in shown if "API key" in m]
    if profile == "vscode":
        assert [n["reason"] for n in editor.notices] == ["no_key"], editor.notices
        assert key_messages == [], shown
    else:
        assert editor.notices == [] and key_messages, shown


async def test_a_step_that_hits_429_says_rate_limit_and_runs_on_the_next_try(
    workspace: Path, tmp_path: Path
) -> None:
    """A rate limit that outlasts the retries ends executeNextStep with data.reason "rate_limit"
    (not a generic "model_error"): the VS Code extension offers Retry by it; the same command
    then runs the step."""
    es = __import__("tests.support.demo_script", fromlist=["editor_scripts"]).editor_scripts()
    end = es.planning_end(DEMO)
    turns = [*DEMO[:end], {"fault": {"status": 429}}, *DEMO[end:]]
    script = write_script(tmp_path, turns)
    opts = {"anthropic": {"maxRetries": 0}}
    async with lsp_session(workspace, "vscode", script, init_options=opts) as (client, _editor):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        with pytest.raises(JsonRpcException) as err:
            await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert err.value.data == {"reason": "rate_limit"}, (err.value.data, str(err.value))
        again = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert again["step"] == 1 and again["status"] == "done", again


async def test_plan_report_never_lists_a_path_outside_the_workspace_or_a_secret(
    workspace: Path, tmp_path: Path
) -> None:
    """A plan.json edited to name ../outside and .env in a run's `before` (a hostile clone): the
    report leaves them out (counted), so "Review all changes" never opens them."""
    (tmp_path / "outside.txt").write_text("secret outside\n")
    (workspace / ".env").write_text("API_KEY=x\n")
    script = write_script(tmp_path, DEMO)
    async with lsp_session(workspace, "vscode", script) as (client, _editor):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
    store = PlanStore(workspace)
    plan = store.load(pid)
    from planfirst.plan.model import RunOutcome, StepRun

    rel_out = "../" + tmp_path.name + "/outside.txt"
    plan.state(1).runs = [
        StepRun(
            attempt=1,
            outcome=RunOutcome.APPLIED,
            before={rel_out: "", ".env": "", "README.md": "old\n"},
        )
    ]
    store.save(plan)
    async with lsp_session(workspace, "vscode", write_script(tmp_path, [])) as (client, _e):
        report = await command(client, "planfirst.planReport", {"planId": pid})
    assert [f["path"] for f in report["files"]] == ["README.md"]
    assert report["omitted"] == 2


async def test_each_revision_is_a_document_for_a_side_by_side_compare(
    workspace: Path, tmp_path: Path
) -> None:
    """planfirst:/plans/<id>/revision-<n>.md serves revision n's reviewable text, so VS Code can
    compare two revisions side by side (#33); an unknown revision is an error with its reason."""
    from lsprotocol import types

    script = write_script(tmp_path, DEMO)
    async with lsp_session(workspace, "vscode", script) as (client, _editor):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        md = PlanStore(workspace).plan_md(pid)
        text = md.read_text()
        assert "## Summary\n\n" in text
        md.write_text(text.replace("## Summary\n\n", "## Summary\n\nHand-edited first. "))
        assert (await command(client, "planfirst.reloadPlan", {"planId": pid}))["revision"] == 2

        async def doc(n: int) -> str:
            res = await client.workspace_text_document_content_async(
                types.TextDocumentContentParams(uri=f"planfirst:/plans/{pid}/revision-{n}.md")
            )
            return res.text

        one, two = await doc(1), await doc(2)
        assert one.startswith("## Task") and two.startswith("## Task")
        assert "Hand-edited first." in two and "Hand-edited first." not in one
        with pytest.raises(JsonRpcException) as err:
            await doc(7)
        assert err.value.data == {"reason": "unknown_revision"}
