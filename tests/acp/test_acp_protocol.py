"""Bad input on the ACP stream gets a JSON-RPC error and the agent keeps serving (the ACP
side of docs/reliability.md case 20)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from tests.acp.harness import agent_env
from tests.reliability.conftest import Invariants


async def _answers(proc: Any, n: int) -> list[dict[str, Any]]:
    out = []
    while len(out) < n:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line, f"the agent closed stdout after {out}"
        out.append(json.loads(line))
    return out


async def test_malformed_lines_are_answered_and_the_agent_keeps_serving(
    ws: Path, inv: Invariants
) -> None:
    log = inv.tmp / "server-acp-raw.log"
    inv.logs.append(log)
    with open(log, "wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-m",
            "planfirst",
            "acp",
            cwd=ws,
            env=agent_env({}),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
        try:
            lines = [
                b"not json\n",
                b'["a", "list"]\n',
                b'"a string"\n',
                b'{"jsonrpc": "2.0", "id": 1, "method": 7}\n',
                b'{"jsonrpc": "2.0", "id": 2, "method": "session/new", "params": "x"}\n',
                b'{"jsonrpc": "2.0", "id": 3, "method": "session/prompt", "params": {"sessionId": "nope", "prompt": []}}\n',
                b'{"jsonrpc": "2.0", "id": 4, "method": "session/new", "params": {"cwd": "relative", "mcpServers": []}}\n',
                b'{"jsonrpc": "2.0", "id": 5, "method": "no/such/method", "params": {}}\n',
                b'{"jsonrpc": "2.0", "id": 6, "method": "session/load", "params": {"cwd": "'
                + str(ws).encode()
                + b'", "sessionId": "../../etc/passwd", "mcpServers": []}}\n',
            ]
            assert proc.stdin is not None
            proc.stdin.write(b"".join(lines))
            await proc.stdin.drain()
            got = await _answers(proc, 9)
            by_id: dict[Any, list[int]] = {}
            for m in got:
                assert "error" in m, m
                by_id.setdefault(m["id"], []).append(m["error"]["code"])
            assert sorted(by_id[None]) == [-32700, -32600, -32600]
            assert by_id[1] == [-32600] and by_id[2] == [-32600] and by_id[3] == [-32602]
            assert by_id[4] == [-32602] and by_id[5] == [-32601] and by_id[6] == [-32602]
            # a line over the cap (16 MiB) is discarded as it streams and answered with id null
            huge = b'{"jsonrpc": "2.0", "id": 8, "method": "x", "params": {"a": "' + b"x" * (
                17 << 20
            )
            proc.stdin.write(huge + b'"}}\n')
            await proc.stdin.drain()
            (big,) = await _answers(proc, 1)
            assert big["id"] is None and big["error"]["code"] == -32600
            # still serving: a good request after all that is answered
            proc.stdin.write(
                b'{"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {"protocolVersion": 1}}\n'
            )
            await proc.stdin.drain()
            (ok,) = await _answers(proc, 1)
            assert ok["id"] == 9 and ok["result"]["agentInfo"]["name"] == "planfirst"
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            await asyncio.wait_for(proc.wait(), 20)
    assert proc.returncode == 0
