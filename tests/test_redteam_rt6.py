"""Red team (rt6): the fixes of rt4, rt5, qa4, qa5 and keyrace attacked themselves."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.commands.argv_rules import Workspace
from planfirst.core.commands.validate import CommandPolicy
from planfirst.settings import Settings
from tests.test_redteam_rt4 import _PWN, _commit, _runs_unasked

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")


# --------------------------------------- a bare repository planted beside a committed tool (1)


async def test_a_committed_tool_beside_a_planted_bare_repository_still_asks(
    tmp_path: Path,
) -> None:
    """rt4 asked git about a tool in the tool's own folder (for submodules). A repository that
    also commits `HEAD`, `objects/` and `refs/` in `.venv/bin` makes that folder a bare
    repository to git, which then answers "not tracked" for the committed `.venv/bin/pytest`:
    it ran as an installed tool, unasked."""
    bindir = tmp_path / ".venv" / "bin"
    for sub in ("objects", "refs"):
        (bindir / sub).mkdir(parents=True)
        (bindir / sub / ".keep").write_text("")
    (bindir / "HEAD").write_text("ref: refs/heads/main\n")
    tool = bindir / "pytest"
    tool.write_text("#!/bin/sh\ntouch PWN\n")
    tool.chmod(0o755)
    _commit(tmp_path)
    asked, ran = await _runs_unasked(tmp_path, ".venv/bin/pytest -q")
    assert asked and not ran, "a committed .venv/bin/pytest ran unasked beside a bare repository"


# ------------------------------------------ python -m X with a tool's dependency in the root (2)


async def test_python_m_with_a_dependency_of_the_tool_in_the_root_asks(tmp_path: Path) -> None:
    """rt4 asked when a root module shadows the tool or a standard module, but a tool imports
    its installed dependencies from the working directory first too: a root
    `mypy_extensions.py` runs when `python -m mypy --version` starts."""
    (tmp_path / "mypy_extensions.py").write_text(_PWN + "raise SystemExit(3)\n")
    _commit(tmp_path)
    asked, ran = await _runs_unasked(tmp_path, "python -m mypy --version")
    assert asked and not ran, "python -m mypy imported the repository's mypy_extensions.py"


def test_python_m_asks_only_for_root_modules_that_shadow_something(tmp_path: Path) -> None:
    """A project's own root modules that shadow nothing installed stay no reason to ask; one
    named like a built-in module (never looked up on sys.path) is none either."""
    for rel in ("setup.py", "conftest.py", "mypkg/__init__.py", "tests/test_x.py", "time.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("\n")
    policy = CommandPolicy(Settings().validation.allow, Workspace(tmp_path))
    for cmd in ("python -m pytest -q", "python -m mypy mypkg"):
        d = policy.decide(cmd)
        assert d.allowed, (cmd, d.reason)


# ------------------------------- a model's out-of-scope write fails a step validation passes (3)


async def test_an_out_of_scope_write_attempt_does_not_fail_a_step_that_validates(
    workspace: Path, run_session: Any
) -> None:
    """qa5 failed a step without a change whose writes were refused, so that a file made
    meanwhile or a step file turned link is named. But a model trying a file outside the step
    (it often does: a README, a test) is refused the same way, and a step whose work is already
    there (a retry after a hand fix, a step a previous one covered) failed without running its
    validation, which passes."""
    from tests.reliability.test_step_edge_cases import done, plan_turn, step
    from tests.test_qa5_faces import TASK

    s1 = step(1, ["textkit/slug.py"], what="Make sure `textkit/slug.py` has a docstring.")
    stray = {
        "tool": "str_replace_based_edit_tool",
        "input": {"command": "create", "path": "NOTES.md", "file_text": "notes\n"},
    }
    s, _host = run_session([plan_turn([s1]), stray, done()])
    plan = await s.generate(TASK)
    await s.approve(plan.id, force=True)
    out = await s.execute_next(plan.id)
    assert not (workspace / "NOTES.md").exists()
    assert out.status.value == "done", out


# -------------------------------------------- a request id the surrogate fix rewrote (4)


async def test_a_request_whose_id_holds_a_lone_surrogate_is_answered_to_that_id(
    workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """rt5 replaced lone surrogates by U+FFFD throughout a message, its id included: the answer
    went to an id the client never sent, and the client waited forever (one answer per id,
    case 33). The id (and a `$/cancelRequest` naming it) is kept as sent."""
    from tests.test_redteam_rt5 import _answer, _exit, _serve

    # the test client's pygls logs the id it does not know with the surrogate in it: a captured
    # record pytest-xdist cannot send from its worker (CI crashed on it), so it is not captured
    caplog.set_level(logging.ERROR, logger="pygls.protocol.json_rpc")
    async with _serve(workspace, []) as (client, _editor, ledger):
        try:
            listing = {"command": "planfirst.listPlans", "arguments": []}
            _r, err = await _answer(
                ledger.raw_request("a\ud800", "workspace/executeCommand", listing),
                "a request with a lone surrogate in its id",
            )
            assert err is None, err
            assert ledger.problems() == []
        finally:
            await _exit(client)
