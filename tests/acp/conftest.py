"""The ACP suite runs under the reliability suite's five invariants (docs/reliability.md case 22,
docs/reliability.md): the same `Invariants` checker, with an ACP ledger for invariant 4."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from planfirst.llm.scripted import ScriptedServer
from tests.acp.harness import Agent, Editor, acp_agent
from tests.reliability.conftest import RUN_VAR, Invariants


@pytest.fixture(autouse=True)
def inv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invariants]:
    """Every ACP test: the five invariants hold at its end."""
    checker = Invariants(tmp_path)
    monkeypatch.setenv(RUN_VAR, checker.run_id)
    try:
        yield checker
        problems = checker.check()
    finally:
        checker.close()
    assert not problems, "case 22 invariants violated:\n" + "\n".join(problems)


@pytest.fixture
def ws(workspace: Path, inv: Invariants) -> Path:
    """The example workspace (with the canary in .env), watched by the invariants."""
    inv.workspaces.append(workspace)
    return workspace


@contextlib.asynccontextmanager
async def agent(
    inv: Invariants,
    root: Path,
    srv: ScriptedServer,
    profile: str = "zed",
    *,
    editor: Editor | None = None,
    settings: dict[str, Any] | None = None,
) -> AsyncIterator[Agent]:
    """`planfirst acp` for `root`, its model the in-test scripted server; ledger and log watched."""
    log = inv.tmp / f"server-acp-{len(inv.logs)}.log"
    inv.logs.append(log)
    path = inv.tmp / "server-acp-settings.json"
    path.write_text(
        json.dumps({"anthropic": {"maxRetries": 2, "deadline": 60}, **(settings or {})})
    )
    env = {
        "ANTHROPIC_BASE_URL": srv.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-test-only-0000",
        "PLANFIRST_LOG_FILE": str(log),
    }
    async with acp_agent(
        root, profile, env, log, editor=editor, args=("--settings", str(path))
    ) as a:
        inv.ledgers.append(a.ledger)
        yield a
