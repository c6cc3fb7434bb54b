"""Helpers for the red-team reliability tests (docs/reliability.md cases 25-32)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types


def edit_turn(path: str, old: str, new: str) -> dict[str, Any]:
    """A scripted model turn: one str_replace edit."""
    return {
        "tool": "str_replace_based_edit_tool",
        "input": {"command": "str_replace", "path": path, "old_str": old, "new_str": new},
    }


async def wait_for(predicate: Callable[[], bool], what: str, limit_s: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")  # pragma: no cover
        await asyncio.sleep(0.01)


def step_line(ws: Path, pid: str) -> int:
    """The line of `### Step 1` in a plan document (where hover answers)."""
    lines = (ws / ".planfirst" / "plans" / pid / "plan.md").read_text().splitlines()
    return next(i for i, t in enumerate(lines) if t.startswith("### Step 1"))


async def hovers_during(
    client: Any,
    uri: str,
    line: int,
    started: Callable[[], bool],
    finished: Callable[[], bool],
    what: str,
    limit_s: float = 120.0,
) -> None:
    """Once `started()`, hover on a plan document again and again until `finished()`, and
    assert that the server kept answering: several hovers were answered while the work ran and
    none waited more than a quarter of the work's duration. A server whose event loop (or GIL)
    the work holds answers a hover only after the work, so one hover waits for nearly all of it.
    Relative to the work, not a wall-clock limit: a loaded machine slows both alike."""
    await wait_for(started, f"{what} to start", limit_s)
    doc = types.TextDocumentIdentifier(uri=uri)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    waits: list[float] = []
    while not finished():
        sent = loop.time()
        hover = await client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=types.Position(line=line, character=2))
        )
        waits.append(loop.time() - sent)
        assert hover is not None
        if loop.time() - t0 > limit_s:
            raise AssertionError(f"{what} did not finish")
    work = loop.time() - t0
    assert len(waits) >= 3, f"only {len(waits)} hover(s) answered during {what} ({work:.2f} s)"
    assert max(waits) < work / 4, (
        f"a hover waited {max(waits):.2f} s during {what}, which took {work:.2f} s: the server froze"
    )


def progress_text(client: Any) -> str:
    """Every progress title and message the client received, one per line."""
    return "\n".join(
        str(getattr(p, "message", None) or getattr(p, "title", "") or "")
        for reports in client.progress_reports.values()
        for p in reports
    )
