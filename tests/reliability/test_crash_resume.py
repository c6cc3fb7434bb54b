"""A killed server resumes (case 13) and startup survives bad state (case 21).

The scripted model runs in the test process, so one script spans every server restart; turns a
killed server consumed but never used are re-added when the restart has to ask again."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from planfirst.plan.model import StepStatus
from planfirst.plan.store import PlanStore
from tests.reliability.conftest import DEMO, TASK, Invariants, kill_server, serve
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until


def _children(pid: int) -> list[tuple[int, str]]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = (
                Path(f"/proc/{entry}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
            )
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append((int(entry), cmd))
    return out


def _gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie holds nothing)."""
    try:
        return ") Z" in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


async def test_case_13_sigkill_at_each_transition_of_a_three_step_run(
    ws: Path, inv: Invariants
) -> None:
    """Case 13: SIGKILL (1) while step 1 waits on the model, (2) right after the editor answered
    step 2's applyEdit, (3) between steps, (4) while step 3's validation command runs. Each
    restart resumes; nothing is lost, no edit lands twice, the validation child dies with the
    server, every plan file parses (case 22 fixture)."""
    slow = dict(DEMO[2])
    slow["delay"] = 30
    srv = inv.scripted_server([DEMO[0], DEMO[1], slow, *DEMO[2:10]])
    store = PlanStore(ws)
    wc = ws / "textkit" / "wordcount.py"

    # (1) killed while step 1 waits for the model (step RUNNING, run pending)
    async with serve(inv, ws, srv, profile="neovim") as (client, editor, ledger):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        run = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(srv.requests) >= 3, 30, "the step's model call")
        await wait_until(
            lambda: store.load(pid).state(1).status == StepStatus.RUNNING,
            30,
            "step 1 saved as running",
        )
        await kill_server(client, ledger)
        run.cancel()
    plan = store.load(pid)
    assert plan.state(1).status == StepStatus.RUNNING  # persisted before the model call
    assert "top_words" not in wc.read_text()

    # (2) resumed: step 1 runs again (interrupted run recorded), then step 2 is killed right
    # after the editor answered its applyEdit
    async with serve(inv, ws, srv, profile="neovim") as (client, editor, ledger):
        r1 = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r1["step"] == 1 and r1["status"] == "done"
        run = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(editor.edits) >= 3, 30, "step 2's applyEdit")
        await kill_server(client, ledger)
        run.cancel()
    plan = store.load(pid)
    runs1 = [r.outcome for r in plan.state(1).runs]
    assert runs1 == ["interrupted", "applied", "applied"], runs1
    s2 = plan.state(2)
    if s2.last_run is not None and s2.last_run.outcome == "proposed":
        # killed before "applied" was persisted: the disk never got the text, the model is asked again
        srv.add_turns(DEMO[7:10])
    srv.add_turns(DEMO[10:12])

    # (3) resumed: step 2 finishes (validated, not re-applied when it had landed); kill between steps
    async with serve(inv, ws, srv, profile="neovim") as (client, editor, ledger):
        r2 = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r2["step"] == 2 and r2["status"] == "done", r2
        await kill_server(client, ledger)

    # (4) step 3: killed while its validation (`pytest -q`) runs
    async with serve(inv, ws, srv, profile="neovim") as (client, editor, ledger):
        server_pid = client._server.pid  # type: ignore[union-attr]
        run = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(
            lambda: any("pytest" in c for _, c in _children(server_pid)), 30, "step 3's validation"
        )
        child = next(p for p, c in _children(server_pid) if "pytest" in c)
        await kill_server(client, ledger)
        run.cancel()
        # the validation process must not outlive the server
        await wait_until(
            lambda: _gone(child), 30, f"validation process {child} to die with the server"
        )
    assert store.load(pid).state(3).status == StepStatus.APPLIED

    # resumed: step 3's edit is validated without asking the model or the editor again
    async with serve(inv, ws, srv, profile="neovim") as (client, editor, ledger):
        asked = len(srv.requests)
        r3 = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r3["step"] == 3 and r3["status"] == "done", r3
        assert editor.edits == [] and len(srv.requests) == asked

    plan = store.load(pid)
    assert plan.status.value == "done"
    applied = {s.order: sum(1 for r in s.runs if r.outcome == "applied") for s in plan.steps}
    assert applied == {1: 2, 2: 1, 3: 1}, applied
    text = wc.read_text()
    assert text.count("def top_words") == 1 and "key=lambda kv: (-kv[1], kv[0])" in text
    cli = (ws / "textkit" / "cli.py").read_text()
    assert cli.count('"--top"') == 1, cli
    assert (ws / "README.md").read_text().count("--top 5") == 1
    assert not list((ws / ".planfirst").rglob("*.tmp")), "a temp file was left behind"
    assert srv.failures == []


async def test_case_21_startup_survives_bad_state(ws: Path, inv: Invariants) -> None:
    """Case 21 (and 13): a corrupt plan, a plan.json that is a directory, a FIFO and an
    unparseable plan never crash startup; each is reported by name and left untouched, the
    good plan still works. (The suite runs as root, so chmod 000 cannot make `.planfirst/`
    unreadable; an unreadable `.planfirst` is simulated by a regular file in its place in the
    second half.)"""
    srv = inv.scripted_server(DEMO[:2])
    async with serve(inv, ws, srv) as (client, _e, _l):
        good = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
    plans = ws / ".planfirst" / "plans"
    bad_json = plans / "broken-aaaaaa" / "plan.json"
    bad_json.parent.mkdir()
    bad_json.write_text('{"id": "broken-aaaaaa", "title": ')  # truncated by a crash elsewhere
    wrong_schema = plans / "schema-bbbbbb" / "plan.json"
    wrong_schema.parent.mkdir()
    wrong_schema.write_text(json.dumps({"id": "schema-bbbbbb", "schema_version": 999}))
    (plans / "dir-cccccc" / "plan.json").mkdir(parents=True)
    fifo = plans / "fifo-dddddd" / "plan.json"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    inv.broken.update({bad_json, wrong_schema, plans / "dir-cccccc" / "plan.json", fifo})
    before = bad_json.read_bytes(), wrong_schema.read_bytes()

    async with serve(inv, ws, inv.scripted_server([])) as (client, _e, _l):
        rows = await asyncio.wait_for(command(client, "planfirst.listPlans"), 10)
        assert [r["id"] for r in rows] == [good]
        shown = " ".join(m.message for m in client.messages)
        for name in ("broken-aaaaaa", "schema-bbbbbb", "dir-cccccc", "fifo-dddddd"):
            assert name in shown, f"{name} not reported: {shown}"
        lenses = await client.text_document_code_lens_async(
            types.CodeLensParams(
                text_document=types.TextDocumentIdentifier(uri=f"planfirst:/plans/{good}.md")
            )
        )
        assert any("Approve" in (lens.command.title if lens.command else "") for lens in lenses)
        assert (await command(client, "planfirst.approvePlan", {"planId": good}))[
            "status"
        ] == "approved"
    assert (bad_json.read_bytes(), wrong_schema.read_bytes()) == before

    # `.planfirst` replaced by something that is not a directory: start, answer, explain
    import shutil

    shutil.rmtree(ws / ".planfirst")
    (ws / ".planfirst").write_text("not a directory\n")
    async with serve(inv, ws, inv.scripted_server(DEMO[:2])) as (client, _e, _l):
        assert await command(client, "planfirst.listPlans") == []
        with pytest.raises(JsonRpcException, match=r"\.planfirst"):  # an error, no plan saved
            await command(client, "planfirst.generatePlan", {"task": TASK})
        rows = await command(client, "planfirst.listPlans")
        assert rows == []
    assert (ws / ".planfirst").read_text() == "not a directory\n"
