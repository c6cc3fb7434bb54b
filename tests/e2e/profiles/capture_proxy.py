"""A stdio proxy in front of a language server that records the client's `initialize` params.

For editors whose language client is started by an extension (VS Code): set the extension's
server command to `python capture_proxy.py OUT.json -- <the real server command>`; the editor
then works as usual and OUT.json gets its clientInfo and capabilities. Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import IO


def _frames(stream: IO[bytes]):  # type: ignore[no-untyped-def]
    while True:
        headers = b""
        while not headers.endswith(b"\r\n\r\n"):
            ch = stream.read(1)
            if not ch:
                return
            headers += ch
        length = 0
        for line in headers.decode("ascii").split("\r\n"):
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        yield headers, stream.read(length)


def main() -> int:
    out, cmd = sys.argv[1], sys.argv[sys.argv.index("--") + 1 :]
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None

    def pump_out() -> None:
        assert child.stdout is not None
        for headers, body in _frames(child.stdout):
            sys.stdout.buffer.write(headers + body)
            sys.stdout.buffer.flush()
        # the server is gone (or it was the extension's `--version` probe): end with it, even
        # while the editor keeps our stdin open
        os._exit(child.wait())

    threading.Thread(target=pump_out, daemon=True).start()
    seen = False
    for headers, body in _frames(sys.stdin.buffer):
        if not seen:
            msg = json.loads(body)
            if msg.get("method") == "initialize":
                seen = True
                p = msg.get("params") or {}
                with open(out, "w", encoding="utf-8") as f:
                    json.dump(
                        {k: p[k] for k in ("clientInfo", "capabilities") if k in p},
                        f,
                        indent=1,
                        sort_keys=True,
                    )
                    f.write("\n")
        child.stdin.write(headers + body)
        child.stdin.flush()
    child.stdin.close()
    return child.wait()


if __name__ == "__main__":
    raise SystemExit(main())
