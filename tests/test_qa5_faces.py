# ruff: noqa: F811  (the reliability fixtures imported below are parameters of the tests)
"""QA (sequences across real processes): a planfirst process SIGKILLed mid-step and the plan
continued from a *different* face (the terminal, an editor's language server, the ACP agent);
two language servers on one workspace; files a step names that moved, vanished or changed
kind between planning and execution. After each: the plan resumes at the exact step, no dead
process keeps it busy, the files on disk match what the plan records, plan.md catches up, the
step history has no duplicate or torn line, no model call is counted twice."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from planfirst.llm.scripted.server import ScriptedServer
from planfirst.plan.model import StepStatus
from planfirst.plan.render import parse_markdown, render
from planfirst.plan.store import PlanStore
from tests.reliability.conftest import (  # the five invariants of case 22 hold at each end
    DEMO,
    TASK,
    Invariants,
    inv,  # noqa: F401
    kill_server,
    serve,
    ws,  # noqa: F401
)
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e  # every test here runs planfirst as its own process


def _cli(
    inv: Invariants,
    ws: Path,
    srv: ScriptedServer,
    *argv: str,
    group: bool = False,
    stdin: bool = False,
) -> tuple[subprocess.Popen[bytes], Path]:
    """`python -I -m planfirst <argv>` in `ws`, its model the in-test scripted server; its
    output goes to a log beside the workspace (returned)."""
    log = inv.tmp / f"server-cli-{len(inv.logs)}.log"
    inv.logs.append(log)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update(
        {
            "ANTHROPIC_BASE_URL": srv.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-test-only-0000",
            "NO_COLOR": "1",
        }
    )
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "planfirst", *argv],
            cwd=ws,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=group,  # a process group of its own, as a terminal's job
        )
    return proc, log


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and ") Z" not in stat:
            out.append(int(entry))
    return out


def _gone(pid: int) -> bool:
    try:
        return ") Z" in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


def _plan_id(ws: Path) -> str | None:
    d = ws / ".planfirst" / "plans"
    ids = [p.name for p in d.iterdir() if (p / "plan.json").is_file()] if d.is_dir() else []
    return ids[0] if len(ids) == 1 else None


def _history(ws: Path) -> list[dict[str, Any]]:
    """Every row of the step history; a torn or merged line fails the test."""
    path = ws / ".planfirst" / "history.jsonl"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert not text or text.endswith("\n"), f"a torn last line: {text[-200:]!r}"
    return [json.loads(line) for line in text.splitlines()]


def _consistent(ws: Path, plan_id: str, srv: ScriptedServer, lost_calls: int) -> None:
    """plan.md is the rendering of plan.json; the step history has one row per finished step;
    the model calls the plan counts are the ones answered (not the `lost_calls` a killed
    process never got an answer to)."""
    store = PlanStore(ws)
    plan = store.load(plan_id)
    md = store.plan_md(plan_id).read_text(encoding="utf-8")
    assert md == render(plan).text, "plan.md did not catch up with plan.json"
    parse_markdown(md)
    rows = [r for r in _history(ws) if r.get("plan") == plan_id]
    keys = [(r["step"], r["status"]) for r in rows]
    assert len(keys) == len(set(keys)), f"a step recorded twice in the history: {keys}"
    # plan.usage counts every model call of the plan: planning and every step's runs
    assert plan.usage.calls == len(srv.requests) - lost_calls, (plan.usage, len(srv.requests))


def _slow(turn: dict[str, Any]) -> dict[str, Any]:
    slow = dict(turn)
    slow["delay"] = 60
    return slow


# ---------------------------------------------------------------- 1. a killed face, another face


async def test_run_killed_while_the_model_works_then_the_editor_resumes_the_step(
    ws: Path, inv: Invariants
) -> None:
    """`planfirst run` is killed (kill -9 of its pid) while step 1 waits on the model. The
    editor's language server opened next must not find the plan busy (the terminal's server
    went with it), runs step 1 from the start, and the plan ends consistent."""
    srv = inv.scripted_server([DEMO[0], DEMO[1], _slow(DEMO[2]), *DEMO[2:12]])
    proc, log = _cli(inv, ws, srv, "run", TASK, "--yes")
    store = PlanStore(ws)
    try:
        await wait_until(lambda: len(srv.requests) >= 3, 60, "step 1's model call")
        pid = _plan_id(ws)
        assert pid is not None
        serve_pids = _children(proc.pid)
        proc.kill()
        proc.wait(10)
        # the terminal's own language server ends with it and lets go of the plan
        await wait_until(lambda: all(_gone(p) for p in serve_pids), 20, "the terminal's server")
        await wait_until(lambda: store.claimed(pid) is None, 20, "the dead terminal's claim")
    finally:
        if proc.poll() is None:
            proc.kill()
    # the orphaned server saw its stdin close: the step is cancelled (or left running)
    assert store.load(pid).state(1).status in (StepStatus.PENDING, StepStatus.RUNNING)

    async with serve(inv, ws, srv, profile="neovim") as (client, _editor, _ledger):
        for order in (1, 2, 3):
            res = await command(client, "planfirst.executeNextStep", {"planId": pid})
            assert (res["step"], res["status"]) == (order, "done"), (res, log.read_text())
    plan = store.load(pid)
    assert plan.status.value == "done"
    outcomes = [r.outcome for r in plan.state(1).runs]
    assert outcomes[0] in ("cancelled", "interrupted") and outcomes[1:] == ["applied", "applied"]
    text = (ws / "textkit" / "wordcount.py").read_text()
    assert text.count("def top_words") == 1
    _consistent(ws, pid, srv, lost_calls=1)


async def test_editor_killed_while_step_2_validates_then_planfirst_resume_finishes(
    ws: Path, inv: Invariants
) -> None:
    """The editor's server is SIGKILLed while step 2's validation runs (its edit is on disk).
    `planfirst resume --yes` in a terminal validates that edit without asking the model or
    applying it again, and finishes the plan."""
    srv = inv.scripted_server(DEMO[0:12])
    store = PlanStore(ws)
    async with serve(inv, ws, srv, profile="neovim") as (client, _editor, ledger):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert (res["step"], res["status"]) == (1, "done")
        server_pid = client._server.pid  # type: ignore[union-attr]
        run = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: bool(_children(server_pid)), 60, "step 2's validation")
        await kill_server(client, ledger)
        run.cancel()
    assert store.load(pid).state(2).status == StepStatus.APPLIED
    await wait_until(lambda: store.claimed(pid) is None, 20, "the dead server's claim")
    asked = len(srv.requests)

    proc, log = _cli(inv, ws, srv, "resume", "--yes")
    code = await asyncio.to_thread(proc.wait, 180)
    assert code == 0, log.read_text()
    plan = store.load(pid)
    assert plan.status.value == "done", log.read_text()
    assert [r.outcome for r in plan.state(2).runs] == ["applied"]
    assert len(srv.requests) == asked + 2  # step 3 only (its edit, its summary)
    cli = (ws / "textkit" / "cli.py").read_text()
    assert cli.count('"--top"') == 1
    _consistent(ws, pid, srv, lost_calls=0)


async def test_terminal_killed_with_step_2_applied_then_the_acp_agent_continues(
    ws: Path, inv: Invariants
) -> None:
    """`planfirst run` and its server are killed together (the terminal closed) while step 2's
    validation runs. The ACP agent's /continue picks up the plan at step 2 (validated, not
    applied again) and finishes it."""
    from tests.acp.conftest import agent

    srv = inv.scripted_server(DEMO[0:12])
    store = PlanStore(ws)
    proc, _log = _cli(inv, ws, srv, "run", TASK, "--yes", group=True)
    try:

        def step2_validating() -> bool:
            pid = _plan_id(ws)
            if pid is None:
                return False
            try:
                st = store.load(pid).state(2).status
            except Exception:
                return False
            return st == StepStatus.APPLIED and any(_children(c) for c in _children(proc.pid))

        await wait_until(step2_validating, 120, "step 2's validation in the terminal")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    pid = _plan_id(ws)
    assert pid is not None
    await wait_until(lambda: store.claimed(pid) is None, 20, "the dead terminal's claim")
    asked = len(srv.requests)
    async with agent(inv, ws, srv, "basic") as a:
        await a.new()
        res = await a.prompt("/continue", 180)
        assert res.stop_reason == "end_turn", a.editor.text()
    plan = store.load(pid)
    assert plan.status.value == "done", a.editor.text()
    assert [r.outcome for r in plan.state(2).runs] == ["applied"]
    assert len(srv.requests) == asked + 2  # step 3 only (its edit, its summary)
    assert (ws / "textkit" / "cli.py").read_text().count('"--top"') == 1
    _consistent(ws, pid, srv, lost_calls=0)


async def test_plan_md_left_behind_by_a_kill_after_the_last_step_catches_up_in_another_face(
    ws: Path, inv: Invariants
) -> None:
    """The editor's server is killed right after the last step was recorded done, before plan.md
    was written (plan.md follows plan.json on a background thread): plan.md still says step 3 is
    running. The user goes on in a terminal: `planfirst resume` sees a finished plan. plan.md
    must say what plan.json says (it is the document file-based editors and git show); it was
    left saying "running" for good, since nothing re-renders a plan that changes no more."""
    srv = inv.scripted_server(DEMO[0:12])
    store = PlanStore(ws)
    async with serve(inv, ws, srv, profile="neovim") as (client, _editor, _ledger):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        for _ in range(2):
            await command(client, "planfirst.executeNextStep", {"planId": pid})
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert (res["step"], res["status"]) == (3, "done")
    # what the kill leaves: plan.json done, plan.md rendered while step 3 was running
    plan = store.load(pid)
    lagging = plan.model_copy(deep=True)
    lagging.status = lagging.status.__class__("executing")
    lagging.state(3).status = StepStatus.RUNNING
    md = store.plan_md(pid)
    md.write_text(render(lagging).text, encoding="utf-8")

    proc, log = _cli(inv, ws, srv, "resume", "--yes")
    code = await asyncio.to_thread(proc.wait, 120)
    assert code == 0, log.read_text()
    assert md.read_text(encoding="utf-8") == render(store.load(pid)).text, log.read_text()
    assert not [p for p in md.parent.iterdir() if p.name.startswith("plan.edited")]
    _consistent(ws, pid, srv, lost_calls=0)


# ---------------------------------------------------------------- 2. two editor windows


async def test_a_second_window_is_refused_while_the_first_runs_a_step_then_takes_over(
    ws: Path, inv: Invariants
) -> None:
    """Window A runs step 1 (its preview open). Window B lists plans, shows the plan, and tries
    execute, retry, undo, revise, reload, approve: every change is refused as busy in another
    planfirst (`data.reason` "busy"), nothing changes on disk. When A's step is done, B's rows
    and plan document show it, and B runs step 2."""
    from pygls.exceptions import JsonRpcException

    from tests.reliability.test_step_edge_cases import approved

    srv = inv.scripted_server(DEMO[0:10])
    store = PlanStore(ws)
    async with serve(inv, ws, srv, profile="vscode") as (a, editor_a, _la):
        pid = await approved(a)
        editor_a.hold = asyncio.Event()
        step1 = asyncio.ensure_future(command(a, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(editor_a.edits) >= 1, 60, "step 1's preview in window A")
        async with serve(inv, ws, srv, profile="vscode") as (b, _editor_b, _lb):
            rows = {r["id"]: r for r in await command(b, "planfirst.listPlans")}
            assert rows[pid]["busy"], rows[pid]
            await command(b, "planfirst.showPlan", {"planId": pid})
            before = store.plan_json(pid).read_bytes()
            tries: list[tuple[str, dict[str, Any]]] = [
                ("planfirst.executeNextStep", {"planId": pid}),
                ("planfirst.retryStep", {"planId": pid, "step": 1}),
                ("planfirst.retryStep", {"planId": pid}),
                ("planfirst.undoStep", {"planId": pid}),
                ("planfirst.revisePlan", {"planId": pid, "feedback": "smaller steps"}),
                ("planfirst.reloadPlan", {"planId": pid}),
                ("planfirst.approvePlan", {"planId": pid, "force": True}),
            ]
            wrong = []
            for name, args in tries:
                with pytest.raises(JsonRpcException) as err:
                    await command(b, name, args)
                if err.value.data != {"reason": "busy"} or "another planfirst" not in str(
                    err.value
                ):
                    wrong.append((name, err.value.data, str(err.value)))
            assert not wrong, wrong
            assert store.plan_json(pid).read_bytes() == before
            editor_a.hold.set()
            res = await asyncio.wait_for(step1, 120)
            assert (res["step"], res["status"]) == (1, "done")
            await wait_until(lambda: store.claimed(pid) is None, 20, "window A's claim")
            rows = {r["id"]: r for r in await command(b, "planfirst.listPlans")}
            assert not rows[pid]["busy"] and rows[pid]["steps"]["done"] == 1, rows[pid]
            from lsprotocol import types

            doc = await b.workspace_text_document_content_async(
                types.TextDocumentContentParams(uri=f"planfirst:/plans/{pid}.md")
            )
            assert doc.text == render(store.load(pid)).text
            res = await command(b, "planfirst.executeNextStep", {"planId": pid})
            assert (res["step"], res["status"]) == (2, "done"), res
    plan = store.load(pid)
    assert [s.status for s in plan.steps][:2] == [StepStatus.DONE, StepStatus.DONE]
    assert (ws / "textkit" / "cli.py").read_text().count('"--top"') == 1


# ---------------------------------------------------------------- 3. files that changed kind


async def test_terminal_write_failing_on_the_second_file_leaves_nothing_half_applied(
    ws: Path, inv: Invariants
) -> None:
    """Step 1 edits textkit/slug.py and textkit/wordcount.py. While `planfirst run` shows its
    preview, the user turns textkit/wordcount.py into a directory (moved it aside, made a
    package of the name), then answers y. The terminal wrote slug.py, then failed on
    wordcount.py: slug.py stayed changed on disk while the plan recorded no applied edit, so
    nothing could undo it (docs/reliability.md case 40: a step's edit lands whole or not at
    all, in every face)."""
    from tests.reliability.test_step_edge_cases import done, edit, plan_turn, step

    slug, wc = ws / "textkit" / "slug.py", ws / "textkit" / "wordcount.py"
    slug_before = slug.read_text(encoding="utf-8")
    s1 = step(
        1,
        ["textkit/slug.py", "textkit/wordcount.py"],
        what="Say `(marked)` in the docstrings of `textkit/slug.py` and `textkit/wordcount.py`.",
    )
    srv = inv.scripted_server(
        [
            plan_turn([s1]),
            edit("textkit/slug.py", '"""URL slugs."""\n', '"""URL slugs (marked)."""\n'),
            edit(
                "textkit/wordcount.py",
                '"""Word counting."""\n',
                '"""Word counting (marked)."""\n',
            ),
            done(),
        ]
    )
    proc, log = _cli(inv, ws, srv, "run", "Mark both docstrings", stdin=True)
    assert proc.stdin is not None
    try:
        await wait_until(lambda: "[y/N" in log.read_text(), 60, "the approval question")
        proc.stdin.write(b"y\n")
        proc.stdin.flush()
        await wait_until(lambda: "Apply this edit?" in log.read_text(), 60, "the step's preview")
        wc.rename(ws / "textkit" / "wordcount_old.py")
        wc.mkdir()
        proc.stdin.write(b"y\n")
        proc.stdin.flush()
        proc.stdin.close()
        await asyncio.to_thread(proc.wait, 120)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log.read_text()
    assert "Traceback" not in out, out
    pid = _plan_id(ws)
    assert pid is not None
    st = PlanStore(ws).load(pid).state(1)
    applied = [r for r in st.runs if r.outcome == "applied"]
    if not applied:  # nothing recorded as landed: nothing landed
        assert slug.read_text(encoding="utf-8") == slug_before, out
    assert wc.is_dir()
    assert "wordcount.py" in out, out  # the user is told which file could not be written


def test_the_terminal_puts_back_the_files_it_wrote_when_a_later_one_fails(tmp_path: Path) -> None:
    """The write itself failing midway (here: a file where the next file's folder goes) puts
    back the files already written, and a file the edit created is removed again."""
    from planfirst.terminal.editor import TerminalEditor

    root = tmp_path / "ws-write"
    root.mkdir()
    (root / "a.py").write_bytes(b"old a\r\n")
    (root / "blocker").write_text("a file, not a folder\n")
    ed = TerminalEditor(root, yes=True, out=io.StringIO())
    with pytest.raises(OSError):
        ed.write({root / "a.py": "new a\n", root / "new.py": "x\n", root / "blocker" / "b.py": ""})
    assert (root / "a.py").read_bytes() == b"old a\r\n"
    assert not (root / "new.py").exists()


async def _one_step_then(
    run_session: Any, s1: dict[str, Any], turns: list[Any], change: Any
) -> Any:
    """Plan `s1`, approve it, let `change(workspace)` happen, execute step 1."""
    from tests.reliability.test_step_edge_cases import plan_turn

    s, host = run_session([plan_turn([s1], create=s1.get("files_to_create", [])), *turns])
    plan = await s.generate(TASK)
    await s.approve(plan.id, force=True)
    change(s.root)
    out = await s.execute_next(plan.id)
    return s, host, plan.id, out


async def test_a_file_the_step_creates_that_the_user_made_meanwhile_fails_the_step(
    workspace: Path, run_session: Any
) -> None:
    """Step 1 creates textkit/extra.py; the user made that file before executing. The model's
    create is refused (the user's file is kept) and it ends without a change: the step was
    recorded *done* ("step 1 done", test criteria passed) though it did nothing, and nothing
    said why. It fails, naming the file that was in the way."""
    from tests.reliability.test_step_edge_cases import done, step

    s1 = step(
        1, [], create=["textkit/extra.py"], what="Create `textkit/extra.py` with a docstring."
    )
    create = {
        "tool": "str_replace_based_edit_tool",
        "input": {"command": "create", "path": "textkit/extra.py", "file_text": '"""Extra."""\n'},
    }
    s, _host, pid, out = await _one_step_then(
        run_session,
        s1,
        [create, done()],
        lambda root: (root / "textkit" / "extra.py").write_text("mine\n"),
    )
    assert (workspace / "textkit" / "extra.py").read_text() == "mine\n"
    assert out.status.value == "failed", out
    assert "textkit/extra.py" in out.message and "already exists" in out.message, out.message
    assert s.load(pid).state(1).status == StepStatus.FAILED


async def test_a_step_file_turned_into_a_symlink_fails_the_step_not_done(
    workspace: Path, run_session: Any
) -> None:
    """The user renamed textkit/slug.py to slugs.py and left a symbolic link in its place.
    Step 1's edit of textkit/slug.py resolves to slugs.py, outside the step: refused, the model
    ends without a change, and the step was recorded done. It fails, naming the file."""
    from tests.reliability.test_step_edge_cases import done, edit, step

    s1 = step(1, ["textkit/slug.py"], what="Say `(one)` in the docstring of `textkit/slug.py`.")

    def relink(root: Path) -> None:
        (root / "textkit" / "slug.py").rename(root / "textkit" / "slugs.py")
        (root / "textkit" / "slug.py").symlink_to("slugs.py")

    slugs = '"""URL slugs."""\n'
    s, _host, pid, out = await _one_step_then(
        run_session,
        s1,
        [edit("textkit/slug.py", slugs, '"""URL slugs (one)."""\n'), done()],
        relink,
    )
    assert (workspace / "textkit" / "slugs.py").read_text().startswith(slugs)
    assert out.status.value == "failed", out
    assert "slug" in out.message, out.message
    assert s.load(pid).state(1).status == StepStatus.FAILED
