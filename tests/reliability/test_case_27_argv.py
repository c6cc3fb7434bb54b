"""docs/reliability.md case 27: allow-listed programs do not pass their trust on; every example of
the red-team pass runs through the real validation runner (and a few through the server)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from planfirst.core.commands.argv_rules import Workspace
from planfirst.core.commands.validate import CommandPolicy, run_validation
from planfirst.settings import Settings
from tests.reliability.conftest import Invariants, serve
from tests.reliability.red_team import edit_turn
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command

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
    files = {
        "true.py": "open('PWN', 'w').close()\n",
        "tools/sh": _SH,
        "bin/pytest": _SH,
        ".venv/bin/ruff": _SH,
        "tools/eslint.js": "require('fs').writeFileSync('PWN', '')\n",
        "x.c": "int x;\n",
        "evil.py": "open('PWN', 'w').close()\n",
        "package.json": '{"scripts": {"test": "true"}}\n',
    }
    for rel, text in files.items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
        (ws / rel).chmod(0o755)
    git = ["git", "-C", str(ws), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-f", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "hostile"], check=True)


@pytest.mark.parametrize("cmd", TRUST_PASSING)
async def test_case_27_allow_listed_programs_do_not_pass_trust_on(
    ws: Path, inv: Invariants, cmd: str
) -> None:
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
    results = await run_validation(
        [cmd], ws, policy, timeout_s=30, output_cap=10_000, confirm=no, env=env
    )
    assert asked, f"{cmd!r} ran without a question"
    assert results[0].refused and results[0].exit_code is None
    assert not (ws / "PWN").exists()


async def test_case_27_installed_tools_still_run(ws: Path, inv: Invariants) -> None:
    """The fix keeps the allow-list useful: installed tools and their plain flags run."""
    policy = CommandPolicy(Settings().validation.allow, Workspace(ws))
    for cmd in [
        "pytest -q",
        "python -m pytest -q",
        "python -I -m true",
        "make test",
        "gcc -O2 -c x.c",
        "npm test",
        "pylint textkit",
        "ruff check .",
    ]:
        d = policy.decide(cmd)
        assert d.allowed, (cmd, d.reason)


async def test_case_27_through_the_server(ws: Path, inv: Invariants) -> None:
    """docs/reliability.md case 27 end to end: the step's hostile validation commands are each
    asked about through window/showMessageRequest; on 'No' none of them runs."""
    _hostile_workspace(ws)
    cmds = ["make --eval='x: ; @touch PWN' x", "bin/pytest", "python -m true", "ruff check ."]
    body = one_step_plan(cmds)
    readme_edit = edit_turn("README.md", "# textkit", "# textkit\n\nSee `count --top N`.")
    srv = inv.scripted_server([plan_turn(body), readme_edit, {"text": "done"}])
    opts = {"execution": {"maxAttempts": 1}, "planning": {"lintFeedback": False}}
    async with serve(inv, ws, srv, init_options=opts) as (client, editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        editor.answer = "No"
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "failed", r
        asked = [c for c in cmds if any(c in q for q in editor.questions)]
    assert asked == cmds, editor.questions
    assert not (ws / "PWN").exists()
