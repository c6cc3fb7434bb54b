"""The reliability suite's shared machinery: the five invariants of docs/reliability.md case 22,
checked after every test in this directory, and a server session whose model is a scripted
Messages API running in the *test* process (so every request it received can be inspected,
and it survives the language server being SIGKILLed).

The invariants (`Invariants.check`, run by the autouse `inv` fixture at teardown):
1. nothing outside the workspace touched: a sentinel directory next to the workspace is
   byte-for-byte unchanged, and nothing new appears beside the workspace except the test's own
   scripts and logs;
2. no child process left: every process the test started (server, validation commands and
   their children) inherits a per-test marker in its environment; after the test no live
   process other than pytest itself carries it (scanned in /proc, so orphans re-parented to
   init are found too);
3. the canary secret (examples/workspace/.env) is in no request the scripted model received,
   no file under `.planfirst/`, no server log;
4. exactly one response per request: a ledger wraps the client's protocol, records the id of
   every request it sends and counts every response that comes back; each id must be answered
   exactly once (a missing answer would also hang the awaiting test, a second one would arrive
   for an id pygls no longer knows, and is counted here);
5. every plan file parses: each `.planfirst/plans/*/plan.json` loads through PlanStore and
   each `plan.md` parses back with `parse_markdown`, except files a test broke on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_lsp import LanguageClient

from planfirst.llm.scripted.server import ScriptedServer
from planfirst.plan.render import parse_markdown
from planfirst.plan.store import PlanStore, StoreError
from tests.support.demo_script import DEMO as DEMO  # re-exported: the demo session, critique off
from tests.support.lsp_harness import Editor, lsp_session

CANARY = "canary-5f0d6c1e-never-send-me"
RUN_VAR = "PLANFIRST_RELIABILITY_RUN"  # marker env var; not matching *KEY*/*SECRET*/*TOKEN*
TASK = "Add a --top N option to textkit count"
FAST_RETRIES = {"anthropic": {"maxRetries": 2, "deadline": 60}}


class Ledger:
    """Counts requests sent by a client and the responses that come back, by message id."""

    def __init__(self, client: LanguageClient) -> None:
        self.sent: dict[Any, str] = {}  # id -> method
        self.answers: Counter[Any] = Counter()
        self.errors: dict[Any, Any] = {}
        self.results: dict[Any, Any] = {}
        self._waiters: dict[Any, asyncio.Future[Any]] = {}
        self.exempt: set[Any] = set()  # requests a dead server could not answer
        self.null_expected = (
            0  # error answers to id null expected (messages whose id is unreadable)
        )
        self.dead = False  # set once the server was killed: later requests go unanswered
        proto = client.protocol
        orig_send = proto._send_data
        orig_handle = proto._handle_response

        def send_data(data: Any) -> None:
            method = getattr(data, "method", None)
            msg_id = getattr(data, "id", None)
            if method is not None and msg_id is not None:
                self.sent[msg_id] = method
                if self.dead:
                    self.exempt.add(msg_id)
            orig_send(data)

        def handle_response(msg_id: Any, result: Any = None, error: Any = None) -> None:
            self.answers[msg_id] += 1
            if error is not None:
                self.errors[msg_id] = error
            else:
                self.results[msg_id] = result
            w = self._waiters.pop(msg_id, None)
            if w is not None and not w.done():
                w.set_result((result, error))
            orig_handle(msg_id, result, error)

        proto._send_data = send_data  # type: ignore[method-assign]
        proto._handle_response = handle_response  # type: ignore[method-assign]
        self.client = client

    def raw_request(
        self, msg_id: str, method: str, params: Any, *, omit_params: bool = False
    ) -> asyncio.Future[Any]:
        """Send a hand-written JSON-RPC request (bypassing the typed client); await the answer."""
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if not omit_params:
            msg["params"] = params
        return self.raw_bytes(json.dumps(msg).encode(), msg_id, method)

    def raw_bytes(
        self,
        body: bytes,
        msg_id: Any,
        method: str,
        header: bytes | None = None,
        *,
        null_answer: bool = False,
    ) -> asyncio.Future[Any]:
        """Write one framed message as bytes; the future resolves with (result, error).
        `null_answer`: the message is malformed without a readable id, so JSON-RPC answers id null."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.null_expected += null_answer
        if msg_id is not None:
            self.sent[msg_id] = method
            self._waiters[msg_id] = fut
        else:
            fut.set_result(None)
        head = header if header is not None else f"Content-Length: {len(body)}\r\n\r\n".encode()
        stdin = self.client._server.stdin  # type: ignore[union-attr]
        stdin.write(head + body)
        return fut

    def problems(self) -> list[str]:
        """Requests answered zero or several times, and answers to requests never sent."""
        out = []
        for msg_id, method in self.sent.items():
            n = self.answers.get(msg_id, 0)
            if n != 1 and not (n == 0 and msg_id in self.exempt):
                out.append(f"request {method} (id {msg_id}) answered {n} times")
        if self.answers.get(None, 0) != self.null_expected:
            out.append(
                f"{self.answers.get(None, 0)} answer(s) to id null, {self.null_expected} expected"
            )
        for msg_id, n in self.answers.items():
            if msg_id not in self.sent and msg_id is not None:
                out.append(f"{n} answer(s) to id {msg_id!r}, which was never sent")
        return out


def _snapshot(d: Path) -> dict[str, bytes]:
    return {
        p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()
    }


def tagged_pids(run_id: str) -> list[int]:
    """Live processes (other than this one) whose environment carries the test's marker."""
    needle = f"{RUN_VAR}={run_id}".encode()
    me = os.getpid()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if needle in env.split(b"\0") and ") Z" not in stat:  # zombies hold nothing
            out.append(int(entry))
    return out


class Invariants:
    """The five invariants of case 22, for one test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.run_id = uuid.uuid4().hex
        self.sentinel = tmp_path / "sentinel"
        self.sentinel.mkdir()
        (self.sentinel / "config").write_text("untouched\n")
        (self.sentinel / "passwd").write_text("root:x:0:0\n")
        self._sentinel_before = _snapshot(self.sentinel)
        self._top_before = {p.name for p in tmp_path.iterdir()}
        self.scripted: list[ScriptedServer] = []
        self.ledgers: list[Ledger] = []
        self.logs: list[Path] = []
        self.workspaces: list[Path] = []
        self.broken: set[Path] = set()  # plan files a test corrupted on purpose
        self.beside: set[str] = set()  # names a test itself creates next to the workspace

    def scripted_server(self, turns: list[dict[str, Any]]) -> ScriptedServer:
        """A scripted Messages API in this process (stopped at teardown)."""
        srv = ScriptedServer(turns, mismatch_status=400).start()
        self.scripted.append(srv)
        return srv

    def requests_text(self) -> list[str]:
        """Every request body every scripted server received, as JSON text."""
        return [json.dumps(r.body, ensure_ascii=False) for s in self.scripted for r in s.requests]

    def check(self, wait: float = 5.0) -> list[str]:
        """Return the violations (empty when all five invariants hold)."""
        bad: list[str] = []
        # 1. nothing outside the workspace
        if _snapshot(self.sentinel) != self._sentinel_before:
            bad.append("the sentinel directory next to the workspace changed")
        for p in self.tmp.iterdir():
            if p.name in self._top_before | self.beside or p.name.startswith(
                ("script-", "server-", "ws")
            ):
                continue
            bad.append(f"{p} appeared next to the workspace")
        # 2. no child process left (give exiting processes a moment)
        deadline = time.monotonic() + wait
        left = tagged_pids(self.run_id)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = tagged_pids(self.run_id)
        for pid in left:
            with contextlib.suppress(OSError):
                cmd = (
                    Path(f"/proc/{pid}/cmdline")
                    .read_bytes()
                    .replace(b"\0", b" ")
                    .decode(errors="replace")
                )
                bad.append(f"process {pid} left running: {cmd[:120]}")
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        # 3. the canary nowhere
        for i, text in enumerate(self.requests_text()):
            if CANARY in text:
                bad.append(f"the canary secret was sent to the model (request {i + 1})")
        for log in self.logs:
            if log.exists() and CANARY in log.read_text(errors="replace"):
                bad.append(f"the canary secret is in the log {log}")
        for ws in self.workspaces:
            for f in (ws / ".planfirst").rglob("*") if (ws / ".planfirst").is_dir() else []:
                if f.is_file() and CANARY.encode() in f.read_bytes():
                    bad.append(f"the canary secret is in {f}")
        # 4. exactly one response per request
        for led in self.ledgers:
            bad.extend(led.problems())
        # 5. every plan file parses
        for ws in self.workspaces:
            plans = ws / ".planfirst" / "plans"
            if not plans.is_dir():
                continue
            store = PlanStore(ws)
            for d in sorted(plans.iterdir()):
                pj = d / "plan.json"
                if pj in self.broken or not pj.is_file():
                    continue
                try:
                    store.load(d.name)
                except StoreError as e:
                    bad.append(f"plan file does not parse: {e}")
                md = d / "plan.md"
                if md.is_file() and md not in self.broken:
                    try:
                        parse_markdown(md.read_text(encoding="utf-8"))
                    except ValueError as e:
                        bad.append(f"{md} does not parse back: {e}")
        return bad

    def close(self) -> None:
        """Stop the scripted servers."""
        for s in self.scripted:
            s.stop()


@pytest.fixture(autouse=True)
def inv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invariants]:
    """Every reliability test: the five invariants of case 22 hold at its end."""
    checker = Invariants(tmp_path)
    monkeypatch.setenv(RUN_VAR, checker.run_id)
    try:
        yield checker
        problems = checker.check()
    finally:
        checker.close()
    assert not problems, "case 22 invariants violated:\n" + "\n".join(problems)


@pytest.fixture
def ws(workspace: Path, inv: Invariants) -> Path:
    """The example workspace (with the canary in .env), watched by the invariants."""
    inv.workspaces.append(workspace)
    return workspace


@contextlib.asynccontextmanager
async def serve(
    inv: Invariants,
    root: Path,
    scripted: ScriptedServer | None = None,
    *,
    profile: str = "vscode",
    init_options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[LanguageClient, Editor, Ledger]]:
    """The real server for `root`, its model the in-test scripted server (or none at all)."""
    log = inv.tmp / f"server-{len(inv.logs)}.log"
    inv.logs.append(log)
    extra = {"PLANFIRST_LOG_FILE": str(log)}
    if scripted is not None:
        extra.update(
            {"ANTHROPIC_BASE_URL": scripted.base_url, "ANTHROPIC_API_KEY": "sk-ant-test-only-0000"}
        )
    extra.update(env or {})
    opts = json.loads(json.dumps(FAST_RETRIES))
    opts.update(init_options or {})
    async with lsp_session(root, profile, None, init_options=opts, env=extra) as (client, editor):
        _drain_stderr(client, inv.tmp / f"server-{len(inv.logs) - 1}.stderr.log")
        inv.logs.append(inv.tmp / f"server-{len(inv.logs) - 1}.stderr.log")
        ledger = Ledger(client)
        inv.ledgers.append(ledger)
        yield client, editor, ledger


def _drain_stderr(client: LanguageClient, path: Path) -> None:
    """Replace pytest-lsp's line-based stderr forwarder, which dies on a line over 64 KiB and
    then lets the pipe fill until the server blocks; keep the server's stderr in a file."""
    old = getattr(client, "_stderr_forwarder", None)
    if old is not None:
        old.cancel()
    proc = client._server  # type: ignore[attr-defined]

    async def drain() -> None:
        with open(path, "ab") as f:
            while chunk := await proc.stderr.read(65536):
                f.write(chunk)

    task = asyncio.ensure_future(drain())
    client._stderr_forwarder = task  # type: ignore[attr-defined]


async def kill_server(client: LanguageClient, ledger: Ledger) -> None:
    """SIGKILL the server; requests in flight are exempt from the one-answer rule."""
    client._server.kill()  # type: ignore[union-attr]
    await client._server.wait()  # type: ignore[union-attr]
    ledger.dead = True
    for msg_id in ledger.sent:
        if ledger.answers.get(msg_id, 0) == 0:
            ledger.exempt.add(msg_id)


def plan_files(ws: Path) -> list[Path]:
    """Every file under the workspace's .planfirst directory."""
    d = ws / ".planfirst"
    return sorted(p for p in d.rglob("*") if p.is_file()) if d.is_dir() else []
