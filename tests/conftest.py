"""Shared fixtures: a small real Python project to plan against."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests with a fixed seed so a run is reproducible; locally they explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "workspace"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of examples/workspace (a small package with pytest tests)."""
    ws = tmp_path / "ws"
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".planfirst"))
    return ws
