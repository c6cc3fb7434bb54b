"""docs/reliability.md case 43: text from the repository or the model is escaped wherever it is
shown. planfirst's own preview (the diff document for editors without one) shows a bidi control
the model put in an edit as `\\u{202E}`, so the diff cannot read differently from what Apply
writes; `planfirst plans`, `planfirst diff` and the terminal client print a shipped plan's title,
a file name or a command's output with no escape sequence left (OSC 52 writes the clipboard,
`ESC [2J` clears the screen)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from planfirst.plan.model import Plan, PlanBody
from planfirst.terminal.editor import TerminalEditor
from tests.reliability.conftest import Invariants, serve
from tests.reliability.red_team import edit_turn
from tests.reliability.test_untrusted_model import one_step_plan, plan_turn
from tests.support.lsp_harness import command

RLO = "\u202e"
OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"  # "rm -rf ~" into the clipboard
CLEAR = "\x1b[2J\x1b[H"
RAW = ("\x1b", "\x07", "\x9b", RLO)


def _raw(text: str) -> list[str]:
    return [repr(c) for c in RAW if c in text]


async def test_case_43_own_preview_shows_bidi_controls_escaped(ws: Path, inv: Invariants) -> None:
    """Trojan-source text in the model's edit: the preview document and the question escape it;
    Apply still writes exactly the model's text."""
    trojan = f"access = 'user{RLO} ⁦// admin⁩ ⁦'\x1b[8m hidden"
    edit = edit_turn("README.md", "# textkit", f"# textkit\n\n{trojan}")
    srv = inv.scripted_server(
        [plan_turn(one_step_plan(["pytest -q tests/test_slug.py"])), edit, {"text": "done"}]
    )
    async with serve(inv, ws, srv, profile="neovim") as (client, editor, _l):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        editor.answer = "Discard"
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "rejected", r
        doc = (ws / ".planfirst" / "plans" / pid / "step-1-attempt-1.diff").read_text()
        assert _raw(doc) == [], f"raw control characters in the preview: {_raw(doc)}"
        assert "\\u{202E}" in doc and "\\u{1B}[8m" in doc and "\\u{2066}" in doc, doc
        assert all(_raw(q) == [] for q in editor.questions), editor.questions
        editor.answer = "Yes"  # Apply: what lands is the model's text, unescaped
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "done", r
    assert trojan in (ws / "README.md").read_text()


def _cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    return subprocess.run(
        [sys.executable, "-I", "-m", "planfirst", *args, "--workspace", str(ws)],
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_case_43_terminal_output_carries_no_escape_sequence(ws: Path, inv: Invariants) -> None:
    """A shipped plan whose title sends OSC 52 and clears the screen, a plan directory whose
    broken plan.json names itself in the error, two revisions for `planfirst diff`."""
    body = PlanBody.model_validate(one_step_plan(["pytest -q"]))
    plan = Plan(id="doc-top-0a1b2c", title=f"Docs{OSC52}{CLEAR}{RLO}txt.exe", task="x", body=body)
    d = ws / ".planfirst" / "plans" / plan.id
    (d / "revisions").mkdir(parents=True)
    old = plan.model_copy(deep=True)
    old.body.summary = f"old {CLEAR}summary"
    (d / "revisions" / "1.json").write_text(old.model_dump_json())
    plan.revision = 2
    plan.body.summary = f"new {OSC52}summary"
    (d / "plan.json").write_text(plan.model_dump_json())
    bad = ws / ".planfirst" / "plans" / "broken-0a1b2c"
    bad.mkdir()
    (bad / "plan.json").write_text('{"id": "x\x1b]52;c;ZXZpbA==\x07"')
    inv.broken.add(bad / "plan.json")

    listed = _cli(ws, "plans")
    assert "doc-top-0a1b2c" in listed.stdout and "broken-0a1b2c" in listed.stderr, listed
    for stream in (listed.stdout, listed.stderr):
        assert _raw(stream) == [], f"`planfirst plans` printed {_raw(stream)}: {stream!r}"
    assert "\\u{1B}]52;c;cm0gLXJmIH4K\\u{7}" in listed.stdout and "\\u{202E}" in listed.stdout

    diff = _cli(ws, "diff", "--plan", plan.id)
    assert diff.returncode == 0 and "+new" in diff.stdout, diff
    assert _raw(diff.stdout + diff.stderr) == [], diff.stdout

    # the terminal client: every line it prints passes one gate; its own colours stay
    out = io.StringIO()
    ed = TerminalEditor(ws, yes=True, out=out)
    ed.say(f"\x1b[1mPlan:\x1b[0m {plan.title}")
    ed.say(f"  │ output {OSC52}")
    printed = out.getvalue()
    assert OSC52 not in printed and CLEAR not in printed and RLO not in printed, repr(printed)
    assert "\\u{1B}]52" in printed and "\\u{1B}[2J" in printed
