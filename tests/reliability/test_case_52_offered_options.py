"""docs/reliability.md case 52: an ACP permission answer counts only as one of the options the
question offered. An undo's preview offers Apply and Reject; a client that answered it with
"apply-all" (an option of step questions, or an answer meant for an earlier question) turned on
"apply this and the remaining steps", and the next /continue wrote a step's edit with no
question at all (in ACP the question is the only preview). Now an option that was not offered
is no answer: nothing is applied and nothing is consented to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acp.schema import AllowedOutcome, RequestPermissionResponse

from tests.acp.conftest import agent
from tests.acp.harness import Editor
from tests.reliability.conftest import DEMO, TASK, Invariants


class OffScript(Editor):
    """A client that may answer with an option id the question did not offer."""

    def __init__(self, root: Path, profile: str) -> None:
        super().__init__(root, profile)
        self.rogue: list[str | None] = []  # per edit question: an id to send instead, or None

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **kwargs: Any
    ) -> RequestPermissionResponse:
        rogue = self.rogue.pop(0) if tool_call.kind == "edit" and self.rogue else None
        if rogue is None:
            return await super().request_permission(session_id, tool_call, options, **kwargs)
        self.permissions.append((tool_call, options, rogue))
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=rogue)
        )


async def test_case_52_an_option_that_was_not_offered_consents_to_nothing(
    ws: Path, inv: Invariants
) -> None:
    srv = inv.scripted_server([*DEMO[0:12], *DEMO[7:10]])
    cli = ws / "textkit" / "cli.py"
    ed = OffScript(ws, "zed")
    # step 1 (two attempts) and step 2 applied, step 3 rejected: the run stops
    ed.answers = {"think": ["approve"], "edit": ["apply", "apply", "apply", "reject", "reject"]}
    ed.rogue = [None, None, None, None, "apply-all"]  # the undo's question
    async with agent(inv, ws, srv, "zed", editor=ed) as a:
        await a.new()
        res = await a.prompt(TASK)
        assert res.stop_reason == "end_turn"
        before_undo = cli.read_text()
        res = await a.prompt("/undo")
        undo_q = ed.permissions[-1]
        assert undo_q[2] == "apply-all"
        assert "apply-all" not in [o.option_id for o in undo_q[1]]  # not offered
        assert cli.read_text() == before_undo, "an answer that was not offered applied the undo"
        res = await a.prompt("/undo")  # asked again: Reject
        res = await a.prompt("/continue")
        assert res.stop_reason == "end_turn"
    kinds = [tc.kind for tc, _, _ in ed.permissions]
    assert kinds.count("edit") >= 6, "a step's edit was written without a question"
