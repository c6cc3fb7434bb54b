"""A do-nothing language server that records what a client sends in `initialize`.

Used by capture.sh to refresh the capability profiles in this folder from the real editors:
it writes the initialize params (clientInfo and capabilities, minus paths) to $CAPTURE_OUT,
answers with empty capabilities, and exits on `exit`. Standard library only.
"""

from __future__ import annotations

import json
import os
import sys


def read_message(stream: object) -> dict | None:
    headers = {}
    while True:
        line = stream.readline()  # type: ignore[attr-defined]
        if not line:
            return None
        line = line.decode("ascii").strip()
        if not line:
            break
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = stream.read(int(headers["content-length"]))  # type: ignore[attr-defined]
    return json.loads(body)


def send(msg: dict) -> None:
    data = json.dumps(msg).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
    sys.stdout.buffer.flush()


def main() -> int:
    out = os.environ["CAPTURE_OUT"]
    while True:
        msg = read_message(sys.stdin.buffer)
        if msg is None:
            return 0
        method = msg.get("method")
        if method == "initialize":
            p = msg.get("params") or {}
            keep = {k: p[k] for k in ("clientInfo", "capabilities") if k in p}
            with open(out, "w", encoding="utf-8") as f:
                json.dump(keep, f, indent=1, sort_keys=True)
                f.write("\n")
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {"capabilities": {}}})
        elif method == "shutdown":
            send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
        elif method == "exit":
            return 0
        elif "id" in msg and method:
            send({"jsonrpc": "2.0", "id": msg["id"], "result": None})


if __name__ == "__main__":
    raise SystemExit(main())
