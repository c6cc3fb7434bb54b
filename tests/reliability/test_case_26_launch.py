"""docs/reliability.md case 26: the workspace cannot shadow planfirst's own code. The workspace
ships `planfirst/`, `pygls/` and `anthropic/` packages whose import writes a marker file; no
launch path (the terminal client, the extension's fallback command, the editor snippets in
docs/editors.md, the editor test scripts, the test harness) ever imports them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.reliability.conftest import Invariants, serve
from tests.support.lsp_harness import command

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "scripts" / "demo.json"
SHADOWS = ("planfirst", "pygls", "anthropic", "lsprotocol")


def _plant(ws: Path) -> list[Path]:
    """Shadow packages whose import leaves a marker in the working directory and exits."""
    markers = []
    for name in SHADOWS:
        pkg = ws / name
        pkg.mkdir()
        marker = ws / f"SHADOWED-{name}"
        code = (
            f"import pathlib, sys\npathlib.Path({str(marker)!r}).write_text('ran')\nsys.exit(99)\n"
        )
        (pkg / "__init__.py").write_text(code)
        (pkg / "__main__.py").write_text(code)
        markers.append(marker)
    return markers


def _handshake(argv: list[str], cwd: Path) -> dict[str, object]:
    """Start `argv` in `cwd`, send `initialize`, close stdin; return the initialize result."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": cwd.as_uri(), "capabilities": {}},
        }
    ).encode()
    frame = f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.run(argv, cwd=cwd, input=frame, capture_output=True, timeout=60, env=env)
    out = proc.stdout.decode(errors="replace")
    m = re.search(r"\{.*\"id\": ?1.*\}", out, re.S)
    assert m, (
        f"{argv}: no initialize answer (exit {proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}"
    )
    return json.loads(m.group(0))["result"]  # type: ignore[no-any-return]


def _python_argv(words: list[str]) -> list[str]:
    """A documented command line with its interpreter replaced by this test's interpreter."""
    assert "python" in Path(words[0]).name or words[0].startswith("$PY"), words
    return [sys.executable, *words[1:]]


def _documented_commands() -> dict[str, list[str]]:
    """Every server command line the repository documents or ships, by where it is."""
    found: dict[str, list[str]] = {}
    logic = (ROOT / "editor-client" / "src" / "logic.ts").read_text()
    m = re.search(r"return \{ command: python, args: (\[[^\]]*\]) \}", logic)
    assert m, "the extension's python fallback was not found in editor-client/src/logic.ts"
    found["extension fallback"] = ["python3", *json.loads(m.group(1).replace("'", '"'))]
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        name = doc.relative_to(ROOT).as_posix()
        for i, block in enumerate(re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(), re.S)):
            for j, lst in enumerate(
                re.findall(r"[\{\[\(]((?:\s*['\"][^'\"\n]*['\"]\s*,?)+)\s*[\}\]\)]", block)
            ):
                words = re.findall(r"['\"]([^'\"\n]*)['\"]", lst)
                if "planfirst" in words and "-m" in words and "python" in words[0]:
                    found[f"{name} code block {i + 1}, command {j + 1}"] = words
    for script in sorted((ROOT / "tests" / "editors").glob("*.sh")):
        for j, m2 in enumerate(
            re.finditer(
                r'(?:PLANFIRST_CMD|SERVER_CMD)=\$?\{?[A-Z_]*:?-?"(\[[^\]]*\])"', script.read_text()
            )
        ):
            words = json.loads(m2.group(1).replace('\\"', '"'))
            found[f"{script.name} command {j + 1}"] = words
    return found


def test_case_26_documented_launch_commands_never_import_the_workspace(
    ws: Path, inv: Invariants
) -> None:
    markers = _plant(ws)
    commands = _documented_commands()
    assert any(k.startswith("docs/editors.md") for k in commands), (
        "no server command found in the snippets of docs/editors.md"
    )
    assert sum(".sh" in k for k in commands) >= 2, commands
    for where, words in commands.items():
        assert "-I" in words[: words.index("-m")], f"{where}: {words} starts the server without -I"
        result = _handshake(_python_argv(words), ws)
        assert result["serverInfo"]["name"] == "planfirst", (where, result)  # type: ignore[index]
        assert not any(mk.exists() for mk in markers), f"{where}: a workspace package ran"


def test_case_26_terminal_client_never_imports_the_workspace(ws: Path, inv: Invariants) -> None:
    markers = _plant(ws)
    script = ws.parent / "script-26.json"
    script.write_text(json.dumps({"turns": json.loads(DEMO.read_text())["turns"][:2]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")} | {
        "NO_COLOR": "1"
    }
    # the terminal client is started from the workspace, like a user in their project would
    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "planfirst"),
            "run",
            "Add a --top N option",
            "--workspace",
            str(ws),
            "--script",
            str(script),
            "--plan-only",
        ],
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert not any(mk.exists() for mk in markers), (
        "the terminal client's server imported a workspace package"
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "(draft)" in res.stdout


async def test_case_26_test_harness_never_imports_the_workspace(ws: Path, inv: Invariants) -> None:
    markers = _plant(ws)
    async with serve(inv, ws) as (client, editor, _ledger):
        assert (
            editor.init_result.server_info is not None
            and editor.init_result.server_info.name == "planfirst"
        )
        assert await command(client, "planfirst.listPlans", {}) == []
    assert not any(mk.exists() for mk in markers)
