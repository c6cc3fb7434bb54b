"""Concurrent planfirst processes that find a key file holding no key (a process killed while an
older version created it) agree on one key: the one on disk afterwards (plan/origin.py).

Each process here is a real `python -c` that calls `origin.user_key()`; a hook in a child stops
it at a chosen point (after reading the key file, or just before renaming its new key into place)
and says so on stdout, and goes on when the test writes `go` to its stdin, so the interleaving
is chosen by the test, not by the scheduler."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the lock is POSIX flock")

CHILD = textwrap.dedent(
    """
    import logging, os, sys
    from planfirst.plan import origin

    logging.basicConfig(level=logging.WARNING)
    mode = sys.argv[1]
    if len(sys.argv) > 2:
        origin.KEY_LOCK_WAIT_S = float(sys.argv[2])

    def say(word):
        sys.stdout.write(word + "\\n")
        sys.stdout.flush()

    def wait():
        if sys.stdin.readline().strip() != "go":
            sys.exit(3)

    if mode in ("pause-after-read", "say-after-read"):
        real_read = origin._read_key_file
        reads = []

        def hooked_read(path):
            text = real_read(path)
            if not reads:
                reads.append(text)
                say("read")
                if mode == "pause-after-read":
                    wait()
            return text

        origin._read_key_file = hooked_read
    elif mode == "pause-at-replace":
        real_replace = os.replace

        def hooked_replace(src, dst):
            if os.path.basename(dst) == "origin.key":
                say("replacing")
                wait()
            return real_replace(src, dst)

        os.replace = hooked_replace
    elif mode == "barrier":
        say("ready")
        wait()
    say("key " + origin.user_key().hex())
    """
)


class Child:
    """A `python -c CHILD` process whose stdout lines the test reads with a bound."""

    def __init__(self, data: Path, *args: str) -> None:
        env = {**os.environ, "PLANFIRST_DATA_DIR": str(data)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        self.buffer = b""

    def line(self, timeout: float = 60) -> str:
        """The child's next stdout line (fails after `timeout` s: a hang, not a slow machine)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            if not ready:
                self.proc.kill()
                pytest.fail(f"child said nothing for {timeout:g} s (hung)")
            chunk = os.read(fd, 4096)
            if not chunk:
                self.proc.wait()
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                pytest.fail(f"child ended (exit {self.proc.returncode}) before a line: {err}")
            self.buffer += chunk
        text, _, self.buffer = self.buffer.partition(b"\n")
        return text.decode()

    def expect(self, word: str) -> None:
        got = self.line()
        assert got == word, got

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def key(self) -> str:
        got = self.line()
        assert got.startswith("key "), got
        self.proc.wait(timeout=60)
        return got.removeprefix("key ")

    def stderr(self) -> str:
        self.proc.wait(timeout=60)
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "origin.key").write_text("")  # a key file an older version left empty
    (tmp_path / "origin.key").chmod(0o600)
    return tmp_path


def _on_disk(data: Path) -> str:
    return (data / "origin.key").read_text().strip()


def test_a_process_that_read_the_empty_key_uses_the_one_another_wrote_meanwhile(
    data: Path,
) -> None:
    late = Child(data, "pause-after-read")
    late.expect("read")  # it found the key file empty ...
    first = Child(data, "plain").key()  # ... and another process replaced it meanwhile
    assert first == _on_disk(data)
    late.go()
    assert late.key() == first == _on_disk(data)


def test_a_process_waits_for_one_that_is_replacing_the_key_and_uses_its_key(data: Path) -> None:
    writer = Child(data, "pause-at-replace")
    writer.expect("replacing")  # its new key is written, not yet renamed into place
    other = Child(data, "say-after-read")
    other.expect("read")  # it found the key file empty too
    writer.go()
    mine, theirs = writer.key(), other.key()
    assert mine == theirs == _on_disk(data)


def test_a_lock_held_too_long_gives_a_key_for_this_process_and_never_a_second_key_on_disk(
    data: Path,
) -> None:
    writer = Child(data, "pause-at-replace")
    writer.expect("replacing")  # holds the lock while it waits for the test
    other = Child(data, "plain", "0.2")  # gives up waiting after 0.2 s
    theirs = other.key()
    assert "waited" in other.stderr(), "the fallback is logged"
    assert _on_disk(data) == "", "the process that gave up did not write a key of its own"
    writer.go()
    mine = writer.key()
    assert mine == _on_disk(data) != theirs


def test_many_processes_that_find_an_empty_key_all_use_the_key_left_on_disk(data: Path) -> None:
    children = [Child(data, "barrier") for _ in range(6)]
    for child in children:
        child.expect("ready")
    for child in children:  # released together
        child.go()
    keys = {child.key() for child in children}
    assert keys == {_on_disk(data)}


@pytest.mark.parametrize("planted", ["fifo", "directory", "link"])
def test_a_lock_file_that_is_not_a_file_gives_a_logged_key_for_this_process(
    data: Path, planted: str
) -> None:
    lock = data / "origin.key.lock"
    if planted == "fifo":
        os.mkfifo(lock)
    elif planted == "directory":
        lock.mkdir()
    else:
        lock.symlink_to(data / "elsewhere")
    child = Child(data, "plain")
    assert len(bytes.fromhex(child.key())) == 32  # neither a hang nor a crash
    assert "cannot replace planfirst's key" in child.stderr()
    assert _on_disk(data) == ""
    assert not (data / "elsewhere").exists(), "the link was not followed"
