"""Every editor, with the capabilities it really declares (tests/e2e/profiles): a step that creates
files and a retry that fixes one of them, planfirst's own preview where the editor shows none
(diff document, lenses, question; Discard changes nothing), and questions in every client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from planfirst.core.editing.edits import unified_diff
from planfirst.plan.store import PlanStore
from tests.support.lsp_harness import (
    CANNOT_ASK,
    REAL_PROFILES,
    Editor,
    command,
    lsp_session,
    write_script,
)

SCRIPT = json.loads(
    (Path(__file__).resolve().parents[1] / "editors" / "scripts" / "create-retry.json").read_text(
        encoding="utf-8"
    )
)["turns"]
TASK = "Add a shout(text) helper in a new module textkit/shout.py, with a test"
NEW = ("textkit/shout.py", "tests/test_shout.py")
OWN_PREVIEW = {"vscode-1.100": False, "nvim-0.7": True, "nvim-0.12": True, "eglot-1.9": True}


def snapshot(ws: Path) -> dict[str, bytes]:
    """Every file outside .planfirst, as bytes."""
    return {
        p.relative_to(ws).as_posix(): p.read_bytes()
        for p in sorted(ws.rglob("*"))
        if p.is_file() and not {".planfirst", "__pycache__", ".pytest_cache"} & set(p.parts)
    }


def shown(client: Any) -> list[str]:
    """The preview documents the server opened with window/showDocument (pytest-lsp records
    every shown document; the plan document is one too)."""
    return [p.uri for p in client.shown_documents if p.uri.endswith(".diff")]


async def wait_until(pred: Any, limit_s: float = 20.0) -> None:
    """Poll a predicate (never sleep for state)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not pred():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def discard(editor: Editor, own: bool) -> None:
    """The user turns the next step's change down, in whichever preview shows it."""
    if own:
        editor.answer = "Discard"
    else:
        editor.accept = False


def accept(editor: Editor, own: bool) -> None:
    """The user applies the next previews."""
    editor.answer = (
        "Yes"  # no such action in planfirst's question: the harness picks the first, Apply
    )
    editor.accept = True


@pytest.mark.parametrize("profile", REAL_PROFILES)
async def test_create_discard_apply_retry_on_the_created_file(
    workspace: Path, tmp_path: Path, profile: str
) -> None:
    own = OWN_PREVIEW[profile]
    before = snapshot(workspace)
    async with lsp_session(workspace, profile, write_script(tmp_path, SCRIPT)) as (client, editor):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})

        # 1. the first preview is discarded: nothing changes, on disk or in the editor
        discard(editor, own)
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "rejected" and r["step"] == 1
        assert snapshot(workspace) == before
        assert editor.buffers == {}
        if own:
            assert editor.edits == [], "planfirst's own preview sends nothing before Apply"
            assert "discarded in planfirst's preview" in r["message"]
            doc = workspace / ".planfirst" / "plans" / pid / "step-1-attempt-1.diff"
            assert doc.read_text().endswith(
                "".join(unified_diff(p, None, _created_text(p)) for p in sorted(NEW))
            )
            assert "Apply step 1" in editor.questions[-1]
            if profile == "nvim-0.12":  # showDocument: the diff document is opened
                assert shown(client) == [doc.resolve().as_uri()]
            else:  # no showDocument: the question says where the diff is
                assert shown(client) == []
                assert f".planfirst/plans/{pid}/step-1-attempt-1.diff" in editor.questions[-1]
        else:
            assert len(editor.edits) == 1 and editor.questions == []

        # 2. applied: creates both files; the test it wrote expects the wrong text; the retry
        # edits the file this step created (its own) and passes
        accept(editor, own)
        n_edits = len(editor.edits)
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "done" and r["step"] == 1 and r["attempts"] == 2, r
        assert "test criteria passed" in r["message"]

        sent = editor.edits[n_edits:]
        if profile == "eglot-1.9":
            # documentChanges without resource operations: eglot would read a CreateFile as a text
            # edit, so the editor is sent no edit for a file the step creates: after Apply in
            # planfirst's preview the server writes it whole (the disk holds the approved text
            # whether or not the editor ever saves, #29); the retry's edit of it goes to eglot
            assert len(sent) == 1
            assert [
                Path(c.text_document.uri).name
                for c in sent[0].edit.document_changes or []
                if isinstance(c, types.TextDocumentEdit)
            ] == ["test_shout.py"]
        else:  # Neovim lists resourceOperations without documentChanges: it creates them
            assert len(sent) == 2
            creates = [
                c for c in sent[0].edit.document_changes or [] if isinstance(c, types.CreateFile)
            ]
            edited = [
                c
                for c in sent[0].edit.document_changes or []
                if isinstance(c, types.TextDocumentEdit)
            ]
            assert sorted(Path(c.text_document.uri).name for c in edited) == [
                "shout.py",
                "test_shout.py",
            ]
            assert sorted(Path(c.uri).name for c in creates) == ["shout.py", "test_shout.py"]
        if own:  # reviewed in planfirst's preview: the editor is not asked a second time
            assert all(e.edit.change_annotations is None for e in sent)
            assert sum("Apply step 1" in q for q in editor.questions) == 3
        else:
            assert all(e.edit.change_annotations for e in sent)

    plan = PlanStore(workspace).load(pid)
    assert plan.status.value == "done"
    st = plan.state(1)
    # the discarded edit, offered again without a model call, is the same attempt (#33)
    assert [x.outcome for x in st.runs] == ["applied", "applied"]
    assert not st.runs[0].validation[0].passed and st.runs[1].validation[0].passed
    assert st.runs[1].before == {"tests/test_shout.py": _created_text("tests/test_shout.py")}
    # the disk holds what was validated; the editor's buffers hold the same (never saved there,
    # except by the VS Code extension's profile which saves through planfirst/saveDocuments)
    assert (workspace / "tests" / "test_shout.py").read_text().endswith('== "HI!"\n')
    for p in NEW:
        disk, buf = (workspace / p).read_text(), editor.buffers.get((workspace / p).resolve())
        if buf is None:  # eglot: the server wrote the new file; the editor never opened it
            assert profile == "eglot-1.9" and p == "textkit/shout.py"
            continue
        if profile.startswith(
            "nvim"
        ):  # Neovim's buffers end with an implicit line break ('fixeol')
            assert buf + "\n" == disk and not buf.endswith("\n")
        else:
            assert buf == disk
    after = snapshot(workspace)
    assert {k: v for k, v in after.items() if k not in NEW} == before


def _created_text(path: str) -> str:
    for turn in SCRIPT:
        for t in turn.get("tools", []):
            if t["input"].get("path") == path and t["input"]["command"] == "create":
                return str(t["input"]["file_text"])
    raise KeyError(path)


async def test_retry_command_after_a_failed_step_edits_the_file_it_created(
    workspace: Path, tmp_path: Path
) -> None:
    """Created by a failed run of the step (recorded in its runs): a later retryStep may edit it."""
    turns = [*SCRIPT[:3], dict(SCRIPT[3]), SCRIPT[4]]
    # a new retryStep: the model sees the file as created by this step
    turns[3]["expect"] = {
        "contains": [
            '<file path="tests/test_shout.py" status="created by an earlier attempt of this step'
        ]
    }
    async with lsp_session(
        workspace,
        "nvim-0.7",
        write_script(tmp_path, turns),
        init_options={"planfirst": {"execution": {"maxAttempts": 1}}},
    ) as (client, _editor):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "failed" and r["attempts"] == 1
        r = await command(client, "planfirst.retryStep", {"planId": pid, "step": 1})
        assert r["status"] == "done", r
    assert (workspace / "tests" / "test_shout.py").read_text().endswith('== "HI!"\n')


async def test_lenses_apply_and_discard_a_waiting_preview(workspace: Path, tmp_path: Path) -> None:
    """Neovim 0.12: the question is dismissed; the diff document's lenses (or the commands) decide."""
    async with lsp_session(workspace, "nvim-0.12", write_script(tmp_path, SCRIPT)) as (
        client,
        editor,
    ):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        editor.answer = None  # the user dismisses the question and reads the diff

        async def lenses(uri: str) -> list[types.CodeLens]:
            return await client.text_document_code_lens_async(
                types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
            )

        async def click(uri: str, title: str) -> None:
            found = await lenses(uri)
            assert [x.command.title for x in found if x.command] == ["✓ Apply step 1", "✗ Discard"]
            cmd = next(x.command for x in found if x.command and title in x.command.title)
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=cmd.command, arguments=cmd.arguments)
            )

        task = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(shown(client)) >= 1)
        await click(shown(client)[0], "Discard")
        r = await asyncio.wait_for(task, 60)
        assert (
            r["status"] == "rejected" and editor.edits == [] and not (workspace / NEW[0]).exists()
        )
        assert not await lenses(shown(client)[0])  # decided: no lens left

        task = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(shown(client)) >= 2)
        await click(shown(client)[1], "Apply")
        await wait_until(lambda: len(shown(client)) >= 3)  # attempt 2 after the failed validation
        # the discarded edit offered again was attempt 1 still (#33): the retry is attempt 2
        assert shown(client)[2].endswith("step-1-attempt-2.diff")
        await command(client, "planfirst.applyPreview", {})  # the newest waiting preview
        r = await asyncio.wait_for(task, 60)
        assert r["status"] == "done" and r["attempts"] == 2
        assert len(editor.edits) == 2
    assert (workspace / "tests" / "test_shout.py").read_text().endswith('== "HI!"\n')


async def test_no_preview_waiting_is_a_clear_error(workspace: Path) -> None:
    async with lsp_session(workspace, "nvim-0.12") as (client, _):
        with pytest.raises(JsonRpcException, match="no planfirst preview is waiting"):
            await command(client, "planfirst.applyPreview", {})


def _confirm_script() -> list[dict[str, Any]]:
    """One step validated by `python -c …`, which always needs the user's confirmation."""
    plan = json.loads(json.dumps(SCRIPT[0]))
    plan["input"]["steps"][0]["validation"] = ['python -c "import textkit.shout"']
    good = json.loads(json.dumps(SCRIPT[1]))
    for t in good["tools"]:
        if t["input"]["path"] == "tests/test_shout.py":
            t["input"]["file_text"] = t["input"]["file_text"].replace('== "HI"', '== "HI!"')
    return [plan, good, SCRIPT[2]]


@pytest.mark.parametrize("profile", ["eglot-1.9", "nvim-0.7"])
async def test_questions_are_asked_in_every_client(
    workspace: Path, tmp_path: Path, profile: str
) -> None:
    """eglot 1.9 declares no window capabilities at all, yet answers showMessageRequest."""
    async with lsp_session(workspace, profile, write_script(tmp_path, _confirm_script())) as (
        client,
        editor,
    ):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "done", r
        assert any("wants to run `python -c" in q for q in editor.questions)
    plan = PlanStore(workspace).load(pid)
    assert plan.state(1).last_run is not None and plan.state(1).last_run.validation[0].passed


async def test_a_client_that_cannot_ask_is_told_how_to_allow_instead(
    workspace: Path, tmp_path: Path
) -> None:
    """Only an error answer (MethodNotFound) means the client cannot ask; the refusal says what to do."""
    async with lsp_session(workspace, "eglot-1.9", write_script(tmp_path, _confirm_script())) as (
        client,
        editor,
    ):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        editor.answer = "Yes"
        preview_answers = iter(["Apply step 1"])

        # planfirst's preview question is answered; the confirmation gets MethodNotFound
        def next_answer(message: str) -> None:
            editor.answer = (
                CANNOT_ASK if "wants to run" in message else next(preview_answers, "Yes")
            )

        editor.on_question = next_answer
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert r["status"] == "failed", r
        assert "no way to ask for confirmation" in r["message"]
        assert (
            "cannot answer planfirst's questions" in r["message"]
            and "revise the plan" in r["message"]
        )


async def test_eglot_with_the_snippet_whose_save_fails_still_gets_the_approved_text_on_disk(
    workspace: Path, tmp_path: Path
) -> None:
    """#29: the README snippet declares planfirst/saveDocuments, but eglot applies planfirst's
    reviewed edit whole: what its handler could not save, the server writes (as for Neovim), so
    the step validates the approved text, not the old one, and nothing is called "partial"."""
    before = snapshot(workspace)
    async with lsp_session(workspace, "eglot-1.9+snippet", write_script(tmp_path, SCRIPT)) as (
        client,
        editor,
    ):
        editor.saves = False
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        accept(editor, own=True)
        r = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert (r["status"], r["attempts"]) == ("done", 2), r
        assert not [m for m in client.log_messages if "part of the proposed edit" in m.message]
        assert not [m for m in client.messages if "part of the proposed edit" in m.message]
    assert (workspace / "textkit" / "shout.py").read_text() == _created_text("textkit/shout.py")
    assert (workspace / "tests" / "test_shout.py").read_text().endswith('== "HI!"\n')
    assert {k: v for k, v in snapshot(workspace).items() if k not in NEW} == before
