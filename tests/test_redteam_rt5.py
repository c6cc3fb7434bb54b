"""Red team (rt5): a hostile or buggy LSP client against the real server over stdio, and
terminal output of `planfirst run` on a real terminal (a pty)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pytest_lsp import LanguageClient

from planfirst.llm.scripted.server import ScriptedServer
from tests.reliability.conftest import Ledger
from tests.reliability.red_team import edit_turn
from tests.reliability.test_untrusted_model import one_step_plan
from tests.support.lsp_harness import Editor, command, lsp_session

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")


def _plan_turn(validation: list[str]) -> dict[str, Any]:
    return {"tool": "submit_plan", "input": one_step_plan(validation)}


@contextlib.asynccontextmanager
async def _serve(
    ws: Path, turns: list[dict[str, Any]]
) -> AsyncIterator[tuple[LanguageClient, Editor, Ledger]]:
    srv = ScriptedServer(turns).start()
    env = {"ANTHROPIC_BASE_URL": srv.base_url, "ANTHROPIC_API_KEY": "sk-ant-test-only-0000"}
    try:
        async with lsp_session(ws, "vscode", env=env) as (client, editor):
            yield client, editor, Ledger(client)
    finally:
        srv.stop()


async def _answer(fut: asyncio.Future[Any], what: str) -> tuple[Any, Any]:
    try:
        return await asyncio.wait_for(fut, 20)
    except TimeoutError:
        raise AssertionError(f"no answer within 20 s to {what}") from None


def _notify(ledger: Ledger, method: str, params: Any) -> None:
    body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode()
    ledger.raw_bytes(body, None, method)


async def _exit(client: LanguageClient) -> None:
    """`exit` and wait for the process: a server that answered nothing after `shutdown` must
    not leave the test's teardown waiting on it."""
    proc = client._server  # type: ignore[attr-defined]
    body = b'{"jsonrpc": "2.0", "method": "exit"}'
    with contextlib.suppress(Exception):
        proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()


# ------------------------------------------------------- 1. requests after `shutdown`


async def test_a_request_after_shutdown_is_answered_with_an_error(workspace: Path) -> None:
    """JSON-RPC: every request gets one answer, and LSP says a request after `shutdown` errors
    with InvalidRequest. pygls 2.1.1 drops every message after `shutdown` silently: a client
    that sends `shutdown` twice (or a request racing it) waited forever."""
    async with _serve(workspace, []) as (client, _editor, ledger):
        try:
            _r, err = await _answer(
                ledger.raw_request("sd-1", "shutdown", None, omit_params=True), "shutdown"
            )
            assert err is None
            _r, err = await _answer(
                ledger.raw_request(
                    "after",
                    "workspace/executeCommand",
                    {"command": "planfirst.listPlans", "arguments": []},
                ),
                "listPlans after shutdown",
            )
            assert err is not None and err.code == -32600, err
            _r, err = await _answer(
                ledger.raw_request("sd-2", "shutdown", None, omit_params=True), "a second shutdown"
            )
            assert err is not None and err.code == -32600, err
        finally:
            await _exit(client)


# ------------------------------------------- 2. notifications the client got wrong


async def test_a_malformed_notification_is_logged_not_shown_as_a_server_error(
    workspace: Path,
) -> None:
    """A didChange for a document never opened, a `$/cancelRequest` with no params or an
    object id, a didChange with negative positions: pygls showed each to the user as an
    error popup ("Error in server: KeyError: 'file:///…'", "unhashable type: 'dict'",
    "Invalid Params"). Nothing is the user's to act on; the server keeps answering."""
    async with _serve(workspace, []) as (client, _editor, ledger):
        nowhere = (workspace / "nowhere.py").as_uri()
        _notify(
            ledger,
            "textDocument/didChange",
            {"textDocument": {"uri": nowhere, "version": 3}, "contentChanges": [{"text": "x"}]},
        )
        _notify(ledger, "$/cancelRequest", None)
        _notify(ledger, "$/cancelRequest", {"id": {"a": 1}})
        readme = (workspace / "README.md").as_uri()
        _notify(
            ledger,
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": readme,
                    "languageId": "markdown",
                    "version": 1,
                    "text": "a\n",
                }
            },
        )
        bad = {"start": {"line": -5, "character": -1}, "end": {"line": 0, "character": 0}}
        _notify(
            ledger,
            "textDocument/didChange",
            {
                "textDocument": {"uri": readme, "version": 2},
                "contentChanges": [{"range": bad, "text": "z"}],
            },
        )
        assert await command(client, "planfirst.listPlans") == []  # still answering, in order
        shown = [m.message for m in client.messages]
        assert not [m for m in shown if "Error in server" in m], shown


# --------------------------------------------- 3. the size of an error message


async def test_an_invalid_argument_error_does_not_echo_megabytes(workspace: Path) -> None:
    """An unknown key of 3 MB, or 50,000 unknown keys: the InvalidParams message listed each
    one whole (a 3 MB error message an editor shows in a notification)."""
    async with _serve(workspace, []) as (_client, _editor, ledger):
        for i, arg in enumerate(({"k" * 3_000_000: 1}, {f"k{n}": 1 for n in range(50_000)})):
            _r, err = await _answer(
                ledger.raw_request(
                    f"big-{i}",
                    "workspace/executeCommand",
                    {"command": "planfirst.showPlan", "arguments": [arg]},
                ),
                "showPlan with huge unknown keys",
            )
            assert err is not None and err.code == -32602
            assert len(err.message) < 2_000, len(err.message)
            assert "Extra inputs are not permitted" in err.message


# ------------------------------------------- 4. a file argument that is not a path


async def test_a_files_entry_that_is_not_a_file_uri_is_refused(workspace: Path) -> None:
    """`files: ["file:"]` (or another URI that names no local file) was planned about as a
    workspace file named "None"."""
    async with _serve(workspace, []) as (_client, _editor, ledger):
        for i, f in enumerate(("file:", "file://evil-host/etc/passwd")):
            _r, err = await _answer(
                ledger.raw_request(
                    f"f-{i}",
                    "workspace/executeCommand",
                    {
                        "command": "planfirst.generatePlan",
                        "arguments": [{"task": "t", "files": [f]}],
                    },
                ),
                f"generatePlan with files [{f!r}]",
            )
            assert err is not None and err.code == -32602, err
            assert "not a file URI" in err.message, err.message


# ------------------------------------------- 5. a lone surrogate from the client


async def test_a_buffer_with_a_lone_surrogate_does_not_fail_the_step_as_a_network_error(
    workspace: Path,
) -> None:
    """JSON may carry a lone UTF-16 surrogate (`"\\ud800"`); an editor buffer holding one made
    every model request of the step unencodable, retried three times and reported as "Anthropic
    API response stream garbled … try again later" (reason `connection`): retrying never helps.
    Text from the client is well-formed Unicode: a lone surrogate is U+FFFD (one code unit, so
    positions in the document stay where they were), and the step runs."""
    readme = workspace / "README.md"
    text = readme.read_text(encoding="utf-8")
    turns = [
        _plan_turn(["pytest -q tests/test_slug.py"]),
        edit_turn("README.md", "# textkit", "# textkit\n\nmore"),
        {"text": "done"},
    ]
    async with _serve(workspace, turns) as (client, editor, ledger):
        pid = (await command(client, "planfirst.generatePlan", {"task": "Document --top"}))[
            "planId"
        ]
        await command(client, "planfirst.approvePlan", {"planId": pid})
        # the editor holds README.md with a lone surrogate at its end
        editor.buffers[readme] = text + "\ud800 tail\n"
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {
                        "uri": readme.as_uri(),
                        "languageId": "markdown",
                        "version": 1,
                        "text": editor.buffers[readme],
                    }
                },
            }
        ).encode()
        assert b"\\ud800" in body
        ledger.raw_bytes(body, None, "textDocument/didOpen")
        res, err = await _answer(
            ledger.raw_request(
                "ex",
                "workspace/executeCommand",
                {"command": "planfirst.executeNextStep", "arguments": [{"planId": pid}]},
            ),
            "executeNextStep",
        )
        assert err is None, (err.message, err.data)
        assert res.status == "done", res
        assert editor.buffers[readme].startswith("# textkit\n\nmore")


# ------------------------------------------- 6. planfirst run on a real terminal


def _run_in_pty(ws: Path, script: Path) -> bytes:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-I", "-m", "planfirst", "run", "Document --top", "--yes"),
            *("--script", str(script), "--workspace", str(ws)),
        ],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ws,
    )
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        proc.wait(timeout=60)
        os.close(master)
    return out


def test_command_output_cannot_use_planfirst_colours_on_a_terminal(workspace: Path) -> None:
    """On a terminal `planfirst run` keeps its own colour sequences and escapes everything else
    (case 43), but it kept every occurrence of those exact sequences, wherever they came from:
    a validation command's output (or a model-written message) that printed `ESC[32m` and
    `ESC[2m` reached the terminal raw, and could forge planfirst's own green "step 1: done"
    line or dim what follows."""
    forged = "\x1b[32m\x1b[1mstep 9: done\x1b[0m"  # step 9 of a one-step plan: only forged
    (workspace / "tests" / "test_forge.py").write_text(
        f"def test_forge():\n    print({forged!r} + ' \\x1b[2mdimmed')\n",
        encoding="utf-8",
    )
    turns = [
        _plan_turn(["pytest -q -s tests/test_forge.py"]),
        edit_turn("README.md", "# textkit", "# textkit\n\nmore"),
        {"text": "done"},
    ]
    script = workspace.parent / "script-rt5.json"
    script.write_text(json.dumps({"turns": turns}), encoding="utf-8")
    out = _run_in_pty(workspace, script)
    assert b"\x1b[1m" in out, out[-2000:]  # planfirst's own colours are on: a terminal
    assert b"forge" in out and b"dimmed" in out, out[-2000:]  # the output was printed
    assert forged.encode() not in out and b"\x1b[2mdimmed" not in out, out[-3000:]
    assert b"\\u{1B}[32m\\u{1B}[1mstep 9: done" in out
