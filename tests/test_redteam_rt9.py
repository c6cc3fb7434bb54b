"""Red team rt9: the newest fixes attacked (workspace settings, ignore files, search budget)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from planfirst.core.planning import explore
from planfirst.core.planning.explore import Explorer
from planfirst.core.workspace import walk
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.settings import load_settings


def test_a_workspace_cannot_raise_the_thinking_budget() -> None:
    """`thinking.budgetTokens` was read from a workspace unchecked: on a budget-thinking model
    (Opus 4.5, Haiku 4.5) the derived budget is half of maxTokens, so a repository's
    `"budgetTokens": 31999` doubled the thinking every planning request pays for."""
    user = {"planfirst": {"planningModel": "claude-opus-4-5"}}
    s, problems = load_settings(user, {"thinking": {"budgetTokens": 31_999}}, environ={})
    assert s.thinking.budget_tokens is None
    assert any("budgetTokens" in p for p in problems)
    # the user's own value is a ceiling too, and lowering it still works
    mine = {"planfirst": {"thinking": {"budgetTokens": 8_000}}}
    s, _ = load_settings(mine, {"thinking": {"budgetTokens": 20_000}}, environ={})
    assert s.thinking.budget_tokens == 8_000
    s, problems = load_settings(mine, {"thinking": {"budgetTokens": 4_000}}, environ={})
    assert s.thinking.budget_tokens == 4_000 and not problems
    s, problems = load_settings(None, {"thinking": {"budgetTokens": 2_048}}, environ={})
    assert s.thinking.budget_tokens == 2_048 and not problems


def test_a_linked_info_exclude_still_keeps_its_files_from_the_model(tmp_path: Path) -> None:
    """git follows a symbolic link at `.git/info/exclude` (only in-tree `.gitignore` links are not
    followed): a user's exclude file kept in their dotfiles and linked in stopped hiding
    `secret.txt`, which the guard promises is never read into a prompt."""
    shared = tmp_path / "dotfiles-exclude"
    shared.write_text("secret.txt\n")
    ws = tmp_path / "ws"
    (ws / ".git" / "info").mkdir(parents=True)
    os.symlink(shared, ws / ".git" / "info" / "exclude")
    (ws / "secret.txt").write_text("token-5521\n")
    (ws / "app.py").write_text("x = 1\n")
    guard = WorkspaceGuard(ws)
    assert guard.excluded("secret.txt") == "gitignored"
    assert list(guard.walk()) == ["app.py"]
    # still never a device or a FIFO through the link
    (ws / ".git" / "info" / "exclude").unlink()
    os.symlink("/dev/zero", ws / ".git" / "info" / "exclude")
    guard.invalidate()
    assert guard.excluded("secret.txt") is None


async def test_search_text_budget_holds_while_the_walk_skips_ignored_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget was checked only for files the walk yields: a tree whose files are all
    gitignored (generated output, 200k of them) was walked whole past the deadline."""
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("*.gen\n")
    for i in range(40):
        d = tmp_path / f"d{i:02}"
        d.mkdir()
        (d / "out.gen").write_text("x\n")
    (tmp_path / "zz.py").write_text("needle\n")
    matched: list[str] = []
    real = walk.chain_match

    def counting(chain, path, is_dir):  # type: ignore[no-untyped-def]
        matched.append(path)
        return real(chain, path, is_dir)

    monkeypatch.setattr(walk, "chain_match", counting)
    monkeypatch.setattr(explore, "SEARCH_DEADLINE_S", -1.0)  # the budget is used up at once
    out = await Explorer(WorkspaceGuard(tmp_path)).handle("search_text", {"pattern": "needle"})
    assert "stopped early" in out.text
    assert len(matched) < 10, len(matched)
