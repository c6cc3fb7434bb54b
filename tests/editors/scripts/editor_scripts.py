"""Derive the real-editor tests' model scripts from the demo script (examples/scripts/demo.json).

The demo's turns are: planning (explore, submit_plan), step 1 attempt 1 (a tie-order bug: two
tool turns and a closing text), step 1 attempt 2 (the fix), step 2, step 3. Both editor tests
revise the plan once before approving it (feedback REVISE_FEEDBACK), so one more submit_plan turn
follows the planning turns: the same plan with a summary that says what changed. A discarded or
cancelled preview is offered again without a model call, so the VS Code test needs no extra turns.
Deriving instead of copying keeps the editor tests in step with the demo.

Usage: python editor_scripts.py vscode|nvim DEMO_JSON OUT_JSON
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


def _step1_attempt1(turns: list[Turn]) -> list[Turn]:
    """The turns of step 1's first attempt: from its first turn up to the text that ends it."""
    out: list[Turn] = []
    for turn in turns[2:]:
        out.append(turn)
        if "text" in turn and "tool" not in turn and "tools" not in turn:
            return out
    raise SystemExit("editor_scripts: step 1's first attempt has no closing text turn")


def revision_turn(turns: list[Turn]) -> Turn:
    """The answer to "Revise Plan" with REVISE_FEEDBACK: the demo's plan, its summary marked."""
    submit = turns[1]
    if submit.get("tool") != "submit_plan":
        raise SystemExit("editor_scripts: the demo's second turn is no longer submit_plan")
    plan = dict(submit["input"])
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


def vscode_script(demo: Any) -> list[Turn]:
    """Planning, the revision, then the demo's steps: the VS Code test discards step 1's first
    preview and cancels step 3's, but Execute offers the same edit again without a model call."""
    return nvim_script(demo)


def nvim_script(demo: Any) -> list[Turn]:
    """Planning, the revision, then the demo's steps: Neovim applies every edit as it comes."""
    turns = _turns(demo)
    return [*turns[:2], revision_turn(turns), *turns[2:]]


def main(argv: list[str]) -> int:
    """Write the derived script."""
    if len(argv) != 4 or argv[1] not in ("vscode", "nvim"):
        print(__doc__, file=sys.stderr)
        return 2
    demo = json.loads(Path(argv[2]).read_text(encoding="utf-8"))
    turns = vscode_script(demo) if argv[1] == "vscode" else nvim_script(demo)
    Path(argv[3]).write_text(json.dumps({"turns": turns}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
