"""Red-team QA of `.planfirst/plans-dir` (core/workspace/opening.py) and of the `busy` rows of the
Plans view (lsp/plans_view.py): the orders users do things in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from planfirst.lsp import watch
from planfirst.settings import DEFAULT_PLANS_DIR
from tests.support.plan_fixtures import make_plan
from tests.support.waiting import wait_until
from tests.test_store_opening import _lsp, _terminal


def test_a_terminal_run_with_its_own_plans_dir_does_not_move_the_editors_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The editor's server uses `docs/plans` (workspace settings) and records it. The user then
    runs `PLANFIRST_PLANS_DIR=scratch/plans planfirst run ...` once: the language server that
    `planfirst run` starts (clientInfo planfirst-terminal) recorded *its* folder over the
    editor's, so the next plain `planfirst plans` looked in scratch/plans while the editor, still
    running, keeps its plans in docs/plans. The terminal reads its environment itself: its own
    server has nothing to record."""
    monkeypatch.delenv("PLANFIRST_PLANS_DIR", raising=False)
    editor, _ = _lsp(tmp_path, {"planfirst": {"plansDir": "docs/plans"}})
    assert (tmp_path / ".planfirst" / "plans-dir").read_text() == "docs/plans\n"

    monkeypatch.setenv("PLANFIRST_PLANS_DIR", "scratch/plans")
    from planfirst.lsp.app import create_server, start_session

    term = create_server()  # the server `planfirst run` spawns, with the terminal's environment
    term.protocol.set_writer(type("W", (), {"write": lambda s, d: None, "close": lambda s: 0})())
    term.root = tmp_path.resolve()
    term.client_info = types.ClientInfo(name="planfirst-terminal", version="x")
    term.apply_settings()
    start_session(term)
    assert term.session is not None
    assert term.session.store.plans_dir == tmp_path.resolve() / "scratch" / "plans"

    monkeypatch.delenv("PLANFIRST_PLANS_DIR")
    assert editor.session is not None
    assert _terminal(tmp_path)._store().plans_dir == editor.session.store.plans_dir


async def test_the_acp_agent_finds_the_plans_the_editor_and_the_terminal_find(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plansDir: docs/plans` in the editor's workspace settings: the terminal reads the record,
    the ACP agent (environment and its settings file only) looked in .planfirst/plans — a plan
    made in the editor could not be loaded in Zed ("no session or plan")."""
    from planfirst.acp.agent import PlanfirstAgent, load_agent_settings

    monkeypatch.delenv("PLANFIRST_PLANS_DIR", raising=False)
    editor, _ = _lsp(tmp_path, {"planfirst": {"plansDir": "docs/plans"}})
    assert editor.session is not None
    plan = make_plan()
    editor.session.store.save(plan)
    editor.session.store.settle()
    assert _terminal(tmp_path)._store().exists(plan.id)

    agent = PlanfirstAgent(*load_agent_settings(None))
    from acp import RequestError

    try:
        await agent.load_session(cwd=str(tmp_path), session_id=plan.id)
    except RequestError as e:  # "no session or plan ..." : it looked in .planfirst/plans
        pytest.fail(f"the ACP agent does not find the editor's plan: {e}")
    except AssertionError:
        pass  # found it, then stopped at the missing client connection: not what is tested


def test_an_explicit_plans_dir_in_the_acp_settings_file_wins_over_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from planfirst.acp.agent import PlanfirstAgent, load_agent_settings

    monkeypatch.delenv("PLANFIRST_PLANS_DIR", raising=False)
    (tmp_path / ".planfirst").mkdir()
    (tmp_path / ".planfirst" / "plans-dir").write_text("docs/plans\n")
    conf = tmp_path.parent / f"{tmp_path.name}-acp.json"
    conf.write_text(json.dumps({"plansDir": DEFAULT_PLANS_DIR}))
    agent = PlanfirstAgent(*load_agent_settings(str(conf)))
    assert agent.settings_for(tmp_path.resolve()).plans_dir == DEFAULT_PLANS_DIR
    plain = PlanfirstAgent(*load_agent_settings(None))
    assert plain.settings_for(tmp_path.resolve()).plans_dir == "docs/plans"


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from planfirst.plan import claims
    claims.claim(Path(sys.argv[1]), "999999 tok", "executing step 1", lambda p: p)
    print("held", flush=True)
    time.sleep(600)
    """
)


async def test_a_plan_busy_in_a_killed_planfirst_is_shown_free_again(tmp_path: Path) -> None:
    """A `planfirst run` executing a step is SIGKILLed (OOM, kill -9): its claim file stays in
    .planfirst/running/ (its lock is gone). The editor's Plans view and status bar said
    "in another planfirst: executing step 1" with no inline action until something else made
    the server publish the plan again: no file changes when a process dies."""
    server, writer = _lsp(tmp_path)
    assert server.session is not None
    plan = make_plan()
    server.session.store.save(plan)
    server.session.store.settle()
    claim = tmp_path / ".planfirst" / "running" / plan.id
    claim.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd() / "server"), "."])}
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-c", _HOLDER, str(claim)], stdout=subprocess.PIPE, env=env
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"held"
        # the client reports the claim file (didChangeWatchedFiles): the view shows it busy
        watch.changed(
            server,
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=claim.as_uri(), type=types.FileChangeType.Created)]
            ),
        )
        await wait_until(
            lambda: (_statuses(writer, plan.id) or [{}])[-1].get("elsewhere") is True,
            10,
            "the plan published busy elsewhere",
        )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert claim.exists()  # left behind; no file event comes
        await wait_until(
            lambda: _statuses(writer, plan.id)[-1]["busy"] is None, 10, "the plan shown free again"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        server.closing = True


def _statuses(writer: Any, plan_id: str) -> list[dict[str, Any]]:
    out = []
    for chunk in writer.sent:
        body = chunk.split(b"\r\n\r\n", 1)[-1]
        try:
            msg = json.loads(body)
        except ValueError:
            continue
        if msg.get("method") == "planfirst/status" and msg["params"].get("planId") == plan_id:
            out.append(msg["params"])
    return out


def test_an_empty_plans_dir_variable_is_no_plans_dir_for_the_terminal_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`PLANFIRST_PLANS_DIR=` (set, empty) is no setting for load_settings; the terminal took it
    as one and skipped the recorded folder, so it read .planfirst/plans while the editor's
    server kept its plans in docs/plans."""
    from planfirst.core.workspace.opening import environ_for_terminal
    from planfirst.settings import PLANS_DIR_ENV, load_settings

    (tmp_path / ".planfirst").mkdir()
    (tmp_path / ".planfirst" / "plans-dir").write_text("docs/plans\n")
    env = environ_for_terminal(tmp_path, {PLANS_DIR_ENV: ""})
    assert load_settings(environ=env)[0].plans_dir == "docs/plans"
    monkeypatch.setenv(PLANS_DIR_ENV, "")
    assert _terminal(tmp_path)._store().plans_dir == tmp_path.resolve() / "docs" / "plans"


@pytest.mark.parametrize("plans_dir", ["docs/plans ", " docs/plans", "docs/plans."])
def test_a_plans_dir_with_edge_spaces_or_dots_is_read_back_as_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plans_dir: str
) -> None:
    """A stray space in the editor's `plansDir` is another folder on Linux and macOS: the
    terminal read the record back stripped and looked in `docs/plans`, not where the editor's
    server keeps its plans."""
    monkeypatch.delenv("PLANFIRST_PLANS_DIR", raising=False)
    editor, _ = _lsp(tmp_path, {"planfirst": {"plansDir": plans_dir}})
    assert editor.session is not None
    plan = make_plan()
    editor.session.store.save(plan)
    editor.session.store.settle()
    store = _terminal(tmp_path)._store()
    assert store.plans_dir == editor.session.store.plans_dir
    assert store.exists(plan.id)
