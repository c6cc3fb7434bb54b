"""What importing planfirst loads: start-up stays lean (the scripted model server only when a
script is used). Checked in a fresh interpreter, since this test process imports everything."""

from __future__ import annotations

import os
import subprocess
import sys


def _loaded_after(code: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if k != "PLANFIRST_SCRIPT"}
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    ).stdout
    return set(out.split())


def test_no_scripted_server_without_a_script() -> None:
    loaded = _loaded_after(
        "import planfirst.lsp.server\n"
        "from planfirst.llm.factory import Models\n"
        "from planfirst.settings import Settings\n"
        "Models(Settings()).close()"
    )
    assert "planfirst.llm.factory" in loaded and "planfirst.lsp.server" in loaded
    assert "planfirst.llm.scripted" not in loaded
