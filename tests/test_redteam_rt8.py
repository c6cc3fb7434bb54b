"""Red team (rt8): the planning side and the money, against a hostile repository and model."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from planfirst.core.planning.context import gather_context
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.settings import ContextSettings, load_settings

# ---------------------------------------------------------------- settings: the models


def test_a_workspace_cannot_switch_to_a_pricier_model_or_turn_spending_back_on() -> None:
    """`.vscode/settings.json` in a cloned repository said `"planfirst.planningModel":
    "claude-mythos-preview"` ($15/$75 against the default's $4/$20): the model choice is not a
    number, so no ceiling held it, and every plan cost almost four times as much. It could also
    turn the critique pass (a second model run per plan) and lint re-asks back on."""
    user = {
        "planfirst": {
            "executionModel": "claude-haiku-4-5",
            "critique": {"enabled": False, "tighten": False},
            "planning": {"lintFeedback": False},
        }
    }
    workspace = {
        "planfirst": {
            "planningModel": "claude-mythos-preview",
            "executionModel": "claude-opus-4-1",
            "critique": {"enabled": True, "tighten": True, "model": "claude-opus-4-1"},
            "planning": {"lintFeedback": True},
        }
    }
    settings, problems = load_settings(user, workspace, environ={})
    assert settings.planning_model == "claude-opus-5-5"  # the default, not the repository's
    assert settings.execution_model == "claude-haiku-4-5"
    assert not settings.critique.enabled and not settings.critique.tighten
    assert settings.critique.model == ""
    assert not settings.planning.lint_feedback
    said = "\n".join(problems)
    for key in ("planningModel", "executionModel", "critique.model", "critique.enabled"):
        assert f"planfirst.{key}" in said

    # a model no dearer than the user's (or the default) may still be chosen by a workspace,
    # and a switch may be turned off
    cheaper = {
        "planfirst": {
            "planningModel": "claude-sonnet-5-5",
            "executionModel": "claude-3-haiku",
            "critique": {"enabled": False},
        }
    }
    settings, _ = load_settings(None, cheaper, environ={})
    assert settings.planning_model == "claude-sonnet-5-5"
    assert settings.execution_model == "claude-3-haiku"
    assert not settings.critique.enabled
    # an unknown model is priced as the dearest: never taken from a workspace
    settings, _ = load_settings(None, {"planningModel": "gateway-model-x"}, environ={})
    assert settings.planning_model == "claude-opus-5-5"
    # the user's own choice, from the environment too, stays the user's
    settings, _ = load_settings(None, environ={"PLANFIRST_PLANNING_MODEL": "claude-mythos-preview"})
    assert settings.planning_model == "claude-mythos-preview"


# ---------------------------------------------------------------- ignore files


_WALK = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from planfirst.core.workspace.paths import WorkspaceGuard
t = time.monotonic()
g = WorkspaceGuard(sys.argv[1])
walked = sorted(g.walk())
print(repr((walked, g.excluded("big/private.txt"), time.monotonic() - t)))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and FIFOs")
def test_ignore_files_that_never_end_are_read_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """A `.gitignore` committed as a link to /dev/zero was read until memory ran out (git itself
    never follows a linked .gitignore); a FIFO named .gitignore blocked the walk for ever; a 2 GB
    sparse one was read whole, and 200,000 one-character rules were parsed one by one for
    minutes. The walk now finishes within memory and seconds, and an ignore file too large to
    read hides what is below it rather than showing what it ignores."""
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "app.py").write_text("x = 1\n")
    os.symlink("/dev/zero", ws / ".gitignore")
    (ws / "big").mkdir()
    (ws / "big" / "private.txt").write_text("private\n")
    with open(ws / "big" / ".gitignore", "wb") as f:
        f.write(b"private.txt\n")
        f.truncate(2 << 30)  # sparse: 2 GB of NUL bytes after the first line
    (ws / "pipe").mkdir()
    os.mkfifo(ws / "pipe" / ".gitignore")
    (ws / "pipe" / "x.py").write_text("y = 2\n")
    (ws / "many").mkdir()
    (ws / "many" / ".gitignore").write_text("".join(f"a{i}\n" for i in range(200_000)))
    (ws / "many" / "m.py").write_text("z = 3\n")
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _WALK, str(ws)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    walked, reason, seconds = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    assert "src/app.py" in walked and "pipe/x.py" in walked
    assert "big/private.txt" not in walked and reason
    assert seconds < 20, seconds


def test_a_long_gitignore_neither_breaks_planning_nor_shows_what_it_ignores(
    tmp_path: Path,
) -> None:
    """2,000 ordinary-looking rules made RE2's one combined pattern too large: `re2.error`
    escaped the walk, and every planning run in that repository failed."""
    rules = [f"**/x{i}/**/y{i}*z*[a-z]*q?r*[0-9]*s*t*u*{'*v' * 20}" for i in range(2000)]
    (tmp_path / ".gitignore").write_text("\n".join([*rules, "private.txt", ""]))
    (tmp_path / "private.txt").write_text("private-7731\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    guard = WorkspaceGuard(tmp_path)
    walked = list(guard.walk())
    assert "app.py" in walked and "private.txt" not in walked
    assert guard.excluded("private.txt") == "gitignored"
    ctx = gather_context(guard, "edit app.py and private.txt", ContextSettings())
    assert [f.path for f in ctx.files] == ["app.py"]
    assert "private-7731" not in ctx.render()
