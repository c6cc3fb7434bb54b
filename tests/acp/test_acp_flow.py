"""`planfirst acp` end to end through the ACP SDK's client: plan → approve → steps → done."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from acp.schema import EmbeddedResourceContentBlock, ResourceContentBlock, TextResourceContents

from planfirst.plan.model import StepStatus
from planfirst.plan.store import PlanStore
from tests.acp.conftest import agent
from tests.reliability.conftest import CANARY, DEMO, TASK, Invariants


async def test_plan_approve_steps_one_rejected_one_retried(ws: Path, inv: Invariants) -> None:
    """Zed-like client: the plan streams as plan_update Markdown, approval is a permission
    question, each step is a diff tool call; step 1 fails validation once and is fixed by the
    automatic retry; step 2's edit is rejected (nothing changes), then /retry 2 proposes it
    again; step 3 finishes the plan. Writes go through fs/write_text_file into editor buffers,
    and the disk ends up holding exactly the approved text."""
    srv = inv.scripted_server([*DEMO[0:10], *DEMO[7:12]])
    wc = ws / "textkit" / "wordcount.py"
    cli = ws / "textkit" / "cli.py"
    cli_before = cli.read_text()
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.answers = {"think": ["approve"], "edit": ["apply", "apply", "reject", "apply", "apply"]}
        await a.new()
        res = await a.prompt(TASK)
        assert res.stop_reason == "end_turn"
        plan_id = PlanStore(ws).active()
        assert plan_id is not None
        plan = PlanStore(ws).load(plan_id)
        # step 1 done after a second attempt, step 2 rejected: nothing changed in cli.py
        assert plan.state(1).status == StepStatus.DONE
        assert [r.outcome for r in plan.state(1).runs] == ["applied", "applied"]
        assert plan.state(2).status == StepStatus.PENDING
        assert plan.state(2).runs[-1].outcome == "rejected"
        assert cli.read_text() == cli_before
        assert "Step 2 was not applied" in ed.text()

        res = await a.prompt("/retry 2")
        assert res.stop_reason == "end_turn"
        assert res.usage is not None and res.usage.output_tokens > 0

    plan = PlanStore(ws).load(plan_id)
    assert plan.status.value == "done", ed.text()
    assert "def top_words" in wc.read_text() and "--top" in cli.read_text()
    # the plan streamed in as Markdown plan updates, the last one the finished plan with its path
    views = ed.of("plan_update")
    assert len(views) >= 2
    last = views[-1].plan
    assert last.type == "markdown" and last.plan_id == plan_id
    assert last.field_meta["planfirst"]["path"] == str(PlanStore(ws).plan_md(plan_id))
    assert last.content == (PlanStore(ws).plan_md(plan_id)).read_text(encoding="utf-8")
    assert not ed.of("plan")  # classic entries only for clients that did not opt in
    # approval: one permission question with the plan summary; then one per edit
    kinds = [(tc.kind, pick) for tc, _, pick in ed.permissions]
    assert kinds == [
        ("think", "approve"),
        ("edit", "apply"),
        ("edit", "apply"),
        ("edit", "reject"),
        ("edit", "apply"),
        ("edit", "apply"),
    ], kinds
    approval = next(c for c in ed.tool_calls().values() if c.get("kind") == "think")
    assert plan.body.summary.strip()[:40] in approval["content"][0].content.text
    # each edit is a tool call whose content is the diff per file (absolute paths)
    edits = [c for c in ed.tool_calls().values() if c.get("kind") == "edit"]
    assert len(edits) == 5
    first = edits[0]["content"]
    assert {d.path for d in first if d.type == "diff"} == {
        str(wc),
        str(ws / "tests" / "test_wordcount.py"),
    }
    assert [c["statuses"][-1] for c in edits] == [
        "completed",
        "completed",
        "failed",
        "completed",
        "completed",
    ]
    # validation output streamed into execute tool calls: the failing attempt then the passing one
    # (run in the client's terminal, embedded in the tool call: Zed shows it live, #30 item 7)
    checks = [c for c in ed.tool_calls().values() if c.get("kind") == "execute"]
    texts = [x.content.text for x in checks[0]["content"] if x.type == "content"]
    assert checks[0]["statuses"][-1] == "failed" and "test_top_words_ties" in texts[0]
    assert checks[1]["statuses"][-1] == "completed"
    shown = [x.terminal_id for c in checks for x in c["content"] if x.type == "terminal"]
    assert shown and set(shown) <= set(ed.terminals) and set(ed.released) == set(ed.terminals)
    launched = [t["command"] for t in ed.terminals.values()]
    assert all(c[1:4] == ["-I", "-m", "planfirst.core.commands.exec_child"] for c in launched)
    # edit tool calls move pending → in_progress → completed (a rejected one fails from pending)
    assert edits[0]["statuses"] == ["pending", "in_progress", "completed"]
    assert edits[2]["statuses"] == ["pending", "failed"]
    # writes went through the client; the disk holds what the buffers hold
    assert str(wc) in ed.writes and str(cli) in ed.writes
    for path, text in ed.buffers.items():
        assert path.read_text(encoding="utf-8") == text, path
    # the model's thinking streamed as thoughts, its replies as messages
    assert DEMO[0]["thinking"] in ed.text("agent_thought_chunk")
    assert DEMO[4]["text"] in ed.text()
    # usage and cost reported; the secret never shown or read
    usage = ed.of("usage_update")
    assert usage and usage[-1].cost is not None and usage[-1].cost.amount > 0 and usage[-1].size > 0
    assert not any(r.endswith(".env") for r in ed.reads)
    assert CANARY not in repr(ed.updates)


async def test_basic_client_classic_plan_entries_revise_and_apply_all(
    ws: Path, inv: Invariants
) -> None:
    """A client without fs or plan operations: the plan is classic `plan` entries whose statuses
    move pending → in_progress → completed, the agent writes the disk itself. "Revise" makes the
    next prompt the feedback; "apply this and the remaining steps" asks once for every edit."""
    srv = inv.scripted_server([DEMO[0], DEMO[1], DEMO[0], DEMO[1], *DEMO[2:12]])
    async with agent(inv, ws, srv, "basic") as a:
        ed = a.editor
        ed.answers = {"think": ["revise", "approve"], "edit": ["apply-all"]}
        await a.new()
        res = await a.prompt(TASK)
        assert res.stop_reason == "end_turn"
        assert "Your next message revises the plan" in ed.text()
        plan_id = PlanStore(ws).active()
        assert plan_id is not None and PlanStore(ws).load(plan_id).status.value == "draft"
        res = await a.prompt("Keep the README change short.")
        assert res.stop_reason == "end_turn"
    plan = PlanStore(ws).load(plan_id)
    assert plan.revision == 2 and plan.feedback == ["Keep the README change short."]
    assert plan.status.value == "done", ed.text()
    assert [(tc.kind, pick) for tc, _, pick in ed.permissions] == [
        ("think", "revise"),
        ("think", "approve"),
        ("edit", "apply-all"),
    ]
    assert not ed.of("plan_update") and not ed.writes and not ed.reads
    views = [[(e.status, e.priority) for e in u.entries] for u in ed.of("plan")]
    assert views[-1] == [("completed", "high"), ("completed", "medium"), ("completed", "low")]
    assert any(v[0][0] == "in_progress" for v in views)
    sent = [u.entries for u in ed.of("plan")]
    assert all(a != b for a, b in itertools.pairwise(sent))  # only changes are sent
    assert views[0] == [("pending", "high"), ("pending", "medium"), ("pending", "low")]
    assert (
        ed.of("plan")[-1]
        .entries[0]
        .content.startswith("1. In `textkit/wordcount.py` add `top_words")
    )
    assert "def top_words" in (ws / "textkit" / "wordcount.py").read_text()


async def test_commands_outside_the_allow_list_ask_through_permission(
    ws: Path, inv: Invariants
) -> None:
    """With `pytest` off the allow-list (a --settings file, the user's choice; the workspace
    never decides it), each validation run asks through session/request_permission: allowed
    once it runs (and fails: the model retries), refused the second time the step fails at
    once with the reason, and no further model call is spent on it."""
    srv = inv.scripted_server(DEMO[0:7])
    async with agent(inv, ws, srv, "zed", settings={"validation": {"allow": ["python"]}}) as a:
        ed = a.editor
        ed.answers = {"think": ["approve"], "other": ["yes", "no"]}
        await a.new()
        res = await a.prompt(TASK)
        assert res.stop_reason == "end_turn"
    plan_id = PlanStore(ws).active()
    assert plan_id is not None
    st = PlanStore(ws).load(plan_id).state(1)
    assert st.status == StepStatus.FAILED
    assert [v.refused is not None for v in st.runs[-1].validation] == [True]
    asked = [(tc.title, pick) for tc, _, pick in ed.permissions if tc.kind == "other"]
    assert len(asked) == 2 and all("`pytest -q tests/test_wordcount.py`" in t for t, _ in asked), (
        asked
    )
    assert [p for _, p in asked] == ["yes", "no"]
    assert "Step 1 failed" in ed.text() and "/retry" in ed.text()
    # nothing asked of the model after the refusal: the last request was the last scripted turn
    # (planning re-asks once about the command outside the allow-list; the script has no turn
    # for that, so the planner keeps its plan)
    assert srv.requests[-1].turn == len(DEMO[0:7]) and srv.requests[-1].status == 200


async def test_rejected_plan_is_removed_from_the_client_and_kept_as_a_draft(
    ws: Path, inv: Invariants
) -> None:
    """Also: a prompt that @-mentions the secret .env, its text embedded by the client the way
    editors embed mentioned files, sends none of it to the model (invariant 3 checks every
    request) — only the mention's path is taken, and the secret file is excluded from context."""
    srv = inv.scripted_server(DEMO[0:2])
    env = ws / ".env"
    mention = EmbeddedResourceContentBlock(
        type="resource",
        resource=TextResourceContents(
            uri=env.as_uri(), text=env.read_text(), mime_type="text/plain"
        ),
    )
    link = ResourceContentBlock(type="resource_link", name=".env", uri=env.as_uri())
    async with agent(inv, ws, srv, "zed") as a:
        ed = a.editor
        ed.answers = {"think": ["reject"]}
        await a.new()
        res = await a.prompt(TASK, extra=(mention, link))
        assert res.stop_reason == "end_turn"
    plan_id = PlanStore(ws).active()
    assert plan_id is not None and PlanStore(ws).load(plan_id).status.value == "draft"
    assert [u.plan_id for u in ed.of("plan_removed")] == [plan_id]
    assert "Plan rejected; it stays a draft" in ed.text()
    assert not ed.writes and "def top_words" not in (ws / "textkit" / "wordcount.py").read_text()


async def test_model_text_is_shown_for_what_it_is(ws: Path, inv: Invariants) -> None:
    """A bidi override in a step's description (model text) reaches the client as a visible
    `\\u{202E}` escape in the approval question, the plan and the message text, never raw
    (docs/reliability.md case 34)."""
    plan_turn = json.loads(json.dumps(DEMO[1]))
    plan_turn["input"]["steps"][0]["description"] = (
        "Add top_words \u202etxt.exe\u202c to `textkit/wordcount.py`."
    )
    srv = inv.scripted_server([DEMO[0], plan_turn])
    async with agent(inv, ws, srv, "basic") as a:
        ed = a.editor
        ed.answers = {"think": ["reject"]}
        await a.new()
        await a.prompt(TASK)
    approval = next(c for c in ed.tool_calls().values() if c.get("kind") == "think")
    assert "\\u{202E}txt.exe\\u{202C}" in approval["content"][0].content.text
    assert "\\u{202E}" in ed.of("plan")[-1].entries[0].content
    shown = json.dumps([u.model_dump(mode="json") for _, u in ed.updates], ensure_ascii=False)
    assert "\u202e" not in shown
