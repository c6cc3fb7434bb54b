"""ACP to the letter (#30): the session's first updates follow the session/new response, tool
call ids are unique within a session (a cancelled approval is closed as failed), and a model's
refusal ends the turn with stop reason `refusal`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from acp.schema import EmbeddedResourceContentBlock, ResourceContentBlock, TextResourceContents

from tests.acp.conftest import agent
from tests.reliability.conftest import DEMO, TASK, Invariants
from tests.support.waiting import wait_until


async def test_available_commands_follow_the_session_new_response(
    ws: Path, inv: Invariants
) -> None:
    """Zed registers a session only once the session/new response arrived and drops updates
    for a session it does not know: nothing for the session may come before the response."""
    srv = inv.scripted_server([])
    async with agent(inv, ws, srv, "zed") as a:
        sid = await a.new()
        await wait_until(lambda: a.editor.of("available_commands_update"), 10, "the commands")
        got = a.ledger.received
        response = next(
            i for i, m in enumerate(got) if (m.get("result") or {}).get("sessionId") == sid
        )
        updates = [
            i
            for i, m in enumerate(got)
            if m.get("method") == "session/update" and m["params"]["sessionId"] == sid
        ]
        assert updates and min(updates) > response, got
        names = [c.name for c in a.editor.of("available_commands_update")[0].available_commands]
        assert "continue" in names and "undo" in names


async def test_tool_call_ids_are_unique_and_a_cancelled_approval_fails(
    ws: Path, inv: Invariants
) -> None:
    """Cancel at the approval question, then /continue asks again: a new tool call id (the old
    one is closed `failed`), and no id is started twice in the session."""
    srv = inv.scripted_server(DEMO[0:2])
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.hold = asyncio.Event()
        ed.answers = {"think": [None, "reject"]}
        await a.new()
        turn = a.send(TASK)
        await wait_until(lambda: ed.asked >= 1, 60, "the approval question")
        await a.conn.cancel(session_id=a.session_id)
        assert (await asyncio.wait_for(turn, 10)).stop_reason == "cancelled"
        ed.hold.set()
        ed.hold = None
        assert (await a.prompt("/continue")).stop_reason == "end_turn"
    started = [u.tool_call_id for u in ed.of("tool_call")]
    assert len(started) == 2 and len(set(started)) == 2, started
    calls = ed.tool_calls()
    assert calls[started[0]]["statuses"][-1] == "failed"  # the cancelled question is closed
    assert calls[started[1]]["statuses"][-1] == "failed"  # rejected


async def test_a_refusal_ends_the_turn_with_stop_reason_refusal(ws: Path, inv: Invariants) -> None:
    """The model declines to plan (stop_reason refusal): the prompt's stop reason is
    `refusal`, with the reason shown, not `end_turn`."""
    srv = inv.scripted_server([{"stop_reason": "refusal", "text": "I can't help with that."}])
    async with agent(inv, ws, srv, "zed") as a:
        await a.new()
        res = await a.prompt(TASK)
        assert res.stop_reason == "refusal"
        assert "declined to answer" in a.editor.text()


async def test_embedded_context_reaches_the_planning_request(ws: Path, inv: Invariants) -> None:
    """An embedded `https:` resource reaches the planning request (attached, as data the user
    gave); a workspace file embedded with its text is planned from the client's text (unsaved
    edits included), not the disk's; a link elsewhere is named."""
    srv = inv.scripted_server(DEMO[0:2])
    cli = ws / "textkit" / "cli.py"
    unsaved = cli.read_text() + "\n# UNSAVED-EDIT-7f3a: only in the editor's buffer\n"
    extra = (
        EmbeddedResourceContentBlock(
            type="resource",
            resource=TextResourceContents(
                uri="https://example.com/spec.md", text="SPEC-TEXT-91b2: rank ties by word"
            ),
        ),
        EmbeddedResourceContentBlock(
            type="resource", resource=TextResourceContents(uri=cli.as_uri(), text=unsaved)
        ),
        ResourceContentBlock(type="resource_link", uri="https://example.com/issue/7", name="7"),
    )
    async with agent(inv, ws, srv, "zed") as a:
        a.editor.answers = {"think": ["reject"]}
        await a.new()
        res = await a.prompt(TASK, extra=extra)
        assert res.stop_reason == "end_turn"
    sent = inv.requests_text()[0]
    assert "SPEC-TEXT-91b2" in sent and "https://example.com/issue/7" in sent
    assert "UNSAVED-EDIT-7f3a" in sent  # the client's text of textkit/cli.py
    assert "UNSAVED-EDIT-7f3a" not in cli.read_text()


async def test_sessions_on_one_workspace_share_one_core_session(ws: Path, inv: Invariants) -> None:
    """Session A revises the workspace's plan (the model is slow); session B, on the same
    workspace, asks to revise the same plan meanwhile: one core Session, so B is told the plan
    is busy at once (no second revision racing the first, no model call), and A's cancel ends
    only A's turn."""
    slow = dict(DEMO[0])
    slow["delay"] = 30
    srv = inv.scripted_server([DEMO[0], DEMO[1], slow])
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.answers = {"think": ["revise"]}
        session_a = await a.new()
        assert (await a.prompt(TASK)).stop_reason == "end_turn"
        turn_a = a.send("Keep the README change short.")
        await wait_until(lambda: len(srv.requests) >= 3, 60, "A's revision request")
        session_b = await a.new()
        res = await a.prompt("/revise Use a dict instead.")
        assert res.stop_reason == "end_turn"
        said_b = "".join(
            u.content.text
            for sid, u in ed.updates
            if sid == session_b and u.session_update == "agent_message_chunk"
        )
        assert "is busy (revising" in said_b, said_b
        assert len(srv.requests) == 3
        await a.conn.cancel(session_id=session_a)
        assert (await asyncio.wait_for(turn_a, 10)).stop_reason == "cancelled"
