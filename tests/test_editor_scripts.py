"""The real-editor tests' model scripts, derived from the demo script, line up with the demo."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.support.demo_script import DEMO_JSON as DEMO
from tests.support.demo_script import DEMO_WITH_CRITIQUE, ROOT
from tests.support.demo_script import editor_scripts as _load


def _demo_turns() -> list[dict[str, Any]]:
    return copy.deepcopy(DEMO_WITH_CRITIQUE)  # a fresh copy per test, as a fresh parse was


def test_revision_turn_resubmits_the_plan_and_expects_the_feedback() -> None:
    """The revision answers with the demo's plan (same steps, marked summary) and checks the feedback."""
    es = _load()
    turns = _demo_turns()
    rev = es.revision_turn(turns)
    assert rev["tool"] == "submit_plan"
    assert rev["expect"]["tools"] == ["submit_plan"]
    assert es.REVISE_FEEDBACK in rev["expect"]["contains"]
    original = es.final_plan(turns)["input"]  # the plan the critique's tightening round left
    assert rev["input"]["steps"] == original["steps"]
    assert rev["input"]["summary"] == f"{original['summary']} {es.REVISED_MARK}"
    # the demo's turn itself is not modified
    assert es.REVISED_MARK not in turns[1]["input"]["summary"]


def test_vscode_script_needs_no_extra_turns_for_discarded_previews() -> None:
    """A discarded preview is offered again without a model call: VS Code's script is Neovim's,
    then the create-retry plan's turns (a step that creates files, a retry on one of them)."""
    es = _load()
    demo = json.loads(DEMO.read_text())
    create = json.loads(es.CREATE_RETRY.read_text())["turns"]
    turns = _demo_turns()
    end = es.planning_end(turns)
    assert es.vscode_script(demo, {"turns": create}) == [
        {**turns[0], "delay": es.PLANNING_DELAY},
        *turns[1:end],
        es.revision_turn(turns),
        es.CLEAN_CRITIQUE,
        es.RATE_LIMITED,
        *turns[end:],
        create[0],
        es.CLEAN_CRITIQUE,
        *create[1:],
    ]
    # step 1's first attempt ends with the model's closing text, the step's last turn
    attempt = es._step1_attempt1(turns)
    assert "text" in attempt[-1] and "tool" not in attempt[-1]


def test_nvim_script_is_the_demo_plus_revision_and_main_writes_it(tmp_path: Path) -> None:
    """Neovim applies every edit: its script is the demo with the revision after planning."""
    es = _load()
    out = tmp_path / "nvim.json"
    assert es.main(["editor_scripts.py", "nvim", str(DEMO), str(out)]) == 0
    turns = _demo_turns()
    end = es.planning_end(turns)
    assert [t.get("tool") for t in turns[2:end]] == [
        "search_text",
        "submit_critique",
        "submit_plan",
        "submit_critique",
    ]
    assert json.loads(out.read_text())["turns"] == [
        *turns[:end],
        es.revision_turn(turns),
        es.CLEAN_CRITIQUE,
        *turns[end:],
    ]
    assert es.main(["editor_scripts.py", "emacs", str(DEMO), str(out)]) == 2


def test_the_vscode_spec_types_the_feedback_the_script_expects() -> None:
    """The UI spec's Revise action and the revision turn agree on the feedback and the mark."""
    es = _load()
    spec = json.loads((ROOT / "tests" / "editors" / "vscode" / "demo.spec.json").read_text())
    revise = [a for a in spec["actions"] if a["do"] == "revise"]
    assert len(revise) == 1
    assert revise[0]["feedback"] == es.REVISE_FEEDBACK
    assert es.REVISED_MARK in revise[0]["planContains"]
    kinds = [a["do"] for a in spec["actions"]]
    assert kinds.index("revise") < kinds.index("approve")


def test_without_critique_submits_the_corrected_plan_at_once() -> None:
    """With the critique off, the demo's session is: explore, the corrected plan, the steps."""
    es = _load()
    turns = _demo_turns()
    plain = es.without_critique(json.loads(DEMO.read_text()))
    assert [t.get("tool") for t in plain[:2]] == ["view_file", "submit_plan"]
    assert plain[1]["expect"] == turns[1]["expect"]
    assert plain[1]["input"] == es.final_plan(turns)["input"] != turns[1]["input"]
    assert plain[2:] == turns[es.planning_end(turns) :]
    assert not any(t.get("tool") == "submit_critique" for t in plain)


def test_the_vscode_spec_plans_the_create_retry_change_after_the_demo() -> None:
    """The second plan of the VS Code run is create-retry.json's: its step creates the two files
    the spec checks, and its retry edits the created test file."""
    es = _load()
    spec = json.loads((ROOT / "tests" / "editors" / "vscode" / "demo.spec.json").read_text())
    kinds = [a["do"] for a in spec["actions"]]
    assert kinds.count("generate") == 2 and kinds.index("undo") < len(kinds) - kinds[::-1].index(
        "generate"
    )
    create = json.loads(es.CREATE_RETRY.read_text())["turns"]
    created = {t["input"]["path"] for t in create[1]["tools"] if t["input"]["command"] == "create"}
    later = spec["actions"][len(kinds) - kinds[::-1].index("generate") :]
    assert created <= {f for a in later for f in a.get("absent", [])}
    retried = create[3]["input"]["path"]
    assert retried in created
    assert any(a["do"] == "awaitPreview" and retried in a.get("files", {}) for a in later)


def test_acp_sdk_scripts() -> None:
    """The ACP SDK e2e's scripts: the MCP lookup before the demo's planning (whose first turn
    then expects the tool's result), and the second process's turns: only the last step."""
    es = _load()
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    turns = es.acp_sdk_script(demo)
    assert turns[0]["tool"] == "mcp__tickets__lookup_ticket"
    assert "create_ticket" in turns[0]["expect"]["not_contains"]
    assert turns[1]["expect"]["tool_result_contains"] == "MCP-RESULT-5c1d"
    assert len(turns) == len(demo["turns"]) + 1
    resume = es.acp_sdk_resume_script(demo)
    assert resume[0]["note"] == "step 3" and resume == demo["turns"][-len(resume) :]
