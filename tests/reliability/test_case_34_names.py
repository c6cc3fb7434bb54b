"""docs/reliability.md case 34: names that mislead are shown for what they are. A plan naming a
file with a bidi control (U+202E), one with a Cyrillic look-alike letter and one that differs from
an existing file only in case is flagged by plan review; the plan document and the edit preview
show the hidden characters as `\\u{202E}`; a `<!--` opened mid-line in the summary hides nothing;
triple backticks in a command's output stay inside the hover's code block."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lsprotocol import types

from planfirst.plan.render import STEP_ID_COMMENT, parse_markdown, render
from planfirst.plan.store import PlanStore
from tests.reliability.conftest import Invariants, serve
from tests.reliability.test_untrusted_model import README_EDIT, plan_turn
from tests.support.lsp_harness import command

RLO = "\u202e"
BIDI = f"docs/report{RLO}dm.exe"  # shows as "docs/reportexe.md"
CYRILLIC = "src/p\u0430y.py"  # a Cyrillic "а"
CASE = "readme.md"  # README.md exists
FAIL_WITH_FENCE = "python -c \"print('```'); print('## not a heading'); raise SystemExit(3)\""


def _body() -> dict[str, Any]:
    return {
        "summary": "Document `--top`. <!-- everything after this is hidden in a preview",
        "files_to_modify": [
            {"path": "README.md", "changes": "document `--top` <!-- hidden", "depends_on": []},
            {"path": CASE, "changes": "same file?", "depends_on": []},
        ],
        "files_to_create": [
            {"path": BIDI, "purpose": "a report", "exports": []},
            {"path": CYRILLIC, "purpose": "payments", "exports": []},
        ],
        "dependency_changes": {"packages": [], "config": []},
        "steps": [
            {
                "order": 1,
                "description": f"Document `--top N` in `README.md` {RLO}and nothing else.",
                "files_to_modify": ["README.md"],
                "files_to_create": [],
                "validation": [FAIL_WITH_FENCE],
            }
        ],
        "test_criteria": ["`pytest -q` passes <!-- and this"],
        "risks": ["none"],
        "assumptions": ["none"],
    }


async def test_case_34_misleading_names_flagged_and_escaped(ws: Path, inv: Invariants) -> None:
    srv = inv.scripted_server([plan_turn(_body()), README_EDIT, {"text": "done"}])
    opts = {
        "planning": {"lintFeedback": False},
        "execution": {"maxAttempts": 1},
        "lint": {"disabled": ["misleading-name"]},
    }  # cannot be turned off
    async with serve(inv, ws, srv, init_options=opts) as (client, editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        plan = PlanStore(ws).load(pid)
        flagged = [f.message for f in plan.findings if f.rule == "misleading-name"]
        assert any("U+202E" in m for m in flagged), flagged
        assert any("U+0430" in m for m in flagged), flagged
        assert any("only in letter case" in m and "README.md" in m for m in flagged), flagged
        assert any(f.severity == "error" for f in plan.findings if f.rule == "misleading-name")

        # the plan document: no raw bidi control, the escape visible, no live comment, same plan back
        md = (ws / ".planfirst" / "plans" / pid / "plan.md").read_text(encoding="utf-8")
        served = await client.workspace_text_document_content_async(
            types.TextDocumentContentParams(uri=f"planfirst:/plans/{pid}.md")
        )
        for text in (md, served.text):
            assert RLO not in text and "\\u{202E}" in text
            # the server's own comments: the plan marker and each step's id (#18)
            body_lines = [
                ln
                for ln in text.splitlines()
                if not ln.startswith("<!-- planfirst plan=") and not STEP_ID_COMMENT.match(ln)
            ]
            assert not any(re.search(r"(?<!\\)<!--", ln) for ln in body_lines), (
                "a comment opened in model text"
            )
        _, back = parse_markdown(md)
        assert back == plan.body

        # the preview's label and description show the hidden character escaped
        await command(client, "planfirst.approvePlan", {"planId": pid})
        editor.answer = "Yes"  # run the not-allow-listed python -c
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] != "done"
        ann = editor.edits[0].edit.change_annotations or {}
        shown = " ".join(f"{a.label} {a.description}" for a in ann.values()) + str(
            editor.edits[0].label
        )
        assert RLO not in shown and "\\u{202E}" in shown, shown

        # hover on the step: the output's ``` does not end the code block
        rendered = render(PlanStore(ws).load(pid))
        start, _end = rendered.steps[1]
        hover = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=f"planfirst:/plans/{pid}.md"),
                position=types.Position(line=start, character=0),
            )
        )
        assert hover is not None
        value = hover.contents.value  # type: ignore[union-attr]
        fences = re.findall(r"^(`{3,})$", value, re.M)
        assert len(fences) >= 2 and len(fences[0]) > 3, value
        block = value.split(fences[0] + "\n", 1)[1].split("\n" + fences[0], 1)[0]
        assert "```" in block and "## not a heading" in block, value
