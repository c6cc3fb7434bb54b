"""Red team (rt3): the per-user key file is opened like planfirst's other own files — without
following a link, without blocking on a FIFO, and never read past a key's size."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")


def _user_key_in_child(data: Path) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(
        """
        from planfirst.plan import origin
        print(len(origin.user_key()))
        """
    )
    env = {**os.environ, "PLANFIRST_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=10
    )


def test_a_fifo_key_file_does_not_hang_the_server(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "origin.key")
    try:
        out = _user_key_in_child(tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("user_key() blocked opening a FIFO key file")
    assert out.stdout.strip() == "32", out.stderr


def test_a_key_file_linked_to_an_endless_device_is_not_read_forever(tmp_path: Path) -> None:
    (tmp_path / "origin.key").symlink_to("/dev/zero")
    try:
        out = _user_key_in_child(tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("user_key() read a key file linked to /dev/zero without end")
    assert out.stdout.strip() == "32", out.stderr


def test_a_key_file_others_can_read_is_made_private(tmp_path: Path) -> None:
    key = tmp_path / "origin.key"
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o644)
    out = _user_key_in_child(tmp_path)
    assert out.stdout.strip() == "32", out.stderr
    assert key.stat().st_mode & 0o077 == 0, oct(key.stat().st_mode)
