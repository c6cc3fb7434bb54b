"""The user's work is sacred (cases 6-9, 18), cancellation kills what runs (case 11), model API
faults end to end (cases 12 and 19)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import CANARY, DEMO, TASK, Invariants, serve
from tests.reliability.test_crash_resume import _children, _gone
from tests.reliability.test_untrusted_model import README_EDIT, one_step_plan, plan_turn
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until


async def test_case_06_secrets_and_excluded_files_never_sent(ws: Path, inv: Invariants) -> None:
    """Case 6: `.env`, `*.pem`, gitignored files and configured exclude globs are never sent,
    even when named or asked for; binary and huge files are skipped and reported."""
    (ws / "server.pem").write_text("-----BEGIN PRIVATE KEY----- pem-canary-31\n")
    (ws / "private").mkdir()
    (ws / "private" / "notes.md").write_text("glob-canary-77\n")
    (ws / "blob.bin").write_bytes(b"\x00\x01binary-canary" * 10)
    (ws / "huge.txt").write_text("huge-canary\n" * 100_000)
    canaries = [CANARY, "pem-canary-31", "glob-canary-77", "binary-canary", "huge-canary"]
    turns = [
        {"tool": "view_file", "input": {"path": ".env"}, "expect": {"not_contains": canaries}},
        {
            "tool": "view_file",
            "input": {"path": "server.pem"},
            "expect": {"not_contains": canaries, "tool_result_error": True},
        },
        {
            "tool": "search_text",
            "input": {"pattern": "canary"},
            "expect": {"not_contains": canaries, "tool_result_error": True},
        },
        {"tool": "submit_plan", "input": DEMO[1]["input"], "expect": {"not_contains": canaries}},
    ]
    srv = inv.scripted_server(turns)
    opts = {"context": {"exclude": ["private/**"], "maxFileBytes": 100_000}}
    async with serve(inv, ws, srv, init_options=opts) as (client, _e, _l):
        res = await command(
            client,
            "planfirst.generatePlan",
            {
                "task": TASK,
                "files": [".env", "server.pem", "private/notes.md", "blob.bin", "huge.txt"],
            },
        )
    assert srv.failures == []
    plan = PlanStore(ws).load(res["planId"])
    cut = {e.path: e.reason for e in plan.provenance.cut}
    assert {".env", "server.pem", "private/notes.md", "blob.bin", "huge.txt"} <= set(cut), cut
    for text in inv.requests_text():
        assert not any(c in text for c in canaries)


async def test_case_07_08_09_18_stale_reject_undo_and_disk_check(ws: Path, inv: Invariants) -> None:
    """Cases 7, 8, 9, 18 with Neovim (applies 'needs confirmation' edits without asking, never
    saves): a file changed since planning is reported stale and the step runs on its current
    text; a rejected preview changes nothing and leaves the step pending; approval is
    planfirst's own (nothing is sent before approvePlan); after applying the disk holds exactly
    the approved text; undo restores the exact previous bytes."""
    readme = ws / "README.md"
    # the model read README.md while planning: its hash at plan time is in the plan
    srv = inv.scripted_server(
        [
            {"tool": "view_file", "input": {"path": "README.md"}},
            plan_turn(one_step_plan(["pytest -q tests/test_slug.py"])),
            README_EDIT,
            {"text": "ok"},
            README_EDIT,
            {"text": "ok"},
        ]
    )
    async with serve(inv, ws, srv, profile="neovim") as (client, editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        with pytest.raises(JsonRpcException, match="not approved"):
            await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert editor.edits == []
        readme.write_bytes(
            readme.read_bytes() + "\r\nmy note — ünïcode\r\n".encode()
        )  # the user's own edit
        users = readme.read_bytes()
        await command(client, "planfirst.approvePlan", {"planId": pid})
        editor.accept = False
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "rejected"
        assert readme.read_bytes() == users
        st = PlanStore(ws).load(pid).state(1)
        assert st.status.value == "pending" and st.runs[0].stale_files == ["README.md"]
        assert st.runs[-1].outcome == "rejected"
        assert any("not applied" in m.message for m in client.messages)
        assert any("stale" in m.message for m in client.messages)
        editor.accept = True
        r = await command(client, "planfirst.retryStep", {"planId": pid, "step": 1})
        assert r["status"] == "done", r
        assert len(editor.edits) == 2  # the retry was previewed again
        run = PlanStore(ws).load(pid).state(1).last_run
        assert readme.read_bytes().decode("utf-8") == run.after["README.md"]
        assert "my note — ünïcode" in run.after["README.md"] and "--top 5" in run.after["README.md"]
        u = await command(client, "planfirst.undoStep", {"planId": pid, "step": 1})
        assert u["status"] == "undone"
        assert readme.read_bytes() == users


async def test_case_11_cancel_kills_the_validation_process_group(ws: Path, inv: Invariants) -> None:
    """Case 11: cancelling a step whose validation runs kills the command and its children
    (checked in /proc), answers the request, and leaves the step consistent and retryable."""
    slow = (
        'python -c "import subprocess, sys, time; '
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)\""
    )
    srv = inv.scripted_server([plan_turn(one_step_plan([slow])), README_EDIT, {"text": "ok"}])
    async with serve(inv, ws, srv) as (client, _editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        server_pid = client._server.pid  # type: ignore[union-attr]
        run = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(
            lambda: any("subprocess" in c for _, c in _children(server_pid)),
            30,
            "the validation command",
        )
        leader = next(p for p, c in _children(server_pid) if "subprocess" in c)
        await wait_until(lambda: bool(_children(leader)), 30, "its child")
        grandchild = _children(leader)[0][0]
        assert not _gone(leader) and not _gone(grandchild)  # running when the cancel is sent
        cancelled = await command(client, "planfirst.cancel", {"planId": pid})
        assert cancelled["cancelled"] == [pid]
        with pytest.raises(JsonRpcException, match="cancelled"):  # the request is answered
            await asyncio.wait_for(run, 30)
        # both sleep 60 s: gone within the wait means killed by the cancel, not finished
        await wait_until(
            lambda: _gone(leader) and _gone(grandchild), 30, "the process group to die"
        )
        plan = PlanStore(ws).load(pid)
        assert plan.state(1).status.value in ("pending", "applied", "failed")
        assert (await command(client, "planfirst.listPlans"))[0]["id"] == pid
        assert os.getpid()  # the test process itself was never signalled


async def test_case_12_19_api_faults_retried_then_clear_message(ws: Path, inv: Invariants) -> None:
    """Cases 12 and 19: 429, 529, 500, an overloaded error event after HTTP 200 and a cut stream
    are retried (one retry layer: the number of HTTP attempts is exactly what the script holds);
    when retries run out the user gets a clear message and no partial plan is saved; a 401 is
    not retried; max_tokens truncation is never parsed as a plan."""
    plan = {"tool": "submit_plan", "input": DEMO[1]["input"]}
    srv = inv.scripted_server(
        [
            {"fault": {"status": 429, "retry_after_ms": 50}},
            {"fault": "stream_error", "text": "partial"},
            {"fault": "stream_cut", **plan},
            {"fault": {"status": 500, "retry_after_ms": 10}},
            plan,
            # second task: overloaded five times (the user's 4 retries exhausted; the
            # workspace's maxRetries is ignored: retries are user-only, case 41)
            *[{"fault": {"status": 529, "retry_after_ms": 10}}] * 5,
            # third: 401 once, never retried
            {"fault": {"status": 401}},
            # fourth: truncated output, then the retry with more tokens also truncated
            {"stop_reason": "max_tokens", **plan},
            {"stop_reason": "max_tokens", **plan},
            {"stop_reason": "max_tokens", **plan},
        ]
    )
    opts = {"anthropic": {"maxRetries": 4, "deadline": 60}}
    async with serve(inv, ws, srv, init_options=opts) as (client, editor, _l):
        ok = await command(client, "planfirst.generatePlan", {"task": TASK})
        assert len(srv.requests) == 5 and PlanStore(ws).load(ok["planId"]).complete
        opts3 = {"anthropic": {"maxRetries": 3, "deadline": 60}}
        client.set_configuration(opts3, section="planfirst")
        pulls = editor.config_pulls
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={}))
        await wait_until(
            lambda: editor.config_pulls > pulls, 30, "the server to pull the new settings"
        )
        with pytest.raises(JsonRpcException, match=r"(?i)overloaded") as e1:
            await command(client, "planfirst.generatePlan", {"task": TASK + " again"})
        assert len(srv.requests) == 10, len(srv.requests)
        with pytest.raises(JsonRpcException, match=r"(?i)auth|key|401") as e2:
            await command(client, "planfirst.generatePlan", {"task": TASK + " third"})
        assert len(srv.requests) == 11
        assert "sk-ant-test" not in e2.value.message
        with pytest.raises(
            JsonRpcException, match=r"(?i)max_tokens|truncat|too long|max tokens"
        ) as e3:
            await command(client, "planfirst.generatePlan", {"task": TASK + " fourth"})
        rows = await command(client, "planfirst.listPlans")
        assert [r["id"] for r in rows] == [ok["planId"]]  # nothing partial saved as a plan
        for err in (e1, e2, e3):
            assert len(err.value.message) < 600
