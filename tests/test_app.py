"""The composition root (lsp/app.py): `initialize` is answered with only pygls and lsprotocol
loaded, and what it advertises is exactly what lsp/features.py registers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from planfirst.lsp.app import COMMANDS, FEATURES, load_features

# a real server on pipes in a fresh interpreter: one `initialize` request, then the module set
_INITIALIZE_ONLY = textwrap.dedent(
    """
    import json, os, sys, threading
    from planfirst.lsp.app import create_server

    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    server = create_server()
    threading.Thread(
        target=server.start_io, args=(os.fdopen(r_in, "rb"), os.fdopen(w_out, "wb")), daemon=True
    ).start()
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": None, "rootUri": "file:///tmp", "capabilities": {}}}).encode()
    os.write(w_in, b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
    out = os.fdopen(r_out, "rb")
    head = b""
    while not head.endswith(b"\\r\\n\\r\\n"):
        head += out.read(1)
    length = int(head.split(b"Content-Length:")[1].split(b"\\r\\n")[0])
    answer = json.loads(out.read(length))
    print(json.dumps({"answer": answer, "modules": sorted(sys.modules)}))
    sys.stdout.flush()
    os._exit(0)
    """
)


def _initialize_in_fresh_process() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PLANFIRST_SCRIPT"}
    out = subprocess.run(
        [sys.executable, "-c", _INITIALIZE_ONLY],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_initialize_is_answered_without_features_pydantic_or_the_sdk() -> None:
    got = _initialize_in_fresh_process()
    caps = got["answer"]["result"]["capabilities"]
    assert sorted(caps["executeCommandProvider"]["commands"]) == sorted(COMMANDS)
    assert caps["codeActionProvider"]["codeActionKinds"] == ["refactor", "quickfix"]
    assert caps["experimental"]["planfirst"]["version"]
    loaded = set(got["modules"])
    assert "planfirst.lsp.server" in loaded and "pygls.lsp.server" in loaded
    for heavy in ("planfirst.lsp.features", "planfirst.settings", "pydantic", "anthropic"):
        assert heavy not in loaded, f"initialize imported {heavy}"
    assert not [m for m in loaded if m.startswith(("planfirst.core", "planfirst.plan"))]


def test_the_advertised_lists_match_what_features_register() -> None:
    registry = load_features()
    assert set(registry.commands) == set(COMMANDS), (
        "lsp/app.py COMMANDS must list every command lsp/features.py registers"
    )
    assert set(registry.features) == set(FEATURES), (
        "lsp/app.py FEATURES must list every LSP method lsp/features.py handles"
    )
    for method, options in registry.options.items():
        assert FEATURES[method] == options, f"{method}: lsp/app.py advertises other options"
