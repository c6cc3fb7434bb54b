"""Shared fixtures: a small real Python project to plan against."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "workspace"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of examples/workspace (a small package with pytest tests)."""
    ws = tmp_path / "ws"
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".planfirst"))
    return ws
