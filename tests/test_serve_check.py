"""`planfirst serve --check`: the editor extension's start check imports everything the server
needs, so a broken install (a missing dependency) is one clear message before the client starts,
not a crash loop of generic connection errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e  # `planfirst serve --check` in a fresh interpreter


def _check(prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        f"{prelude}\n"
        "sys.argv = ['planfirst', 'serve', '--check']\n"
        "from planfirst.cli import main\n"
        "raise SystemExit(main())\n"
    )
    return subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120
    )


def test_serve_check_passes_when_the_server_can_start() -> None:
    r = _check()
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # nothing on stdout: it is the LSP channel when serving


def test_serve_check_names_a_missing_dependency() -> None:
    r = _check("sys.modules['re2'] = None  # google-re2 not installed")
    assert r.returncode != 0
    assert "re2" in r.stderr.strip().splitlines()[-1]
