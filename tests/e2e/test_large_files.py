"""A step on a large file: the prompt carries an outline plus windows, not the whole file; the
model views another range through the editor tool and edits it; the step succeeds (#17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planfirst.plan.store import PlanStore
from tests.support.lsp_harness import command, lsp_session, write_script

N_FUNCS = 700  # 7 lines each: a ~4,900-line module


def big_module() -> str:
    out = ['"""A generated module with many small functions."""', ""]
    for i in range(N_FUNCS):
        out += [
            "",
            f"def helper_{i:04d}(x: int) -> int:",
            f'    """Helper number {i}."""',
            f"    marker_{i:04d} = x + {i}",
            f"    return marker_{i:04d}",
            "",
        ]
    return "\n".join(out) + "\n"


def _plan() -> dict[str, Any]:
    return {
        "summary": "Make helper_0350 double its input instead of adding 350.",
        "files_to_modify": [{"path": "textkit/big.py", "changes": "helper_0350 doubles x"}],
        "files_to_create": [],
        "dependency_changes": {"packages": [], "config": []},
        "steps": [
            {
                "order": 1,
                "description": "In textkit/big.py change `helper_0350` so it returns `x * 2`; "
                "leave every other helper as it is.",
                "files_to_modify": ["textkit/big.py"],
                "files_to_create": [],
                "validation": ['python -c "import textkit.big as b; assert b.helper_0350(4) == 8"'],
            }
        ],
        "test_criteria": ["helper_0350(4) returns 8"],
        "risks": ["other helpers change by accident"],
        "assumptions": ["nothing else calls helper_0350"],
    }


def _turns() -> list[dict[str, Any]]:
    return [
        {"tool": "submit_plan", "input": _plan()},
        {
            "note": "the prompt holds the outline and the window around helper_0350, not the file",
            "expect": {
                "contains": [
                    "[large file:",
                    "Outline (line ranges",
                    "def helper_0500",
                    "marker_0350 = x + 350",
                ],
                "not_contains": [
                    "marker_0100 = x + 100",
                    "marker_0600 = x + 600",
                    "def helper_0699",
                ],
            },
            "tool": "str_replace_based_edit_tool",
            "input": {"command": "view", "path": "textkit/big.py", "view_range": [600, 612]},
        },
        {
            "note": "the model's view of another range works on the whole file",
            "expect": {"tool_result_contains": "marker_0100 = x + 100"},
            "tool": "str_replace_based_edit_tool",
            "input": {
                "command": "str_replace",
                "path": "textkit/big.py",
                "old_str": "    marker_0350 = x + 350\n",
                "new_str": "    marker_0350 = x * 2\n",
            },
        },
        {"text": "helper_0350 now doubles its input."},
    ]


async def test_large_file_step_sends_outline_and_windows(workspace: Path, tmp_path: Path) -> None:
    big = workspace / "textkit" / "big.py"
    big.write_text(big_module())
    script = write_script(tmp_path, _turns())
    async with lsp_session(workspace, "vscode", script) as (client, _editor):
        res = await command(client, "planfirst.generatePlan", {"task": "double helper_0350"})
        pid = res["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        r1 = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r1["status"] == "done", r1
    text = big.read_text()
    assert "    marker_0350 = x * 2\n" in text
    assert text.count("\n") == big_module().count("\n")  # nothing else changed in size
    run = PlanStore(workspace).load(pid).state(1).runs[-1]
    assert run.sent["textkit/big.py"].startswith("outline+windows ")
    assert run.sent["textkit/big.py"].endswith(f"of {big_module().count(chr(10))} lines")
