"""acp/transcript.py: the per-session record session/load replays — bounded, kept in the plan's
folder through the plan store's checks, and read back as data (schema-checked, no path outside
the workspace, the workspace path not stored)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from acp import text_block
from acp.schema import AgentMessageChunk, FileEditToolCallContent, ToolCallProgress, ToolCallStart

from planfirst.acp import transcript as tmod
from planfirst.acp.transcript import Transcript
from planfirst.plan.store import PlanStore
from tests.support.plan_fixtures import make_plan

SID = "acp-0123456789abcdef"


@pytest.fixture
def store(tmp_path: Path) -> PlanStore:
    root = tmp_path / "ws"
    root.mkdir()
    s = PlanStore(root)
    plan = make_plan()
    s.save(plan)
    s.bind_session(SID, plan.id)
    return s


def _edit(root: Path, call_id: str, path: str) -> ToolCallStart:
    return ToolCallStart(
        session_update="tool_call",
        tool_call_id=call_id,
        title="step 1",
        kind="edit",
        status="pending",
        content=[FileEditToolCallContent(type="diff", path=path, old_text="a", new_text="b")],
    )


def test_records_merges_chunks_and_replays_open_calls_as_failed(store: PlanStore) -> None:
    root = store.root
    t = Transcript(store, SID, root)
    t.user("Add a --top option")
    t.record(AgentMessageChunk(session_update="agent_message_chunk", content=text_block("Hel")))
    t.record(AgentMessageChunk(session_update="agent_message_chunk", content=text_block("lo")))
    t.record(_edit(root, "c1", str(root / "a.py")))
    t.record(
        ToolCallProgress(session_update="tool_call_update", tool_call_id="c1", status="completed")
    )
    t.record(_edit(root, "c2", str(root / "b.py")))  # left open: the agent died
    t.flush()
    stored = (store.plan_json(make_plan().id).parent / "transcripts" / f"{SID}.json").read_text()
    assert str(root) not in stored and tmod.ROOT_TOKEN in stored  # plan folders get committed

    back = Transcript(store, SID, root)
    back.load_bound()
    updates = back.replay()
    kinds = [u.session_update for u in updates]
    assert kinds == [
        "user_message_chunk",
        "agent_message_chunk",
        "tool_call",
        "tool_call_update",
        "tool_call",
        "tool_call_update",
    ]
    assert updates[1].content.text == "Hello"
    assert updates[2].content[0].path == str(root / "a.py")
    assert (updates[5].tool_call_id, updates[5].status) == ("c2", "failed")


def test_a_hostile_transcript_is_read_as_data(store: PlanStore, tmp_path: Path) -> None:
    """Entries that break the schema or name a file outside the workspace are dropped."""
    root = store.root
    folder = store.plan_json(make_plan().id).parent / "transcripts"
    folder.mkdir(parents=True)
    good = {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "ok"}}
    outside = _edit(root, "x", "/etc/passwd").model_dump(mode="json", by_alias=True)
    escape = _edit(root, "y", tmod.ROOT_TOKEN + "/../../x").model_dump(mode="json", by_alias=True)
    bad = {"sessionUpdate": "tool_call", "toolCallId": 7}
    (folder / f"{SID}.json").write_text(json.dumps([good, outside, escape, bad, "text"]))
    t = Transcript(store, SID, root)
    t.load_bound()
    assert [u.session_update for u in t.replay()] == ["agent_message_chunk"]


def test_never_written_through_a_link_or_into_a_fifo(store: PlanStore, tmp_path: Path) -> None:
    root = store.root
    folder = store.plan_json(make_plan().id).parent / "transcripts"
    folder.mkdir(parents=True)
    target = root / "elsewhere.json"  # the user's file
    target.write_text("theirs")
    (folder / f"{SID}.json").symlink_to(target)
    t = Transcript(store, SID, root)
    t.user("hello")
    t.flush()
    assert target.read_text() == "theirs"
    (folder / f"{SID}.json").unlink()
    os.mkfifo(folder / f"{SID}.json")
    t.load_bound()  # a FIFO is never opened (it would block)
    t.flush()
    assert not (folder / f"{SID}.json").is_file()


def test_bounded(store: PlanStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tmod, "MAX_ENTRIES", 10)
    t = Transcript(store, SID, store.root)
    for i in range(30):
        t.record(
            ToolCallProgress(
                session_update="tool_call_update", tool_call_id=f"c{i}", status="completed"
            )
        )
    t.flush()
    back = Transcript(store, SID, store.root)
    back.load_bound()
    ups = back.replay()
    assert len(ups) == 11 and "trimmed" in ups[0].content.text and ups[-1].tool_call_id == "c29"


def test_replayed_text_is_escaped_once(store: PlanStore) -> None:
    """Raw bidi or escape characters in a shipped transcript are shown escaped; what planfirst
    recorded (escaped already) is not escaped twice."""
    folder = store.plan_json(make_plan().id).parent / "transcripts"
    folder.mkdir(parents=True)
    raw = {
        "sessionUpdate": "agent_message_chunk",
        "content": {"type": "text", "text": "ok\u202etxt.exe \x1b]52;c;cHduZWQ=\x07"},
    }
    (folder / f"{SID}.json").write_text(json.dumps([raw]))
    t = Transcript(store, SID, store.root)
    t.load_bound()
    text = t.replay()[0].content.text
    assert "\u202e" not in text and "\x1b" not in text and "\\u{202E}" in text
    t.flush()  # stored as shown: reading it again changes nothing
    again = Transcript(store, SID, store.root)
    again.load_bound()
    assert again.replay()[0].content.text == text
