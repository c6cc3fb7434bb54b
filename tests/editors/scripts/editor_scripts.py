"""Derive the real-editor tests' model scripts from the demo script (examples/scripts/demo.json).

The demo's turns are: planning (explore, submit_plan), the critique (the critic searches, finds
an error, the tightening round resubmits the plan, the critic finds nothing left), step 1 attempt
1 (a tie-order bug: two tool turns and a closing text), step 1 attempt 2 (the fix), step 2, step
3. Both editor tests revise the plan once before approving it (feedback REVISE_FEEDBACK), so one
more submit_plan turn follows the planning turns: the same plan with a summary that says what
changed, then the critic's review of the revision (no findings). A discarded or cancelled preview
is offered again without a model call, so the VS Code test needs no extra turns. The VS Code test
then plans a second change, the one the other editors' create-retry test makes (create-retry.json
beside this file): a step that creates two files, whose retry edits one of them. Deriving instead
of copying keeps the editor tests in step with the demo. `without_critique` gives the demo's
session for a server whose critique is off (the tests' default).

Usage: python editor_scripts.py vscode|nvim|acp-sdk|acp-sdk-resume DEMO_JSON OUT_JSON (acp-sdk: the ACP SDK
test calls an MCP server's read-only tool before planning)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

Turn = dict[str, Any]

# what the editor tests type as revision feedback; the revision turn expects it in the request
REVISE_FEEDBACK = "Keep the output of count unchanged when --top is absent."
# what the revised plan's summary gains, so the editors can see revision 2 is the revised plan
REVISED_MARK = "Revised: without --top the output of count stays as it is."


def _turns(demo: Any) -> list[Turn]:
    turns = demo["turns"] if isinstance(demo, dict) else demo
    if not isinstance(turns, list) or len(turns) < 7:
        raise SystemExit(
            "editor_scripts: the demo script no longer has the expected shape (>= 7 turns)"
        )
    return turns


PLANNING_TOOLS = ("submit_plan", "submit_critique")


def planning_end(turns: list[Turn]) -> int:
    """The index of the first execution turn: the one after the last plan or critique submit."""
    return 1 + max(i for i, t in enumerate(turns) if t.get("tool") in PLANNING_TOOLS)


def final_plan(turns: list[Turn]) -> Turn:
    """The last submit_plan turn of planning (the plan the tightening round left)."""
    return [t for t in turns[: planning_end(turns)] if t.get("tool") == "submit_plan"][-1]


def without_critique(demo: Any) -> list[Turn]:
    """The demo's session with the critique off: exploring, then the corrected plan submitted at
    once (with the first submit's expectations), then the steps."""
    turns = _turns(demo)
    first = next(i for i, t in enumerate(turns) if t.get("tool") == "submit_plan")
    head = {**turns[first], "input": final_plan(turns)["input"]}
    return [*turns[:first], head, *turns[planning_end(turns) :]]


CLEAN_CRITIQUE: Turn = {
    "note": "the critic reviews the revision: nothing to report",
    "expect": {"tools": ["submit_critique"], "contains": ["<plan_under_review>"]},
    "tool": "submit_critique",
    "input": {"findings": []},
}


def _step1_attempt1(turns: list[Turn]) -> list[Turn]:
    """The turns of step 1's first attempt: from its first turn up to the text that ends it."""
    out: list[Turn] = []
    for turn in turns[planning_end(turns) :]:
        out.append(turn)
        if "text" in turn and "tool" not in turn and "tools" not in turn:
            return out
    raise SystemExit("editor_scripts: step 1's first attempt has no closing text turn")


def revision_turn(turns: list[Turn]) -> Turn:
    """The answer to "Revise Plan" with REVISE_FEEDBACK: the demo's plan, its summary marked."""
    if turns[1].get("tool") != "submit_plan":
        raise SystemExit("editor_scripts: the demo's second turn is no longer submit_plan")
    plan = dict(final_plan(turns)["input"])
    plan["summary"] = f"{plan['summary']} {REVISED_MARK}"
    return {
        "note": "revision 2: the feedback reaches the model, the same steps come back",
        "expect": {
            "tools": ["submit_plan"],
            "contains": [REVISE_FEEDBACK, "<previous_plan_revision>"],
        },
        "tool": "submit_plan",
        "input": plan,
    }


CREATE_RETRY = Path(__file__).resolve().parent / "create-retry.json"


# the VS Code test's first Execute meets a rate limit (its settings allow no retries): the
# extension offers Retry (data.reason "rate_limit"), and the retry gets the step's real turns
RATE_LIMITED: Turn = {"note": "429: Retry in the editor", "fault": {"status": 429}}
# planning takes long enough for the test to see its progress and Cancel
PLANNING_DELAY = 6.0  # two restarts around Set API Key and a slow webview ate 3 s in two CI runs


def vscode_script(demo: Any, create_retry: Any) -> list[Turn]:
    """Planning (slowed by PLANNING_DELAY), the revision, a rate limit, then the demo's steps: the
    VS Code test discards step 1's first preview and cancels step 3's, but Execute offers the
    same edit again without a model call. Then the create-retry plan (its critique finds
    nothing): its step creates two files and its retry fixes one of them."""
    extra = create_retry["turns"] if isinstance(create_retry, dict) else create_retry
    if not extra or extra[0].get("tool") != "submit_plan":
        raise SystemExit("editor_scripts: create-retry.json no longer starts with submit_plan")
    turns = _turns(demo)
    end = planning_end(turns)
    first = {**turns[0], "delay": PLANNING_DELAY}
    return [
        first,
        *turns[1:end],
        revision_turn(turns),
        CLEAN_CRITIQUE,
        RATE_LIMITED,
        *turns[end:],
        extra[0],
        CLEAN_CRITIQUE,
        *extra[1:],
    ]


def nvim_script(demo: Any) -> list[Turn]:
    """Planning and its critique, the revision and its critique, then the demo's steps: Neovim
    applies every edit as it comes."""
    turns = _turns(demo)
    end = planning_end(turns)
    return [*turns[:end], revision_turn(turns), CLEAN_CRITIQUE, *turns[end:]]


MCP_LOOKUP: Turn = {
    "note": "planning asks the ACP client's MCP server (tests/fixtures/mcp_tickets.py) first",
    "expect": {
        "tools": ["mcp__tickets__lookup_ticket", "submit_plan", "view_file"],
        "not_contains": ["create_ticket"],
    },
    "tool": "mcp__tickets__lookup_ticket",
    "input": {"ticket": "42"},
}


def acp_sdk_script(demo: Any) -> list[Turn]:
    """The demo's session for the ACP SDK e2e test: the planner calls the MCP server's read-only
    tool first (the writing one is never offered), then plans and runs as the demo does."""
    turns = [dict(t) for t in _turns(demo)]
    first = dict(turns[0])
    first["expect"] = {**first.get("expect", {}), "tool_result_contains": "MCP-RESULT-5c1d"}
    return [MCP_LOOKUP, first, *turns[1:]]


def acp_sdk_resume_script(demo: Any) -> list[Turn]:
    """What the ACP SDK test's second agent process asks: step 2's cancelled edit is offered
    again without a model call, so only the last step's turns (the demo's "step 3")."""
    turns = _turns(demo)
    start = next((i for i, t in enumerate(turns) if t.get("note") == "step 3"), None)
    if start is None:
        raise SystemExit("editor_scripts: the demo has no turn noted 'step 3'")
    return turns[start:]


def main(argv: list[str]) -> int:
    """Write the derived script."""
    if len(argv) != 4 or argv[1] not in ("vscode", "nvim", "acp-sdk", "acp-sdk-resume"):
        print(__doc__, file=sys.stderr)
        return 2
    demo = json.loads(Path(argv[2]).read_text(encoding="utf-8"))
    if argv[1] == "vscode":
        turns = vscode_script(demo, json.loads(CREATE_RETRY.read_text(encoding="utf-8")))
    elif argv[1] == "acp-sdk":
        turns = acp_sdk_script(demo)
    elif argv[1] == "acp-sdk-resume":
        turns = acp_sdk_resume_script(demo)
    else:
        turns = nvim_script(demo)
    Path(argv[3]).write_text(json.dumps({"turns": turns}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
