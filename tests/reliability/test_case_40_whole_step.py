"""docs/reliability.md case 40: a step's edit lands whole or not at all. In ACP a step's files
are written one `fs/write_text_file` at a time: when the client refuses the second file, or a
cancel lands while it is being written and the write then fails, the first file gets its text
from before the step back, the run says so, and undo still restores the bytes from before."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from acp import RequestError
from acp.schema import WriteTextFileResponse

from planfirst.plan.store import PlanStore
from tests.acp.conftest import agent
from tests.acp.harness import Editor
from tests.reliability.conftest import DEMO, TASK, Invariants
from tests.support.waiting import wait_until

SECOND = "textkit/wordcount.py"  # step 1 writes tests/test_wordcount.py, then this one


class RefusingEditor(Editor):
    """An editor that refuses to write the step's second file while `refuse` is set; with
    `gate`, that write waits for it first (a cancel can land meanwhile)."""

    def __init__(self, root: Path, profile: str) -> None:
        super().__init__(root, profile)
        self.refuse = True
        self.gate: asyncio.Event | None = None
        self.waiting = False

    async def write_text_file(
        self, session_id: str, path: str, content: str, **kwargs: Any
    ) -> WriteTextFileResponse:
        if path.endswith(SECOND) and self.refuse:
            if self.gate is not None:
                self.waiting = True
                await self.gate.wait()
            self.writes.append(path)
            raise RequestError.internal_error({"message": "the user declined the write"})
        return await super().write_text_file(session_id, path, content, **kwargs)


async def test_a_refused_second_file_restores_the_first_and_undo_works(
    ws: Path, inv: Invariants
) -> None:
    """The client refuses step 1's second file: the first is restored in the editor, the run is
    recorded as not applied with the truth; /continue offers the same edit, which now lands
    whole; /undo 1 then gives both files their bytes from before the step."""
    srv = inv.scripted_server(DEMO[0:7])
    wc = ws / "textkit" / "wordcount.py"
    tw = ws / "tests" / "test_wordcount.py"
    original = {wc: wc.read_bytes(), tw: tw.read_bytes()}
    ed = RefusingEditor(ws, "zed")
    async with agent(inv, ws, srv, "zed", editor=ed) as a:
        ed.answers = {"think": ["approve"], "edit": ["apply", "apply", "reject", "apply"]}
        await a.new()
        res = await a.prompt(TASK)
        assert res.stop_reason == "end_turn"
        plan_id = PlanStore(ws).active()
        assert plan_id is not None
        run = PlanStore(ws).load(plan_id).state(1).runs[-1]
        assert run.outcome == "rejected"
        assert run.error is not None and "could not write textkit/wordcount.py" in run.error
        assert "tests/test_wordcount.py" in run.error.split(";")[1]
        assert "got its text from before the step back" in run.error
        assert ed.buffers[tw] == original[tw].decode()  # restored in the editor
        assert {p: p.read_bytes() for p in original} == original

        # the same edit again, now written whole; attempt 2 is rejected: step 1 failed
        ed.refuse = False
        res = await a.prompt("/continue")
        assert res.stop_reason == "end_turn"
        assert "def top_words" in wc.read_text() and "top_words" in tw.read_text()
        res = await a.prompt("/undo 1")
        assert res.stop_reason == "end_turn"
    assert {p: p.read_bytes() for p in original} == original, ed.text()
    assert ed.buffers[wc] == original[wc].decode() and ed.buffers[tw] == original[tw].decode()


async def test_a_cancel_between_files_restores_the_first(ws: Path, inv: Invariants) -> None:
    """A cancel lands while step 1's second file is being written, and that write then fails:
    the prompt ends `cancelled`, the run stays `cancelled`, the first file is restored."""
    srv = inv.scripted_server(DEMO[0:5])
    tw = ws / "tests" / "test_wordcount.py"
    before = tw.read_text()
    ed = RefusingEditor(ws, "zed")
    ed.gate = asyncio.Event()
    async with agent(inv, ws, srv, "zed", editor=ed) as a:
        ed.answers = {"think": ["approve"], "edit": ["apply"]}
        await a.new()
        turn = a.send(TASK)
        await wait_until(lambda: ed.waiting, 60, "the write of the step's second file")
        assert ed.buffers[tw] != before  # the first file is written
        await a.conn.cancel(session_id=a.session_id)
        res = await asyncio.wait_for(turn, 10)
        assert res.stop_reason == "cancelled"
        ed.gate.set()
        await wait_until(lambda: ed.buffers[tw] == before, 10, "the first file restored")
        plan_id = PlanStore(ws).active()
        assert plan_id is not None
        assert PlanStore(ws).load(plan_id).state(1).runs[-1].outcome == "cancelled"
    assert tw.read_text() == before
