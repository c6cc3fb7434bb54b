"""The server keeps serving: malformed requests (cases 10 and 20), no head-of-line blocking
(case 14), framing limits (case 20). Fuzz messages are written as raw JSON-RPC bytes, because
the typed client cannot send ill-typed params."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from planfirst.lsp import app
from tests.reliability.conftest import DEMO, TASK, Invariants, Ledger, kill_server, serve
from tests.support.lsp_harness import command
from tests.support.waiting import wait_until

# every advertised command but the preview decisions (which take a waiting preview, not a plan)
COMMANDS = [c for c in app.COMMANDS if not c.endswith("Preview")]
HUGE = "x" * 2_000_000

# arguments that are wrong for every command
BAD_FOR_ALL: list[Any] = [
    "not a list",
    {"planId": "x"},
    [1],
    ["a string"],
    [[1, 2]],
    [{}, {}],
    [{"noSuchKey": 1}],
    [{"planId": 5}],
    [{"planId": "no-such-plan-000000"}],
    [{"planId": "../../etc/passwd"}],
    [{"planId": HUGE}],
]
# arguments wrong for a given command only
BAD_FOR: dict[str, list[Any]] = {
    "planfirst.generatePlan": [
        [{"task": 5}],
        [{"task": HUGE}],
        [{"task": "t", "files": "a.py"}],
        [{"task": "t", "files": ["../../etc/passwd"]}],
        [{"task": "t", "files": ["/etc/passwd"]}],
        [{"task": "t", "uri": "file:///etc/passwd"}],
        [{"task": "t", "uri": "file:///x.py", "range": {"start": {"line": -1, "character": 0}}}],
        [{"task": "t", "files": ["a\u0000b"]}],
        [{}],
    ],
    "planfirst.revisePlan": [
        [{}],
        [{"planId": "no-such-plan-000000", "feedback": "x"}],
        [{"planId": None, "feedback": 3}],
        [{"planId": "x", "feedback": "x", "steps": "2"}],
        [{"planId": "x", "feedback": "x", "steps": [0]}],
        [{"planId": "x", "feedback": "x", "steps": [[1]]}],
        [{"planId": "x", "feedback": "x", "steps": ["s" * 1000]}],
    ],
    "planfirst.diffPlan": [
        [{}],  # revision 1: nothing to compare with
        [{"from": 0}],
        [{"to": "2"}],
        [{"from": 7}],
        [{"from": 1.5}],
    ],
    "planfirst.approvePlan": [[{"force": "yes"}]],
    "planfirst.retryStep": [
        [{"step": 0}],
        [{"step": -3}],
        [{"step": "1"}],
        [{"step": 10**12}],
        [{"step": 1.5}],
    ],
    "planfirst.undoStep": [[{"step": 0}], [{"step": [1]}], [{"step": 99}]],
}

DOC = {"uri": "planfirst:/plans/nope.md"}
BAD_REQUESTS: list[tuple[str, Any]] = [
    ("textDocument/codeLens", {}),
    ("textDocument/codeLens", {"textDocument": 5}),
    ("textDocument/codeLens", {"textDocument": {"uri": 5}}),
    ("textDocument/codeLens", None),
    ("textDocument/documentSymbol", {"textDocument": {}}),
    ("textDocument/documentSymbol", [1, 2]),
    ("textDocument/hover", {"textDocument": DOC, "position": {"line": -1, "character": 0}}),
    ("textDocument/hover", {"textDocument": DOC, "position": {"line": "a", "character": 0}}),
    ("textDocument/hover", {"textDocument": DOC}),
    (
        "textDocument/codeAction",
        {"textDocument": DOC, "range": "everything", "context": {"diagnostics": []}},
    ),
    ("textDocument/codeAction", {"textDocument": DOC, "context": {"diagnostics": []}}),
    ("workspace/textDocumentContent", {"uri": 5}),
    ("workspace/textDocumentContent", {}),
    ("workspace/textDocumentContent", {"uri": "planfirst:/plans/../../../etc/passwd.md"}),
    ("workspace/textDocumentContent", {"uri": "planfirst:/plans/" + "a" * 100_000 + ".md"}),
    ("workspace/textDocumentContent", {"uri": "file:///etc/passwd"}),
    ("workspace/textDocumentContent", {"uri": "planfirst:/plans/nope/revision-1-2.diff"}),
    ("workspace/textDocumentContent", {"uri": "planfirst:/plans/nope/revision-1-9999999.diff"}),
    ("workspace/textDocumentContent", {"uri": "planfirst:/plans/../x/revision-1-2.diff"}),
    ("workspace/executeCommand", {}),
    ("workspace/executeCommand", {"command": 5}),
    ("workspace/executeCommand", {"command": "planfirst.noSuchCommand", "arguments": []}),
    ("workspace/executeCommand", {"command": "rm -rf /", "arguments": [{}]}),
    ("planfirst/noSuchRequest", {}),
]


async def _answer(fut: asyncio.Future[Any], what: str) -> tuple[Any, Any]:
    try:
        return await asyncio.wait_for(fut, 10)
    except TimeoutError:
        raise AssertionError(f"no answer within 10 s to {what}") from None


async def _lenses(client: Any, uri: str) -> list[str]:
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    return [lens.command.title for lens in lenses if lens.command]


async def test_case_10_20_fuzz_every_command_and_request(ws: Path, inv: Invariants) -> None:
    """Cases 10 and 20: each malformed request gets exactly one JSON-RPC error with a human
        message and no traceback; the server keeps serving (the plan's code lenses answered the same
    before and after; how fast is bench_responsiveness.py's business)."""
    srv = inv.scripted_server(DEMO[:2])
    async with serve(inv, ws, srv) as (client, _editor, ledger):
        res = await command(client, "planfirst.generatePlan", {"task": TASK})
        plan_uri = res["uri"]
        before = await _lenses(client, plan_uri)
        assert before
        cases: list[tuple[str, Any]] = []
        for cmd in COMMANDS:
            for args in [*BAD_FOR_ALL, *BAD_FOR.get(cmd, [])]:
                if cmd in ("planfirst.listPlans",) and args == [{"planId": "x"}]:
                    continue
                cases.append(("workspace/executeCommand", {"command": cmd, "arguments": args}))
        cases.extend(BAD_REQUESTS)
        futs = []
        for i, (method, params) in enumerate(cases):
            futs.append(ledger.raw_request(f"fuzz-{i}", method, params, omit_params=params is None))
        for i, ((method, params), fut) in enumerate(zip(cases, futs, strict=True)):
            what = f"fuzz-{i} {method} {json.dumps(params)[:200]}"
            result, error = await _answer(fut, what)
            if (method, params) == (
                "workspace/executeCommand",
                {"command": "planfirst.listPlans", "arguments": [{}]},
            ):
                continue
            if method.startswith("textDocument/") and error is None:
                # lsprotocol's converter coerces some scalars (uri 5 -> "5"): an empty answer
                # for a document planfirst does not know is as good as an error here
                assert result in (None, []), f"{what}: unexpected answer {result!r}"
                continue
            assert error is not None, f"{what}: expected an error, got {result!r}"
            msg = error.message
            assert msg and len(msg) < 2_000, f"{what}: unhelpful message {msg!r}"
            data = json.dumps(getattr(error, "data", None) or "")
            assert "Traceback" not in msg + data and 'File "' not in msg + data, what
        assert await _lenses(client, plan_uri) == before
        # the plan is untouched by all of it
        rows = await command(client, "planfirst.listPlans")
        assert [r["id"] for r in rows] == [res["planId"]] and rows[0]["status"] == "draft"


async def test_case_10_14_second_execute_while_running_and_unknown_ids(
    ws: Path, inv: Invariants
) -> None:
    """Case 10 (and 14): a second executeNextStep while one runs is refused with 'busy'; hover,
    code lens and symbols answer while the step waits on a slow model; unknown plan ids and
    unknown commands are errors naming the fix."""
    slow = dict(DEMO[2])
    slow["delay"] = 8
    srv = inv.scripted_server([*DEMO[:2], slow, *DEMO[3:7]])
    async with serve(inv, ws, srv) as (client, _editor, _ledger):
        res = await command(client, "planfirst.generatePlan", {"task": TASK})
        pid = res["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        first = asyncio.ensure_future(command(client, "planfirst.executeNextStep", {"planId": pid}))
        await wait_until(lambda: len(srv.requests) >= 3, 30, "the step's model call")
        with pytest.raises(JsonRpcException, match="busy"):
            await command(client, "planfirst.executeNextStep", {"planId": pid})
        doc = types.TextDocumentIdentifier(uri=res["uri"])
        assert await client.text_document_code_lens_async(types.CodeLensParams(text_document=doc))
        assert await client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=doc)
        )
        await client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=types.Position(line=3, character=0))
        )
        # all answered while the step still waits on the model: no head-of-line blocking
        assert not first.done()
        with pytest.raises(JsonRpcException, match="unknown plan"):
            await command(client, "planfirst.executeNextStep", {"planId": "no-such-plan-abc123"})
        with pytest.raises(JsonRpcException):
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="planfirst.nope", arguments=[])
            )
        assert (await first)["status"] == "done"


async def _probe_alive(ledger: Ledger, tag: str) -> tuple[Any, Any]:
    fut = ledger.raw_request(
        tag, "workspace/executeCommand", {"command": "planfirst.listPlans", "arguments": [{}]}
    )
    return await _answer(fut, f"{tag} listPlans")


async def test_case_20_framing_malformed_json_and_huge_content_length(
    ws: Path, inv: Invariants
) -> None:
    """Case 20: malformed JSON, a wrong jsonrpc version, a frame above the 64 MiB cap (dropped,
    the next request still answered) and an absurd Content-Length (no allocation, no crash)."""
    srv = inv.scripted_server([])
    async with serve(inv, ws, srv) as (client, _editor, ledger):
        proc = client._server  # type: ignore[union-attr]
        assert (await _probe_alive(ledger, "alive-0"))[1] is None
        ledger.raw_bytes(
            b"{not json}", None, "", null_answer=True
        )  # Parse error, id null (case 33)
        old = ledger.raw_bytes(
            b'{"jsonrpc": "1.0", "id": "old", "method": "shutdown"}', "old", "shutdown"
        )
        assert (await _answer(old, "a jsonrpc 1.0 request"))[1].code == -32600  # Invalid Request
        ledger.raw_bytes(b"", None, "", header=b"Content-Length: -5\r\nContent-Length: abc\r\n")
        assert (await _probe_alive(ledger, "alive-1"))[1] is None
        # a real 70 MB frame: above the cap, skipped, the stream stays in sync
        big = b'{"jsonrpc": "2.0", "method": "$/x", "params": "' + b"y" * (70 * 1024 * 1024) + b'"}'
        ledger.raw_bytes(big, None, "")
        del big
        await proc.stdin.drain()
        assert (await _probe_alive(ledger, "alive-2"))[1] is None
        # a Content-Length of 99 GB: pygls alone would allocate it and die with MemoryError
        ledger.raw_bytes(b"", None, "", header=b"Content-Length: 99999999999\r\n\r\n")
        await proc.stdin.drain()
        await wait_until(
            lambda: "dropping an incoming message of 99999999999" in _logs(inv),
            30,
            "the server to drop the huge message",
        )
        assert proc.returncode is None, "the server died on a huge Content-Length"
        rss_kb = int(
            next(
                line.split()[1]
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                if line.startswith("VmRSS")
            )
        )
        assert rss_kb < 1_000_000, f"the server holds {rss_kb} kB after a huge Content-Length"
        # the rest of the stream now belongs to that frame: end the session here
        await kill_server(client, ledger)
    assert "dropping an incoming message of 73400" in _logs(inv)


def _logs(inv: Invariants) -> str:
    return "".join(p.read_text(errors="replace") for p in inv.logs if p.exists())
