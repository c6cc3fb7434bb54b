"""Red team (rt4): hostile repositories, clients and model answers against the surfaces the
earlier passes covered least (validation commands, ACP, MCP, the terminal)."""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from planfirst.core.commands.argv_rules import Workspace
from planfirst.core.commands.validate import CommandPolicy, run_validation
from planfirst.settings import Settings

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")

_PWN = "open('PWN', 'w').close()\n"
_GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.file.allow=always"]


def _commit(repo: Path) -> None:
    subprocess.run([*_GIT, "-C", str(repo), "init", "-q"], check=True)
    subprocess.run([*_GIT, "-C", str(repo), "add", "-f", "."], check=True)
    subprocess.run([*_GIT, "-C", str(repo), "commit", "-qm", "hostile"], check=True)


def _add_submodule(ws: Path, repo: Path, name: str) -> None:
    add = [*_GIT, "-C", str(ws), "submodule", "add", "-q", str(repo), name]
    subprocess.run(add, check=True, capture_output=True)
    subprocess.run([*_GIT, "-C", str(ws), "commit", "-qm", name], check=True)


async def _runs_unasked(ws: Path, cmd: str) -> tuple[list[str], bool]:
    """(the questions asked, whether the workspace's code ran) for `cmd` run by the real runner
    (answering No to every question)."""
    asked: list[str] = []

    async def no(command: str, reason: str) -> bool:
        asked.append(reason)
        return False

    env = {**os.environ, "PATH": f"{sys.prefix}/bin{os.pathsep}{os.environ.get('PATH', '')}"}
    policy = CommandPolicy(Settings().validation.allow, Workspace(ws, env))
    await run_validation([cmd], ws, policy, timeout_s=60, output_cap=10_000, confirm=no, env=env)
    return asked, (ws / "PWN").exists()


# ------------------------------------------------------------- python -m X shadowed (finding 1)


async def test_python_m_with_a_sourceless_pyc_of_the_tool_in_the_root_asks(tmp_path: Path) -> None:
    """`python -m pytest` imports `pytest.pyc` from the working directory (a sourceless module
    is importable like `pytest.py`): a repository that ships one runs its code unasked."""
    src = tmp_path / "build" / "pytest.py"
    src.parent.mkdir()
    src.write_text(_PWN)
    py_compile.compile(str(src), cfile=str(tmp_path / "pytest.pyc"))
    src.unlink()
    _commit(tmp_path)
    asked, ran = await _runs_unasked(tmp_path, "python -m pytest --version")
    assert asked and not ran, "python -m pytest ran the repository's pytest.pyc unasked"


async def test_python_m_with_a_standard_module_shadowed_in_the_root_asks(tmp_path: Path) -> None:
    """`python -m pytest` puts the working directory first on `sys.path`, so a root `typing.py`
    replaces the standard module every tool imports: the repository's code runs unasked."""
    (tmp_path / "typing.py").write_text(_PWN + "raise SystemExit(3)\n")
    _commit(tmp_path)
    asked, ran = await _runs_unasked(tmp_path, "python -m pytest --version")
    assert asked and not ran, "python -m pytest imported the repository's typing.py unasked"


async def test_python_m_still_runs_in_an_ordinary_project(tmp_path: Path) -> None:
    """The fix keeps `python -m pytest` usable: a project's own package, tests and setup files
    at the root are no reason to ask."""
    for rel in ("setup.py", "conftest.py", "mypkg/__init__.py", "tests/test_x.py", "noxfile.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("\n")
    policy = CommandPolicy(Settings().validation.allow, Workspace(tmp_path))
    for cmd in ("python -m pytest -q", "python -m mypy mypkg", "python -I -m pytest"):
        d = policy.decide(cmd)
        assert d.allowed, (cmd, d.reason)
    (tmp_path / "typing.py").write_text("\n")
    assert policy.decide("python -I -m pytest").allowed  # -I: the root is not on sys.path


# ------------------------------------------------------------- a tool in a submodule (finding 2)


async def test_a_tool_committed_in_a_submodule_is_not_an_installed_tool(tmp_path: Path) -> None:
    """A `.venv/bin/pytest` that a submodule commits is the repository's code, although the
    superproject's `git ls-files` does not list it: it asks like a committed one."""
    inner, ws = tmp_path / "inner", tmp_path / "ws"
    tool = inner / ".venv" / "bin" / "pytest"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\ntouch PWN\n")
    tool.chmod(0o755)
    _commit(inner)
    ws.mkdir()
    (ws / "README.md").write_text("x\n")
    _commit(ws)
    _add_submodule(ws, inner, "sub")
    asked, ran = await _runs_unasked(ws, "sub/.venv/bin/pytest -q")
    assert asked and not ran, "a submodule's committed .venv/bin/pytest ran unasked"


# ------------------------------------------------- a relative PATH entry in the user's PATH (finding 3)


@pytest.mark.parametrize("user_path", ["/usr/bin:/bin:", "/usr/bin:.:/bin", ""])
async def test_a_relative_path_entry_never_finds_a_workspace_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_path: str
) -> None:
    """A user PATH with an empty entry or `.` (a trailing colon; PATH unset) means "the working
    directory" to the command, which runs in the workspace root — but the policy looked the
    program up from planfirst's own working directory (an ACP agent serves many workspaces), so
    a repository's `tox` script ran as the allow-listed tool."""
    from planfirst.core.workflow.checks import command_env

    ws, elsewhere = tmp_path / "ws", tmp_path / "elsewhere"
    elsewhere.mkdir()
    ws.mkdir()
    tool = ws / "tox"
    tool.write_text("#!/bin/sh\ntouch PWN\n")
    tool.chmod(0o755)
    _commit(ws)
    monkeypatch.setenv("PATH", user_path)
    monkeypatch.chdir(elsewhere)
    env = command_env(ws)
    assert all(os.path.isabs(p) for p in env["PATH"].split(os.pathsep)), env["PATH"]
    asked: list[str] = []

    async def no(command: str, reason: str) -> bool:
        asked.append(reason)
        return False

    policy = CommandPolicy(Settings().validation.allow, Workspace(ws, env))
    await run_validation(
        ["tox -q"], ws, policy, timeout_s=30, output_cap=10_000, confirm=no, env=env
    )
    assert not (ws / "PWN").exists(), "the repository's ./tox ran as the allow-listed tox"
