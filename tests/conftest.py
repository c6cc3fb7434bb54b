"""Shared fixtures: a small real Python project to plan against."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# No per-example deadline: on a loaded machine (`tests/stress.py`) a slow example is not a failure,
# and Hypothesis would report it as a flake. CI also runs them with a fixed seed so a run is
# reproducible; locally they explore.
settings.register_profile("planfirst", deadline=None)
settings.register_profile(
    "ci", parent=settings.get_profile("planfirst"), derandomize=True, print_blob=True
)
settings.load_profile("ci" if os.environ.get("CI") else "planfirst")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "workspace"
TESTS = Path(__file__).resolve().parent

# Folders whose every test runs planfirst as its own process (the `e2e` marker, pyproject.toml).
E2E_FOLDERS = {"e2e", "acp", "reliability"}
EDITOR_PROFILE_TESTS = {("e2e", "test_editors.py")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the end-to-end folders whole, so a new test there is never in `make check`'s lane."""
    for item in items:
        if TESTS not in item.path.parents:
            continue
        parts = item.path.relative_to(TESTS).parts
        if parts[0] in E2E_FOLDERS:
            item.add_marker(pytest.mark.e2e)
        if parts[:2] in EDITOR_PROFILE_TESTS:
            item.add_marker(pytest.mark.editors)


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Servers started by the tests (they inherit this environment) cache model facts in a
    temporary XDG_CACHE_HOME, never in the user's ~/.cache, and keep the per-user origin key and
    record of current plans (plan/origin.py) in a temporary PLANFIRST_DATA_DIR, never in the
    user's ~/.local/share/planfirst."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        mp.setenv("PLANFIRST_DATA_DIR", str(tmp_path_factory.mktemp("planfirst-data")))
        yield


@pytest.fixture(scope="session", autouse=True)
def _critique_off_by_default() -> Iterator[None]:
    """The critique pass (core/planning/critique.py) asks the model once more after every plan; scripts
    written without critic turns run with it off (the environment layer, so servers started by
    the tests inherit it). Tests of the critique turn it on in their settings."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANFIRST_CRITIQUE_MODEL", "off")
        yield


@pytest.fixture(scope="session", autouse=True)
def _workspace_pytest_without_our_plugins() -> Iterator[None]:
    """The validation commands the tests' plans run (`pytest -q` in a copy of examples/workspace)
    use this venv's pytest, which would load every plugin planfirst's own tests need (pytest-lsp,
    pytest-asyncio, Hypothesis, pytest-timeout): 1.5 s of start-up a run instead of 0.2 s, and
    the suite runs hundreds of them. A user's project has its own venv; the example workspace
    needs no plugin. Servers and terminals started by the tests inherit this environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        yield


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of examples/workspace (a small package with pytest tests)."""
    ws = tmp_path / "ws"
    shutil.copytree(
        EXAMPLE, ws, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".planfirst")
    )
    return ws


@pytest.fixture
async def run_session(workspace: Path) -> AsyncIterator[Any]:
    """Call with the script's turns: (session, host) — a Session on the workspace with the
    fake host and a scripted server of its own, closed at the end of the test."""
    from planfirst.core.workflow.session import Session
    from planfirst.llm.scripted.server import ScriptedServer
    from planfirst.settings import Settings
    from tests.support.fake_host import FakeHost, ScriptedModels

    servers: list[ScriptedServer] = []
    models: list[ScriptedModels] = []

    def start(turns: list[dict[str, Any]]) -> tuple[Session, FakeHost]:
        srv = ScriptedServer(turns).start()
        servers.append(srv)
        settings = Settings.model_validate({"critique": {"model": "off"}})
        models.append(ScriptedModels(settings, srv.base_url))
        host = FakeHost(workspace)
        return Session(workspace, settings, models[-1], host), host

    yield start
    for m in models:
        await m.aclose()
    for s in servers:
        s.stop()
