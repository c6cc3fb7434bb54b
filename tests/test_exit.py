"""The server process ends on `exit`, even while the client keeps its end of stdin open.

pygls reads stdin in a worker thread and, on `exit`, joins its thread pool: the read blocked on
stdin kept the process alive until the client closed the pipe, and a client that waits for the
process to end before closing it (as some do) waited forever (seen as e2e tests timing out
after `exit`). The shutdown request also cancelled the other requests while iterating over the
dictionary the cancellations change ("dictionary changed size during iteration").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest

from tests.support.lsp_harness import server_env

pytestmark = pytest.mark.e2e  # each test starts the server as a subprocess and ends it


def _send(pipe: IO[bytes], message: dict[str, Any]) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    pipe.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    pipe.flush()


def _read(pipe: IO[bytes]) -> dict[str, Any]:
    length = 0
    while (line := pipe.readline().strip()) != b"":
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(pipe.read(length))


def _answer(pipe: IO[bytes], msg_id: int) -> dict[str, Any]:
    while True:
        msg = _read(pipe)
        if msg.get("id") == msg_id and "method" not in msg:
            return msg


def _initialize(proc: subprocess.Popen[bytes], root: Path) -> None:
    """`initialize` (no capabilities), its answer, then `initialized`."""
    assert proc.stdin is not None and proc.stdout is not None
    params = {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}
    _send(proc.stdin, {"id": 1, "method": "initialize", "params": params})
    assert "capabilities" in _answer(proc.stdout, 1)["result"]
    _send(proc.stdin, {"method": "initialized", "params": {}})


def test_exit_ends_the_process_while_stdin_stays_open(tmp_path: Path) -> None:
    _shutdown_and_exit(tmp_path, pending=False)


def test_shutdown_with_a_request_still_running_then_exit(tmp_path: Path) -> None:
    _shutdown_and_exit(tmp_path, pending=True)


def _shutdown_and_exit(tmp_path: Path, *, pending: bool) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    proc = subprocess.Popen(
        [sys.executable, "-I", "-m", "planfirst", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=server_env(None),
        cwd=tmp_path,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        _initialize(proc, tmp_path)
        if pending:
            # a plan for a selection without a task: the server asks which task and waits for us
            uri = (tmp_path / "a.py").as_uri()
            span = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 5}}
            args = [{"task": "", "uri": uri, "range": span}]
            _send(
                proc.stdin,
                {
                    "id": 9,
                    "method": "workspace/executeCommand",
                    "params": {"command": "planfirst.generatePlan", "arguments": args},
                },
            )
            while _read(proc.stdout).get("method") != "window/showMessageRequest":
                pass
        _send(proc.stdin, {"id": 2, "method": "shutdown"})
        shutdown = _answer(proc.stdout, 2)
        assert "error" not in shutdown, shutdown
        _send(proc.stdin, {"method": "exit"})
        # stdin stays open: the process must end by itself, with 0 (shutdown came first)
        assert proc.wait(timeout=60) == 0  # bounds a hang; raises TimeoutExpired
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def test_exit_skips_the_interpreter_teardown_and_keeps_the_log(tmp_path: Path) -> None:
    """After `exit` the process ends at once: tearing down every loaded module (pydantic,
    lsprotocol, the SDK) took 0.3-2 s here, and VS Code kills a server that has not ended 2 s
    after `exit` (logged as "Server process exited with signal SIGKILL" on restarts under load).
    An atexit hook stands for that teardown: it must not run; what the server logged must still
    reach stderr."""
    mark = tmp_path / "torn-down"
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(mark)!r}, 'w').close())\n"
        "from planfirst.cli import main\n"
        "sys.exit(main(['serve']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(None, {"PLANFIRST_LOG_LEVEL": "INFO"}),
        cwd=tmp_path,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        _initialize(proc, tmp_path)
        _send(proc.stdin, {"id": 2, "method": "shutdown"})
        assert "error" not in _answer(proc.stdout, 2)
        _send(proc.stdin, {"method": "exit"})
        assert proc.wait(timeout=60) == 0
        log = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
    assert not mark.exists(), "the interpreter tore itself down after exit"
    assert "the server loop ended" in log
