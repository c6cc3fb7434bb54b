# ruff: noqa: F811  (pytest fixtures imported from tests/reliability/conftest.py are parameters below)
"""The ACP suite runs under the reliability suite's five invariants (docs/reliability.md case 22,
docs/reliability.md): the same `Invariants` checker, with an ACP ledger for invariant 4."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from planfirst.llm.scripted.server import ScriptedServer
from tests.acp.harness import Agent, Editor, acp_agent
from tests.reliability.conftest import (  # the invariants fixtures, shared with reliability
    Invariants,
    inv,  # noqa: F401
    ws,  # noqa: F401
)


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
