"""e2e phase 2 on a real project: previewed annotated edits, validation → diagnostics → retry,
undo to the exact bytes. (Rejected previews, a second execute while one runs and resuming after
a kill are covered, with the invariants checked, by tests/reliability.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.support.demo_script import DEMO
from tests.support.lsp_harness import command, lsp_session, write_script

TASK = "Add a --top N option to textkit count"


def snapshot(ws: Path) -> dict[str, bytes]:
    """Every file outside .planfirst, as bytes."""
    return {
        p.relative_to(ws).as_posix(): p.read_bytes()
        for p in sorted(ws.rglob("*"))
        if p.is_file()
        and ".planfirst" not in p.parts
        and "__pycache__" not in p.parts
        and ".pytest_cache" not in p.parts
    }


async def _approved(client, ws: Path) -> str:
    res = await command(client, "planfirst.generatePlan", {"task": TASK})
    with pytest.raises(JsonRpcException, match="not approved"):
        await command(client, "planfirst.executeNextStep", {"planId": res["planId"]})
    await command(client, "planfirst.approvePlan", {"planId": res["planId"]})
    return res["planId"]


@pytest.mark.parametrize("profile", ["vscode", "neovim"])
async def test_three_steps_with_a_retry(workspace: Path, tmp_path: Path, profile: str) -> None:
    script = write_script(tmp_path, DEMO)
    async with lsp_session(workspace, profile, script) as (client, editor):
        pid = await _approved(client, workspace)

        r1 = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r1["step"] == 1 and r1["status"] == "done" and r1["attempts"] == 2
        # attempt 1 failed validation: diagnostics were published on the failing test file
        test_uri = (workspace / "tests" / "test_wordcount.py").resolve().as_uri()
        assert test_uri in client.diagnostics
        # ... and cleared once the retry passed
        assert list(client.diagnostics[test_uri]) == []
        assert len(editor.edits) == 2
        first = editor.edits[0]
        if profile == "vscode":
            # the retry's review says which attempt it is and which failure it fixes (#33)
            second = next(iter(editor.edits[1].edit.change_annotations.values())).label
            assert "step 1, attempt 2 (fixes `pytest -q tests/test_wordcount.py`)" in second, second
            assert "attempt" not in next(iter(first.edit.change_annotations.values())).label
        if profile == "vscode":
            ann = first.edit.change_annotations
            assert ann and all(a.needs_confirmation for a in ann.values())
            assert "step 1" in next(iter(ann.values())).label
            assert all(
                getattr(e, "annotation_id", None)
                for ch in first.edit.document_changes
                for e in getattr(ch, "edits", [])
            )
        # minimal edits: only changed lines, never a whole-file replacement
        for ch in first.edit.document_changes:
            for e in getattr(ch, "edits", []):
                assert e.range.end.line - e.range.start.line < 5

        r2 = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r2["step"] == 2 and r2["status"] == "done" and r2["attempts"] == 1
        r3 = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r3["step"] == 3 and r3["status"] == "done"
        assert "test criteria passed" in r3["message"]

    plan = PlanStore(workspace).load(pid)
    assert plan.status.value == "done"
    assert [s.status.value for s in plan.steps] == ["done", "done", "done"]
    s1 = plan.state(1)
    assert [r.outcome for r in s1.runs] == ["applied", "applied"]
    assert not s1.runs[0].validation[0].passed and s1.runs[1].validation[0].passed
    assert "+def top_words" in s1.runs[0].proposed_diff
    assert all(v.passed for v in plan.final_validation)
    # the disk holds exactly the approved text (Neovim never saves: the server wrote it)
    text = (workspace / "textkit" / "wordcount.py").read_text()
    assert "key=lambda kv: (-kv[1], kv[0])" in text
    assert "--top" in (workspace / "textkit" / "cli.py").read_text()
    assert "--top 5" in (workspace / "README.md").read_text()
    if profile == "vscode":
        assert editor.saved  # the editor was asked to save its buffers
    usage = plan.usage
    assert usage.calls >= 9 and usage.output_tokens > 0


@pytest.mark.parametrize("profile", ["vscode", "neovim"])
async def test_undo_restores_exact_bytes(workspace: Path, tmp_path: Path, profile: str) -> None:
    # CRLF and a non-ASCII char in the files the step edits: the step keeps them, undo restores
    # them byte for byte (the harness applies and saves byte-exactly, like a real editor)
    wc = workspace / "textkit" / "wordcount.py"
    wc.write_bytes(
        wc.read_bytes().replace(b'"""Word counting."""', '"""Word counting — naïve."""'.encode())
    )
    for f in (wc, workspace / "tests" / "test_wordcount.py"):
        f.write_bytes(f.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    turns = [*DEMO[:2], DEMO[2], DEMO[3], DEMO[4], DEMO[5], DEMO[6]]
    script = write_script(tmp_path, turns)
    async with lsp_session(workspace, profile, script) as (client, _editor):
        pid = await _approved(client, workspace)
        before = snapshot(workspace)
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "done"
        assert snapshot(workspace) != before
        after = wc.read_bytes()
        assert b"def top_words" in after and b"\n" not in after.replace(
            b"\r\n", b""
        )  # CRLF throughout
        assert not any("part of the proposed edit" in m.message for m in client.messages)
        undo = await command(client, "planfirst.undoStep", {"planId": pid, "step": 1})
        assert undo["status"] == "undone"
        assert snapshot(workspace) == before
        plan = PlanStore(workspace).load(pid)
        assert plan.state(1).status.value == "undone"
        # undo twice is refused with a reason
        with pytest.raises(JsonRpcException, match="no applied edit"):
            await command(client, "planfirst.undoStep", {"planId": pid, "step": 1})


async def test_undo_refused_when_files_changed(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, [*DEMO[:2], *DEMO[2:7]])
    async with lsp_session(workspace, "neovim", script) as (client, _):
        pid = await _approved(client, workspace)
        await command(client, "planfirst.executeNextStep", {"planId": pid})
        wc = workspace / "textkit" / "wordcount.py"
        wc.write_text(wc.read_text() + "\n# my own edit\n")
        with pytest.raises(JsonRpcException, match="changed since the step was applied"):
            await command(client, "planfirst.undoStep", {"planId": pid, "step": 1})
        assert wc.read_text().endswith("# my own edit\n")


async def test_step_naming_a_secret_is_refused_and_never_sent(
    workspace: Path, tmp_path: Path
) -> None:
    plan = {
        "summary": "Rotate the token in `.env`.",
        "files_to_modify": [
            {"path": ".env", "changes": "replace `TEXTKIT_API_TOKEN`", "depends_on": []}
        ],
        "steps": [
            {
                "order": 1,
                "description": "Replace `TEXTKIT_API_TOKEN` in `.env`.",
                "files_to_modify": [".env"],
                "validation": ["pytest -q"],
            }
        ],
        "test_criteria": ["`pytest -q` passes"],
        "risks": ["none"],
        "assumptions": ["none"],
    }
    script = write_script(
        tmp_path, [{"tool": "submit_plan", "input": plan}, {"tool": "submit_plan", "input": plan}]
    )
    async with lsp_session(workspace, "vscode", script) as (client, editor):
        res = await command(client, "planfirst.generatePlan", {"task": "rotate the token"})
        await command(client, "planfirst.approvePlan", {"planId": res["planId"], "force": True})
        with pytest.raises(JsonRpcException, match=r"never reads or edits \(secret\)"):
            await command(client, "planfirst.executeNextStep", {"planId": res["planId"]})
        assert editor.edits == []
    assert "canary-5f0d6c1e" in (workspace / ".env").read_text()


async def test_stale_file_reported_even_if_the_model_never_read_it(
    workspace: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path, DEMO[:10])
    async with lsp_session(workspace, "vscode", script) as (client, _):
        pid = await _approved(client, workspace)
        plan = PlanStore(workspace).load(pid)
        assert "tests/test_cli.py" in plan.provenance.context_files  # hashed though never read
        await command(client, "planfirst.executeNextStep", {"planId": pid})
        cli_test = workspace / "tests" / "test_cli.py"
        cli_test.write_text(cli_test.read_text() + "\n# edited by hand after planning\n")
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["step"] == 2 and res["status"] == "done"
        assert res["staleFiles"] == ["tests/test_cli.py"]
        assert any(
            "may be stale" in m.message and "tests/test_cli.py" in m.message
            for m in client.messages
        )


async def test_partly_applied_preview_is_what_gets_validated(
    workspace: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path, DEMO[:10])
    async with lsp_session(workspace, "vscode", script) as (client, editor):
        pid = await _approved(client, workspace)
        await command(client, "planfirst.executeNextStep", {"planId": pid})
        before_test = (workspace / "tests" / "test_cli.py").read_bytes()
        editor.untick = {"tests/test_cli.py"}  # the user unticks the test file in the preview
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["step"] == 2 and res["status"] == "done"
        assert (workspace / "tests" / "test_cli.py").read_bytes() == before_test  # not overwritten
        assert "--top" in (workspace / "textkit" / "cli.py").read_text()
        run = PlanStore(workspace).load(pid).state(2).last_run
        assert run is not None and run.after["tests/test_cli.py"] == before_test.decode()
        # recorded as partly applied, naming the file left out, not as plain "applied" (#33)
        assert run.left_out == ["tests/test_cli.py"] and run.applied_in_part == []
        assert any(
            "Partly applied: tests/test_cli.py left out." in m.message for m in client.messages
        ), [m.message for m in client.messages]
        rows = await command(client, "planfirst.listPlans", {})
        step2 = next(r for r in rows[0]["stepList"] if r["order"] == 2)
        assert step2["leftOut"] == ["tests/test_cli.py"] and step2["appliedInPart"] == []
        assert "leftOut" not in rows[0]["stepList"][0]
    doc = (workspace / ".planfirst" / "plans" / pid / "plan.md").read_text()
    assert "> Last run: attempt 1 · partly applied (left out: `tests/test_cli.py`)" in doc


async def test_discarded_preview_is_offered_again_without_a_model_call(
    workspace: Path, tmp_path: Path
) -> None:
    """A discarded (or empty) apply never costs a new model call: Execute offers the stored edit
    again while the files are unchanged (docs/reliability.md; issue #22 point 1)."""
    script = write_script(tmp_path, DEMO[:7])  # plan, step 1 attempt 1, its fix; nothing to spare
    async with lsp_session(workspace, "vscode", script) as (client, editor):
        pid = await _approved(client, workspace)
        before = snapshot(workspace)
        editor.accept = False
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "rejected" and snapshot(workspace) == before
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "rejected" and len(editor.edits) == 2
        assert editor.edits[1].edit == editor.edits[0].edit  # the very same edit, offered again
        editor.accept = True
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["step"] == 1 and res["status"] == "done" and res["attempts"] == 2, res
        assert editor.edits[2].edit == editor.edits[0].edit
    plan = PlanStore(workspace).load(pid)
    runs = plan.state(1).runs
    # the edit offered again is the same attempt, not attempt 2 and 3 (#33): one run for the
    # discarded, re-offered and applied edit, one for the model's fix after validation failed
    assert [(r.attempt, r.outcome) for r in runs] == [(1, "applied"), (2, "applied")]
    assert runs[0].usage.calls > 0 and runs[0].model == runs[1].model
    doc = (workspace / ".planfirst" / "plans" / pid / "plan.md").read_text()
    assert "Last run: attempt 2 · applied" in doc
    assert "key=lambda kv: (-kv[1], kv[0])" in (workspace / "textkit" / "wordcount.py").read_text()


async def test_progress_says_what_runs_and_every_report_reaches_vscode(
    workspace: Path, tmp_path: Path
) -> None:
    """VS Code (vscode-languageclient) drops a work-done report without a percentage once the
    progress began with one: every report carries one, and validation says what it runs."""
    script = write_script(tmp_path, DEMO[:7])
    async with lsp_session(workspace, "vscode", script) as (client, _editor):
        pid = await _approved(client, workspace)
        client.progress_reports.clear()
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "done"
        reports = [
            v
            for values in client.progress_reports.values()
            for v in values
            if getattr(v, "kind", "") == "report"
        ]
    messages = [r.message for r in reports]
    assert "step 1/3: waiting for you to review the edit" in messages
    # the command, alone or with its output so far (reports 50 ms apart are coalesced)
    assert any(
        m.startswith("step 1/3: running `pytest -q tests/test_wordcount.py`") for m in messages
    )
    assert [r for r in reports if r.percentage is None] == []
