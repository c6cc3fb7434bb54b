"""Every path through a step ends consistent (#23): after any sequence of user actions, model
answers, crashes and cancels the disk holds exactly what was previewed and validated,
plan.json says what really happened, every applied edit can be undone, and the user is told
the truth. One test per numbered case of the issue, end to end through the real server with
the scripted model (the case 22 invariants are checked after each, see conftest.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from planfirst.plan.store import PlanStore
from tests.reliability.conftest import DEMO, TASK, Invariants, kill_server, serve
from tests.reliability.test_crash_resume import _children
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until

ORIG_SLUG = '"""URL slugs."""\n'


def snapshot(ws: Path) -> dict[str, bytes]:
    """Every user file, as bytes."""
    return {
        p.relative_to(ws).as_posix(): p.read_bytes()
        for p in sorted(ws.rglob("*"))
        if p.is_file() and not {".planfirst", "__pycache__", ".pytest_cache"} & set(p.parts)
    }


def plan_turn(steps: list[dict[str, Any]], create: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """A submit_plan turn for the example workspace made of `steps`."""
    modify = sorted({f for s in steps for f in s.get("files_to_modify", [])})
    return {
        "tool": "submit_plan",
        "input": {
            "summary": "Small edits to the textkit package.",
            "files_to_modify": [
                {"path": f, "changes": "small edit", "depends_on": []} for f in modify
            ],
            "files_to_create": [{"path": f, "purpose": "new file", "exports": []} for f in create],
            "dependency_changes": {"packages": [], "config": []},
            "steps": steps,
            "test_criteria": ["`pytest -q tests/test_slug.py` passes"],
            "risks": ["none"],
            "assumptions": ["none"],
        },
    }


def step(
    order: int,
    files: list[str],
    create: list[str] = (),
    what: str = "",
    check: str = "pytest -q tests/test_slug.py",
) -> dict[str, Any]:  # type: ignore[assignment]
    """One plan step."""
    return {
        "order": order,
        "description": what or f"Edit {', '.join([*files, *create])}.",
        "files_to_modify": files,
        "files_to_create": list(create),
        "validation": [check],
    }


def edit(path: str, old: str, new: str, **turn: Any) -> dict[str, Any]:
    """A model turn making one str_replace."""
    return {
        "tool": "str_replace_based_edit_tool",
        "input": {"command": "str_replace", "path": path, "old_str": old, "new_str": new},
        **turn,
    }


def done(**turn: Any) -> dict[str, Any]:
    """The model's closing text turn."""
    return {"text": "Done.", **turn}


async def approved(client: Any, task: str = TASK) -> str:
    """Generate and approve a plan; its id."""
    pid = (await command(client, "planfirst.generatePlan", {"task": task}))["planId"]
    await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
    return pid


def said(client: Any, *words: str) -> list[str]:
    """Messages shown to the user that contain every word."""
    return [m.message for m in client.messages if all(w in m.message for w in words)]


async def test_case_01_view_of_a_directory_or_binary_is_a_tool_result(
    ws: Path, inv: Invariants
) -> None:
    """1. The execution model views `textkit`, `textkit/`, `.` and a binary file: it gets a
    listing or a tool error it can act on (no absolute path), and the step goes on."""
    (ws / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    views = [
        {"name": "str_replace_based_edit_tool", "input": {"command": "view", "path": p}}
        for p in ("textkit", "textkit/", ".", "img.png")
    ]
    srv = inv.scripted_server(
        [
            plan_turn([step(1, ["textkit/slug.py"])]),
            {"tools": views},
            edit(
                "textkit/slug.py",
                ORIG_SLUG,
                '"""URL slugs (ASCII)."""\n',
                expect={"tool_result_contains": ["slug.py", "wordcount.py", "textkit/", "img.png"]},
            ),
            done(),
        ]
    )
    async with serve(inv, ws, srv, profile="neovim") as (client, _e, _l):
        pid = await approved(client)
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "done", res
    assert srv.failures == []
    assert (ws / "textkit" / "slug.py").read_text().startswith('"""URL slugs (ASCII)."""')
    results = json.dumps([r.body["messages"][-1] for r in srv.requests[2:3]])
    assert str(ws) not in results  # no absolute path in what the model reads
    assert "binary" in results or "not text" in results


async def test_case_02_rejected_retry_keeps_attempt_1_undoable(ws: Path, inv: Invariants) -> None:
    """2. Attempt 1 is applied and fails validation; the user rejects attempt 2's preview.
    Attempt 1 is still on disk: the step is not `pending`, the user is not told "nothing
    changed", and undo (without a step number) restores the exact bytes."""
    srv = inv.scripted_server([*DEMO[:7]])
    before = snapshot(ws)
    async with serve(inv, ws, srv, profile="vscode") as (client, editor, _l):
        pid = await approved(client)
        editor.answers = [True, False]  # apply attempt 1, reject attempt 2
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "rejected", res
        plan = PlanStore(ws).load(pid)
        st = plan.state(1)
        assert [r.outcome for r in st.runs] == ["applied", "rejected"]
        assert st.status.value == "failed", st.status  # attempt 1's edit is on disk, unvalidated
        assert not said(client, "nothing changed")
        assert said(client, "Step 1", "attempt")
        undo = await command(client, "planfirst.undoStep", {"planId": pid})
        assert undo["status"] == "undone" and undo["step"] == 1
    assert snapshot(ws) == before


async def test_case_03_revise_after_a_failed_step(ws: Path, inv: Invariants) -> None:
    """3. After a step failed (nothing running) the plan can be revised, as the failure message
    and the Revise lens offer; the failed step's edit stays undoable."""
    replan = {k: v for k, v in DEMO[1].items() if k != "expect"}
    srv = inv.scripted_server([*DEMO[:5], replan])
    before = snapshot(ws)
    async with serve(inv, ws, srv, init_options={"execution": {"maxAttempts": 1}}) as (
        client,
        _e,
        _l,
    ):
        pid = await approved(client)
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "failed", res
        assert said(client, "revise the plan")
        rev = await command(
            client, "planfirst.revisePlan", {"planId": pid, "feedback": "order ties alphabetically"}
        )
        assert rev["revision"] == 2
        plan = PlanStore(ws).load(pid)
        assert plan.status.value == "draft" and plan.state(1).status.value == "failed"
        undo = await command(client, "planfirst.undoStep", {"planId": pid, "step": 1})
        assert undo["status"] == "undone"
    assert srv.failures == []
    assert snapshot(ws) == before


async def test_case_04_undo_in_reverse_order(ws: Path, inv: Invariants) -> None:
    """4. Steps are undone last-first: undoing step 1 while step 2 (other files) is done is
    refused with a message naming step 2, and nothing changes; undoing 2 then 1 restores all."""
    srv = inv.scripted_server([*DEMO[:10]])
    before = snapshot(ws)
    async with serve(inv, ws, srv, profile="neovim") as (client, _e, _l):
        pid = await approved(client)
        for _ in (1, 2):
            assert (await command(client, "planfirst.executeNextStep", {"planId": pid}))[
                "status"
            ] == "done"
        mid = snapshot(ws)
        with pytest.raises(JsonRpcException, match=r"undo step 2 first"):
            await command(client, "planfirst.undoStep", {"planId": pid, "step": 1})
        assert snapshot(ws) == mid
        plan = PlanStore(ws).load(pid)
        assert [plan.state(n).status.value for n in (1, 2)] == ["done", "done"]
        for n in (2, 1):
            assert (await command(client, "planfirst.undoStep", {"planId": pid, "step": n}))[
                "status"
            ] == "undone"
    assert snapshot(ws) == before


@pytest.mark.parametrize("profile", ["neovim", "vscode"])
async def test_case_05_disk_change_while_the_model_works_is_kept(
    ws: Path, inv: Invariants, profile: str
) -> None:
    """5. The user changes a file on disk after the model read it and before the preview.
    Neovim (never saves) would get the edit applied to the changed text while the server wrote
    text built from the old file; VS Code would apply and save it and have it validated as a
    "partial apply". The step stops and says so; the user's change is on disk, nothing else."""
    wc = ws / "textkit" / "wordcount.py"
    slow = {**DEMO[3], "delay": 4}
    srv = inv.scripted_server([*DEMO[:3], slow, DEMO[4]])
    async with serve(inv, ws, srv, profile=profile) as (client, editor, _l):
        pid = await approved(client)
        run = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(srv.requests) >= 4, 30, "the step's second model call")
        mine = wc.read_text() + "\n# my own edit while the model works\n"
        wc.write_text(mine)
        res = await run
        assert res["status"] != "done", res
        assert said(client, "textkit/wordcount.py", "changed")
        assert wc.read_text() == mine  # the user's change survives, no half-applied step
        assert editor.edits == []  # nothing was shown, nothing applied
        assert not said(client, "part of the proposed edit")
        plan = PlanStore(ws).load(pid)
        assert plan.state(1).status.value == "pending"
        assert [r.outcome for r in plan.state(1).runs] == ["conflict"]


async def test_case_06_reload_keeps_runs_of_steps_not_done(ws: Path, inv: Invariants) -> None:
    """6. A failed step's edit is on disk; the user edits plan.md by hand and reloads: the
    step keeps its runs, so its edit can still be undone."""
    srv = inv.scripted_server([*DEMO[:5]])
    before = snapshot(ws)
    async with serve(inv, ws, srv, init_options={"execution": {"maxAttempts": 1}}) as (
        client,
        _e,
        _l,
    ):
        pid = await approved(client)
        assert (await command(client, "planfirst.executeNextStep", {"planId": pid}))[
            "status"
        ] == "failed"
        md = PlanStore(ws).plan_md(pid)
        text = md.read_text(encoding="utf-8")
        assert "Document `python -m textkit count --top N FILE`" in text
        md.write_text(
            text.replace(
                "Document `python -m textkit count --top N FILE`",
                "Describe `python -m textkit count --top N FILE`",
            ),
            encoding="utf-8",
        )
        res = await command(client, "planfirst.reloadPlan", {"planId": pid})
        assert res["revision"] == 2
        plan = PlanStore(ws).load(pid)
        assert plan.state(1).status.value == "failed"
        assert [r.outcome for r in plan.state(1).runs] == ["applied"]
        undo = await command(client, "planfirst.undoStep", {"planId": pid})
        assert undo["status"] == "undone" and undo["step"] == 1
    assert snapshot(ws) == before


async def test_case_07_explicit_retry_tells_the_model_why(ws: Path, inv: Invariants) -> None:
    """7. With maxAttempts 1 the step fails; an explicit Retry sends the model the validation
    output (DEMO[5] expects `<validation_errors>` naming the failing test)."""
    srv = inv.scripted_server([*DEMO[:7]])
    async with serve(inv, ws, srv, init_options={"execution": {"maxAttempts": 1}}) as (
        client,
        _e,
        _l,
    ):
        pid = await approved(client)
        assert (await command(client, "planfirst.executeNextStep", {"planId": pid}))[
            "status"
        ] == "failed"
        res = await command(client, "planfirst.retryStep", {"planId": pid, "step": 1})
        assert res["status"] == "done", res
    assert srv.failures == []
    assert "<validation_errors>" in json.dumps(srv.requests[-2].body)


async def test_case_08_no_false_stale_after_undoing_in_reverse(ws: Path, inv: Invariants) -> None:
    """8. Two steps edit the same file; undo 2 then 1, run step 1 again: the file holds what
    the plan expects, so no "plan may be stale" (expected text follows the order things
    happened). Undoing 1 first is refused naming step 2 (case 4 on one file)."""
    slug = ws / "textkit" / "slug.py"
    srv = inv.scripted_server(
        [
            plan_turn(
                [
                    step(
                        1,
                        ["textkit/slug.py"],
                        what="Say `(one)` in the module docstring of `textkit/slug.py`.",
                    ),
                    step(
                        2,
                        ["textkit/slug.py"],
                        what="Then replace that marker by `(two)` after a review.",
                    ),
                ]
            ),
            edit("textkit/slug.py", ORIG_SLUG, '"""URL slugs (one)."""\n'),
            done(),
            edit("textkit/slug.py", '"""URL slugs (one)."""\n', '"""URL slugs (two)."""\n'),
            done(),
            edit("textkit/slug.py", ORIG_SLUG, '"""URL slugs (one)."""\n'),
            done(),
        ]
    )
    before = snapshot(ws)
    async with serve(inv, ws, srv, profile="neovim") as (client, _e, _l):
        pid = await approved(client)
        for _ in (1, 2):
            assert (await command(client, "planfirst.executeNextStep", {"planId": pid}))[
                "status"
            ] == "done"
        with pytest.raises(JsonRpcException, match=r"undo step 2 first"):
            await command(client, "planfirst.undoStep", {"planId": pid, "step": 1})
        for n in (2, 1):
            assert (await command(client, "planfirst.undoStep", {"planId": pid, "step": n}))[
                "status"
            ] == "undone"
        assert snapshot(ws) == before
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["step"] == 1 and res["status"] == "done", res
        assert res["staleFiles"] == []
        assert not said(client, "may be stale")
    assert srv.failures == []
    assert slug.read_text().startswith('"""URL slugs (one)."""')


async def test_case_09_attempt_limit_survives_a_restart(ws: Path, inv: Invariants) -> None:
    """9. maxAttempts 2; the server is killed during attempt 2's validation. The resumed step
    validates attempt 2 and fails: no third model call, "attempts": 2, two applied runs."""
    still_wrong = edit(
        "textkit/wordcount.py",
        "    return sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:n]\n",
        "    return sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:n]  # ranked\n",
    )
    srv = inv.scripted_server([*DEMO[:5], still_wrong, done()])
    opts = {"execution": {"maxAttempts": 2}}
    async with serve(inv, ws, srv, profile="neovim", init_options=opts) as (client, _e, ledger):
        pid = await approved(client)
        server_pid = client._server.pid  # type: ignore[union-attr]
        run = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(
            lambda: len(srv.requests) >= 7 and any("pytest" in c for _, c in _children(server_pid)),
            60,
            "attempt 2's validation",
        )
        await kill_server(client, ledger)
        run.cancel()
    assert PlanStore(ws).load(pid).state(1).status.value == "applied"
    asked = len(srv.requests)
    async with serve(inv, ws, srv, profile="neovim", init_options=opts) as (client, _e, _l):
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "failed" and res["attempts"] == 2, res
    assert len(srv.requests) == asked  # the model was not asked for a third attempt
    runs = PlanStore(ws).load(pid).state(1).runs
    assert [r.outcome for r in runs] == ["applied", "applied"]


BOM = "\ufeff"


@pytest.mark.parametrize("profile", ["vscode", "neovim"])
async def test_case_10_utf8_bom(ws: Path, inv: Invariants, profile: str) -> None:
    """10. textkit/slug.py starts with a UTF-8 BOM. An insert at line 0 and a replace on line 0
    land after the BOM, at the right columns (editors do not count the BOM); the file keeps
    its BOM whether it was open in the editor (Neovim) or not (VS Code)."""
    slug = ws / "textkit" / "slug.py"
    body = slug.read_text()
    slug.write_bytes((BOM + body).encode())
    srv = inv.scripted_server(
        [
            plan_turn([step(1, ["textkit/slug.py"])]),
            {
                "tools": [
                    {
                        "name": "str_replace_based_edit_tool",
                        "input": {
                            "command": "insert",
                            "path": "textkit/slug.py",
                            "insert_line": 0,
                            "insert_text": "# -*- coding: utf-8 -*-\n",
                        },
                    },
                    {
                        "name": "str_replace_based_edit_tool",
                        "input": {
                            "command": "str_replace",
                            "path": "textkit/slug.py",
                            "old_str": '"""URL slugs."""',
                            "new_str": '"""URL slugs, ASCII only."""',
                        },
                    },
                ]
            },
            done(),
        ]
    )
    want = (
        BOM
        + "# -*- coding: utf-8 -*-\n"
        + body.replace('"""URL slugs."""', '"""URL slugs, ASCII only."""')
    ).encode()
    async with serve(inv, ws, srv, profile=profile) as (client, editor, _l):
        pid = await approved(client)
        if profile == "neovim":  # open in the editor: Neovim sends the text without the BOM
            text = editor.open_text(slug)
            assert not text.startswith(BOM)
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=slug.as_uri(), language_id="python", version=1, text=text
                    )
                )
            )
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "done", res
        assert not said(client, "part of the proposed edit")
        if profile == "vscode":
            assert editor.buffers[slug] == want.decode()[1:]  # what the editor holds is right too
    assert slug.read_bytes() == want


async def test_case_11_form_feed_and_line_separator_in_an_open_document(
    ws: Path, inv: Invariants
) -> None:
    """11. An open document with a form feed and U+2028 gets an incremental didChange on the
    line after them: the server's copy (sent to the model, then written to disk for Neovim)
    has the change on the right line, as LSP counts lines (only \\n, \\r\\n, \\r)."""
    consts = ws / "textkit" / "consts.py"
    text = "a = 1\n\x0c\n# sep\u2028here\nb = 22\nc = 3\n"
    consts.write_text(text)
    srv = inv.scripted_server(
        [
            plan_turn([step(1, ["textkit/consts.py"])]),
            edit(
                "textkit/consts.py",
                "a = 1\n",
                "a = 11\n",
                expect={"contains": ["b = 22\nc = 33\n"]},
            ),
            done(),
        ]
    )
    async with serve(inv, ws, srv, profile="neovim") as (client, editor, _l):
        pid = await approved(client)
        uri = consts.as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=editor.open_text(consts)
                )
            )
        )
        # LSP line 4 is "c = 3": change "3" to "33"
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=4, character=4),
                            end=types.Position(line=4, character=5),
                        ),
                        text="33",
                    )
                ],
            )
        )
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "done", res
    assert srv.failures == []
    assert consts.read_text() == "a = 11\n\x0c\n# sep\u2028here\nb = 22\nc = 33\n"


async def test_case_12_unticked_file_creation_is_never_written(ws: Path, inv: Invariants) -> None:
    """12. VS Code: the user unticks a new file in the preview. The extension cannot save a
    file that does not exist, so it is not reported saved; the server must not write it."""
    new = "tests/test_extra.py"
    srv = inv.scripted_server(
        [
            plan_turn([step(1, ["textkit/slug.py"], create=[new])], create=[new]),
            {
                "tools": [
                    {
                        "name": "str_replace_based_edit_tool",
                        "input": {
                            "command": "str_replace",
                            "path": "textkit/slug.py",
                            "old_str": ORIG_SLUG,
                            "new_str": '"""URL slugs (ASCII)."""\n',
                        },
                    },
                    {
                        "name": "str_replace_based_edit_tool",
                        "input": {
                            "command": "create",
                            "path": new,
                            "file_text": "def test_extra():\n    assert True\n",
                        },
                    },
                ]
            },
            done(),
        ]
    )
    async with serve(inv, ws, srv, profile="vscode") as (client, editor, _l):
        pid = await approved(client)
        editor.untick = {new}
        res = await command(client, "planfirst.executeNextStep", {"planId": pid})
        assert res["status"] == "done", res
    assert not (ws / new).exists()
    assert (ws / "textkit" / "slug.py").read_text().startswith('"""URL slugs (ASCII)."""')
    run = PlanStore(ws).load(pid).state(1).last_run
    assert run is not None and run.after[new] is None  # the record says it was not created


async def test_case_13_apply_after_cancel_is_recorded(ws: Path, inv: Invariants) -> None:
    """13. The user cancels while the preview is open, then applies it anyway (pygls never
    cancels the applyEdit request). The apply is recorded: the disk holds the edit, the step
    is `applied` with an applied run, and undo restores the exact bytes."""
    srv = inv.scripted_server([*DEMO[:5]])
    before = snapshot(ws)
    async with serve(inv, ws, srv, profile="vscode") as (client, editor, _l):
        pid = await approved(client)
        editor.hold = asyncio.Event()
        run = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(editor.edits) >= 1, 60, "the step's preview")
        assert (await command(client, "planfirst.cancel", {"planId": pid}))["cancelled"] == [pid]
        with pytest.raises(JsonRpcException, match="cancelled"):
            await run
        editor.hold.set()  # the user clicks Apply in the preview that stayed open

        def recorded() -> bool:
            st = PlanStore(ws).load(pid).state(1)
            return (
                st.status.value == "applied"
                and st.last_run is not None
                and st.last_run.outcome == "applied"
            )

        await wait_until(recorded, 30, "the late apply to be recorded")
        await wait_until(
            lambda: "top_words" in (ws / "textkit" / "wordcount.py").read_text(),
            10,
            "the disk sync",
        )
        undo = await command(client, "planfirst.undoStep", {"planId": pid})
        assert undo["status"] == "undone" and undo["step"] == 1
    assert snapshot(ws) == before
