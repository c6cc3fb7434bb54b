"""Red team (rt7): the fixes of rt6 and qa6 attacked themselves."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from planfirst.core.commands.argv_rules import Workspace
from planfirst.core.commands.validate import CommandPolicy
from planfirst.settings import Settings
from tests.test_redteam_rt4 import _PWN, _commit

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")


def _policy(ws: Path, env: dict[str, str] | None = None) -> CommandPolicy:
    return CommandPolicy(Settings().validation.allow, Workspace(ws, env))


def _venv_with_root_on_path(ws: Path) -> dict[str, str]:
    """A user's `.venv` in the workspace with the project installed editable the way hatchling,
    flit, pdm and setuptools' compat mode do it: a `.pth` naming the project root."""
    venv = ws / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    Path(purelib).mkdir(parents=True, exist_ok=True)
    (Path(purelib) / "_mypkg.pth").write_text(f"{ws}\n")
    return {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


# ------------------------------------------------- git asked about a tool runs no workspace code (1)


def test_asking_git_whether_a_tool_is_tracked_runs_no_fsmonitor_of_the_workspace(
    tmp_path: Path,
) -> None:
    """`git ls-files` runs `core.fsmonitor` from the repository's `.git/config`: a workspace
    unpacked from an archive (its `.git/` included) ran its own program while planfirst only
    looked at whether the user's `.venv/bin/pytest` is tracked — before any question."""
    (tmp_path / "README.md").write_text("hi\n")
    _commit(tmp_path)
    hook = tmp_path / ".git" / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch '{tmp_path / 'PWN'}'\n")
    hook.chmod(0o755)
    subprocess.run(["git", "-C", str(tmp_path), "config", "core.fsmonitor", str(hook)], check=True)
    tool = tmp_path / ".venv" / "bin" / "pytest"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    d = _policy(tmp_path).decide(".venv/bin/pytest -q")
    assert d.allowed, d.reason  # the user's untracked virtualenv: an installed tool
    assert not (tmp_path / "PWN").exists(), "git ran the workspace's core.fsmonitor"


# ---------------------------------------- the interpreter probe: secrets, editable installs (2, 3)


def test_the_interpreter_probe_hands_no_secret_to_workspace_code(tmp_path: Path) -> None:
    """The probe that asks a `python -m` command's interpreter what it finds ran with
    planfirst's whole environment, while the command itself runs without secrets: a
    `sitecustomize.py` the interpreter reaches (an editable install puts the root on its path)
    read the API key before any question."""
    env = _venv_with_root_on_path(tmp_path)
    env["ANTHROPIC_API_KEY"] = "sk-ant-rt7-secret"
    (tmp_path / "sitecustomize.py").write_text(
        "import os\n"
        f"open({str(tmp_path / 'leak')!r}, 'w').write(os.environ.get('ANTHROPIC_API_KEY', ''))\n"
    )
    (tmp_path / "typing.py").write_text(_PWN)  # something to ask the interpreter about
    _policy(tmp_path, env).decide("python -m pytest -q")
    leak = tmp_path / "leak"
    assert not leak.exists() or "sk-ant" not in leak.read_text(), "the probe leaked the key"


def test_an_editable_install_of_the_project_is_no_reason_to_ask(tmp_path: Path) -> None:
    """With the project installed editable (its root on the interpreter's path through a
    `.pth`), the probe found the project's own package on the interpreter's path and every
    `python -m pytest` asked: the root shadows itself, not an installed module."""
    env = _venv_with_root_on_path(tmp_path)
    for rel in ("mypkg/__init__.py", "tests/test_x.py", "conftest.py", "helpers.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("\n")
    policy = _policy(tmp_path, env)
    for cmd in ("python -m pytest -q", "python -m mypy mypkg"):
        d = policy.decide(cmd)
        assert d.allowed, (cmd, d.reason)
    (tmp_path / "typing.py").write_text("\n")  # a real shadow still asks
    assert not _policy(tmp_path, env).decide("python -m pytest -q").allowed


# ------------------------------------------ many root files silence the probe (E2BIG) (4)


def test_a_root_too_full_for_the_probe_s_argv_still_finds_the_shadowed_dependency(
    tmp_path: Path,
) -> None:
    """The root's module names went to the probe as arguments: a repository with enough root
    files (25,000 long names) made the interpreter fail to start (E2BIG), and the fallback
    counts only standard names, so its `mypy_extensions.py` ran under `python -m mypy`."""
    for i in range(25_000):
        (tmp_path / f"m_{i:05d}_{'x' * 90}.py").touch()
    (tmp_path / "mypy_extensions.py").write_text(_PWN)
    env = {**os.environ, "PATH": f"{sys.prefix}/bin{os.pathsep}{os.environ.get('PATH', '')}"}
    d = _policy(tmp_path, env).decide("python -m mypy --version")
    assert not d.allowed and "mypy_extensions" in d.reason, d.reason


# ------------------------------- a committed virtualenv around the user's own interpreter (5)


async def test_a_committed_virtualenv_around_the_user_s_own_python_asks(tmp_path: Path) -> None:
    """A repository commits `venv/bin/python` as a link to the user's interpreter, with a
    `venv/pyvenv.cfg` and a `.pth` in `venv/lib/…/site-packages`. The program's real path is
    outside the workspace, so it counted as installed; but Python configures itself from the
    `pyvenv.cfg` beside the path it was started as, and runs the `.pth`: `python -m pytest`
    (first on PATH: the workspace's `venv/bin`) ran the repository's code unasked — and the
    interpreter probe ran it before any question."""
    from planfirst.core.commands.validate import run_validation
    from planfirst.core.workflow.checks import command_env

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    home = os.path.dirname(os.path.realpath(sys.executable))
    (venv / "pyvenv.cfg").write_text(f"home = {home}\ninclude-system-site-packages = false\n")
    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    site.mkdir(parents=True)
    (site / "x.pth").write_text(f"import os; open({str(tmp_path / 'PWN')!r}, 'w').close()\n")
    (tmp_path / "mypkg").mkdir()  # a root name for the probe to ask about
    (tmp_path / "mypkg" / "__init__.py").write_text("\n")
    _commit(tmp_path)
    env = command_env(tmp_path)
    asked: list[str] = []

    async def no(command: str, reason: str) -> bool:
        asked.append(reason)
        return False

    policy = CommandPolicy(Settings().validation.allow, Workspace(tmp_path, env))
    cmd = "python -m pytest --version"
    await run_validation(
        [cmd], tmp_path, policy, timeout_s=60, output_cap=10_000, confirm=no, env=env
    )
    assert asked and not (tmp_path / "PWN").exists(), "the committed venv's .pth ran unasked"
