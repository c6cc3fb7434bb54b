"""Red-team cases 25, 27, 28, 29, 31 and 32 of docs/reliability.md, end to end through LSP with
the scripted model; each test also checks the five invariants (case 22, conftest.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from planfirst.core.argv_rules import Workspace
from planfirst.core.validate import CommandPolicy, run_validation
from planfirst.plan.store import PlanStore
from planfirst.settings import Settings
from tests.lsp_harness import command
from tests.reliability.conftest import CANARY, Invariants, serve
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn


def _edit(path: str, old: str, new: str) -> dict[str, Any]:
    return {"tool": "str_replace_based_edit_tool",
            "input": {"command": "str_replace", "path": path, "old_str": old, "new_str": new}}


async def test_case_25_symlink_to_a_secret_is_that_secret(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 25: `docs/settings.txt -> ../.env` is the `.env` on every read
    path: context asked for by the user, exploration (view, list, search), and a plan step
    that names it (the execution prompt). The canary never reaches the model."""
    (ws / "docs").mkdir()
    (ws / "docs" / "settings.txt").symlink_to(Path("..") / ".env")
    no_canary = {"not_contains": [CANARY]}
    body = one_step_plan(["pytest -q tests/test_slug.py"], path="docs/settings.txt")
    srv = inv.scripted_server([
        {"tool": "view_file", "input": {"path": "docs/settings.txt"}, "expect": no_canary},
        {"tool": "list_dir", "input": {"path": "docs"}, "expect": no_canary},
        {"tool": "search_text", "input": {"pattern": "canary"}, "expect": no_canary},
        {**plan_turn(body), "expect": {"not_contains": [CANARY, "settings.txt/"]}},
        # the step is never sent: if it were, this turn would receive the prompt
        {"text": "done", "expect": no_canary},
    ])
    async with serve(inv, ws, srv, init_options={"planning": {"lintFeedback": False}}) as (client, _editor, _l):
        pid = (await command(client, "planfirst.generatePlan",
                             {"task": "Explain the settings", "files": ["docs/settings.txt"]}))["planId"]
        plan = PlanStore(ws).load(pid)
        assert "docs/settings.txt" not in {e.path for e in plan.provenance.included}
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        with pytest.raises(JsonRpcException, match="never reads"):
            await command(client, "planfirst.executeNextStep", {"planId": pid})
    assert srv.failures == [], srv.failures
    assert len(srv.requests) == 4, "the step was sent to the model"


TRUST_CASES = [".VSCode/tasks.json", "GNUmakefile", "pytest.ini", ".husky/pre-commit", ".Nvim.lua",
               ".cargo/config.toml", "sub/.devcontainer/devcontainer.json"]


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
    body["steps"][0].update(files_to_modify=[], files_to_create=files,
                            description="Create the tool configuration files listed in `files_to_create`.")
    create = [{"tool": "str_replace_based_edit_tool",
               "input": {"command": "create", "path": p, "file_text": "x = 1\n"}} for p in files]
    srv = inv.scripted_server([plan_turn(body), *create, {"text": "done"}])
    async with serve(inv, ws, srv, init_options={"planning": {"lintFeedback": False}}) as (client, editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Add tool configs"}))["planId"]
        plan = PlanStore(ws).load(pid)
        flagged = {p for f in plan.findings if f.rule == "protected-file" for p in files if repr(p) in f.message}
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        editor.answer = "No"
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "rejected", r
        asked = {p for q in editor.questions for p in files if p in q}
    assert flagged == asked == set(TRUST_CASES), (flagged, asked)
    assert editor.edits == [] and not (ws / ".VSCode").exists()


async def test_case_28_prose_in_criteria_never_runs(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 28: "Do not run `make deploy` until …" never runs `make deploy`;
    the plan document shows the one criterion that runs, and only that one runs."""
    (ws / "Makefile").write_text("deploy:\n\ttouch DEPLOYED\n")
    body = one_step_plan(["pytest -q tests/test_slug.py"])
    body["test_criteria"] = [
        "Do not run `make deploy` until a maintainer has reviewed the change",
        "`make deploy` must not run before the release",
        "`pytest -q tests/test_slug.py` passes",
    ]
    readme_edit = _edit("README.md", "# textkit", "# textkit\n\nSee `count --top N`.")
    srv = inv.scripted_server([plan_turn(body), readme_edit, {"text": "done"}])
    async with serve(inv, ws, srv) as (client, _editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))["planId"]
        md = (ws / ".planfirst" / "plans" / pid / "plan.md").read_text()
        assert "> Runs after the last step: `pytest -q tests/test_slug.py`." in md
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "done", r
        plan = PlanStore(ws).load(pid)
    assert [v.command for v in plan.final_validation] == ["pytest -q tests/test_slug.py"]
    assert not (ws / "DEPLOYED").exists(), "prose in a test criterion ran `make deploy`"


LEAKY_TEST = '''\
import os


def test_leaks_secrets():
    env = open(os.path.join(os.path.dirname(__file__), "..", ".env")).read()
    token = "ghp" + "-leak-" + "7f3a9c2e"
    assert False, "config was: " + env + " token " + token
'''


async def test_case_32_secrets_in_command_output_are_redacted(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 32: a failing test that prints the `.env` content and a token
    held in a variable scrubbed from the command environment: neither value reaches the retry
    request, the plan file or the log; `[redacted]` stands in their place."""
    token = "ghp-leak-7f3a9c2e"
    (ws / "tests" / "test_leak.py").write_text(LEAKY_TEST)
    body = one_step_plan(["python -m pytest -q tests/test_leak.py"])
    readme_edit = _edit("README.md", "# textkit", "# textkit\n\nSee `count --top N`.")
    clean = {"not_contains": [CANARY, token]}
    srv = inv.scripted_server([
        plan_turn(body), readme_edit, {"text": "done"},
        # the retry request carries the failing output, redacted
        {"text": "I cannot fix this test.", "expect": {**clean, "contains": ["[redacted]"]}},
    ])
    opts = {"execution": {"maxAttempts": 2}}
    async with serve(inv, ws, srv, init_options=opts, env={"GITHUB_TOKEN": token}) as (client, _editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))["planId"]
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
TRUST_PASSING = [
    "make --eval='x: ; @touch PWN' x",
    "make -E 'x: ; @touch PWN' x",
    "make SHELL=tools/sh x",
    "gcc -wrapper /bin/sh,-c,'touch PWN' -c x.c",
    "gcc -fplugin=./evil.so -c x.c",
    "npm test --script-shell=tools/sh",
    "pylint --load-plugins=evil textkit",
    "node tools/eslint.js",
    "python -m true",
    "bin/pytest",
    "ruff check .",  # resolves to the committed .venv/bin/ruff
]
_SH = "#!/bin/sh\ntouch PWN\n"


def _hostile_workspace(ws: Path) -> None:
    files = {"true.py": "open('PWN', 'w').close()\n", "tools/sh": _SH, "bin/pytest": _SH,
             ".venv/bin/ruff": _SH, "tools/eslint.js": "require('fs').writeFileSync('PWN', '')\n",
             "x.c": "int x;\n", "evil.py": "open('PWN', 'w').close()\n",
             "package.json": '{"scripts": {"test": "true"}}\n'}
    for rel, text in files.items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
        (ws / rel).chmod(0o755)
    git = ["git", "-C", str(ws), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-f", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "hostile"], check=True)


@pytest.mark.parametrize("cmd", TRUST_PASSING)
async def test_case_27_allow_listed_programs_do_not_pass_trust_on(ws: Path, inv: Invariants, cmd: str) -> None:
    """docs/reliability.md case 27: an allow-listed program with a flag that runs other code,
    a workspace script or module under a tool's name, or a tool the repository commits, is asked
    about; refused, nothing runs."""
    _hostile_workspace(ws)
    # the PATH validation runs with: the workspace's virtualenv first (Session.command_env)
    env = {**os.environ, "PATH": f"{ws / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    asked: list[str] = []

    async def no(command: str, reason: str) -> bool:
        asked.append(reason)
        return False

    policy = CommandPolicy(Settings().validation.allow, Workspace(ws, env))
    results = await run_validation([cmd], ws, policy, timeout_s=30, output_cap=10_000, confirm=no, env=env)
    assert asked, f"{cmd!r} ran without a question"
    assert results[0].refused and results[0].exit_code is None
    assert not (ws / "PWN").exists()


async def test_case_27_installed_tools_still_run(ws: Path, inv: Invariants) -> None:
    """The fix keeps the allow-list useful: installed tools and their plain flags run."""
    policy = CommandPolicy(Settings().validation.allow, Workspace(ws))
    for cmd in ["pytest -q", "python -m pytest -q", "python -I -m true", "make test", "gcc -O2 -c x.c",
                "npm test", "pylint textkit", "ruff check ."]:
        d = policy.decide(cmd)
        assert d.allowed, (cmd, d.reason)


async def test_case_27_through_the_server(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 27 end to end: the step's hostile validation commands are each
    asked about through window/showMessageRequest; on 'No' none of them runs."""
    _hostile_workspace(ws)
    cmds = ["make --eval='x: ; @touch PWN' x", "bin/pytest", "python -m true", "ruff check ."]
    body = one_step_plan(cmds)
    readme_edit = _edit("README.md", "# textkit", "# textkit\n\nSee `count --top N`.")
    srv = inv.scripted_server([plan_turn(body), readme_edit, {"text": "done"}])
    opts = {"execution": {"maxAttempts": 1}, "planning": {"lintFeedback": False}}
    async with serve(inv, ws, srv, init_options=opts) as (client, editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        editor.answer = "No"
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "failed", r
        asked = [c for c in cmds if any(c in q for q in editor.questions)]
    assert asked == cmds, editor.questions
    assert not (ws / "PWN").exists()


# ---------------------------------------------------------------- case 29: nothing freezes


async def _wait_for(predicate: Callable[[], bool], what: str, limit_s: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")  # pragma: no cover
        await asyncio.sleep(0.01)


def step_line(ws: Path, pid: str) -> int:
    """The line of `### Step 1` in a plan document (where hover answers)."""
    lines = (ws / ".planfirst" / "plans" / pid / "plan.md").read_text().splitlines()
    return next(i for i, t in enumerate(lines) if t.startswith("### Step 1"))


async def hovers_during(client: Any, uri: str, line: int, started: Callable[[], bool],
                       finished: Callable[[], bool], what: str, limit_s: float = 120.0) -> None:
    """Once `started()`, hover on a plan document again and again until `finished()`, and
    assert that the server kept answering: several hovers were answered while the work ran and
    none waited more than a quarter of the work's duration. A server whose event loop (or GIL)
    the work holds answers a hover only after the work, so one hover waits for nearly all of it.
    Relative to the work, not a wall-clock limit: a loaded machine slows both alike."""
    await _wait_for(started, f"{what} to start", limit_s)
    doc = types.TextDocumentIdentifier(uri=uri)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    waits: list[float] = []
    while not finished():
        sent = loop.time()
        hover = await client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=types.Position(line=line, character=2)))
        waits.append(loop.time() - sent)
        assert hover is not None
        if loop.time() - t0 > limit_s:
            raise AssertionError(f"{what} did not finish")
    work = loop.time() - t0
    assert len(waits) >= 3, f"only {len(waits)} hover(s) answered during {what} ({work:.2f} s)"
    assert max(waits) < work / 4, (
        f"a hover waited {max(waits):.2f} s during {what}, which took {work:.2f} s: the server froze")


def _progress(client: Any) -> str:
    return "\n".join(str(getattr(p, "message", None) or getattr(p, "title", "") or "")
                     for reports in client.progress_reports.values() for p in reports)


NOISE = '''\
import sys

for i in range(300):  # lines that make the old problem-parser regexes quadratic
    print("  1:1  error x" + " " * 480 + "!")
print("NOISE-DONE", flush=True)
sys.exit(1)
'''


async def test_case_29_problem_parsing_never_freezes(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 29: failing output whose lines make the problem parsers'
    regexes quadratic is parsed off the event loop with lines cut to a bounded length: hovers
    on the plan document are answered while it is parsed."""
    (ws / "noise.py").write_text(NOISE)
    (ws / "Makefile").write_text("noise:\n\t@python3 noise.py\n")
    body = one_step_plan(["make noise"])
    readme_edit = _edit("README.md", "# textkit", "# textkit\n\nSee `count --top N`.")
    srv = inv.scripted_server([plan_turn(body), readme_edit, {"text": "done"}, {"text": "cannot fix"}])
    opts = {"execution": {"maxAttempts": 2}}
    async with serve(inv, ws, srv, init_options=opts) as (client, _editor, _l):
        res = await command(client, "planfirst.generatePlan", {"task": "Document --top"})
        await command(client, "planfirst.approvePlan", {"planId": res["planId"], "force": True})
        step = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": res["planId"]}))
        await hovers_during(
            client, res["uri"], step_line(ws, res["planId"]),
            started=lambda: any("NOISE-DONE" in m.message for m in client.log_messages),
            finished=lambda: any("validation failed" in m.message for m in client.messages) or step.done(),
            what="parsing the failing output")
        assert (await step)["status"] == "failed"


def _search_data(ws: Path) -> None:
    """24 MB of 27-space lines: a search takes seconds even in linear time (off the loop)."""
    line = " " * 27 + "\n"
    (ws / "data").mkdir()
    for i in range(24):
        (ws / "data" / f"blank{i:02}.txt").write_text(line * (1_000_000 // len(line)))


async def _plan_then_search(ws: Path, inv: Invariants, search: dict[str, Any], prepare: Callable[[], None]) -> None:
    """Plan A; then `prepare()` the workspace and plan B, whose model searches with `search`:
    hovers on plan A's document are answered while B gathers context and searches."""
    body = one_step_plan(["pytest -q tests/test_slug.py"])
    srv = inv.scripted_server([plan_turn(body), {"tool": "search_text", "input": search}, plan_turn(body)])
    async with serve(inv, ws, srv) as (client, _editor, _l):
        res = await command(client, "planfirst.generatePlan", {"task": "Document --top"})
        prepare()
        before = _progress(client).count("gathering context")
        second = asyncio.ensure_future(command(client, "planfirst.generatePlan", {"task": "Document --top again"}))
        await hovers_during(
            client, res["uri"], step_line(ws, res["planId"]),
            started=lambda: _progress(client).count("gathering context") > before,
            finished=lambda: len(srv.requests) >= 3 or second.done(),
            what="gathering context and searching")
        await second
    assert srv.failures == [], srv.failures


@pytest.mark.timeout(120)
async def test_case_29_search_pattern_never_freezes(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 29: the model's search pattern `(?:\\s|\\s)*$x` (17 s per
    27-space line in Python's `re`) is matched in linear time: hovers keep being answered."""
    await _plan_then_search(ws, inv, {"pattern": r"(?:\s|\s)*$x"}, lambda: _search_data(ws))


@pytest.mark.timeout(120)
async def test_case_29_gitignore_line_never_freezes(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 29: the .gitignore line `*a*a*a*a*a*a*a*a*b` against a long
    name (seconds per name for a backtracking matcher) costs nothing while the tree is walked."""

    def prepare() -> None:
        _search_data(ws)
        (ws / ".gitignore").write_text("*a*a*a*a*a*a*a*a*b\n")
        (ws / "names").mkdir()
        (ws / "names" / ("a" * 44 + "0")).write_text("x\n")

    await _plan_then_search(ws, inv, {"pattern": "no such text anywhere"}, prepare)
