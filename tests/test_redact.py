"""Redaction of known secret values from command output (docs/reliability.md case 32)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from planfirst.core.commands.redact import REDACTED, RedactingSink, Redactor, env_file_values
from planfirst.core.commands.validate import is_secret_name


def test_env_file_values_and_workspace_scan(tmp_path: Path) -> None:
    text = "# c\nexport API_TOKEN='s3cr3t-value'\nDB=\"postgres://u:pw@h/db\"\nDEBUG=1\nX=plain-value # note\n"
    assert env_file_values(text) == {"s3cr3t-value", "postgres://u:pw@h/db", "plain-value"}
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / ".env.local").write_text("K=nested-secret\n")
    (tmp_path / ".env").write_text("K=root-secret\n")
    r = Redactor.for_commands(
        tmp_path, {"GH_TOKEN": "env-secret", "HOME": "/home/someone"}, is_secret_name
    )
    assert (
        r("root-secret nested-secret env-secret /home/someone")
        == f"{REDACTED} {REDACTED} {REDACTED} /home/someone"
    )


def test_streamed_output_split_inside_a_secret_is_still_redacted() -> None:
    got: list[str] = []
    sink = RedactingSink(got.append, Redactor(["abcdefghij"]))
    for chunk in ["line one abc", "defg", "hij\nsecond abcde", "fghij tail"]:
        sink(chunk)
    sink.flush()
    assert "".join(got) == f"line one {REDACTED}\nsecond {REDACTED} tail"
    long: list[str] = []
    sink = RedactingSink(long.append, Redactor(["abcdefghij"]))
    sink("x" * 5000 + "abcde")
    sink("fghij" + "y" * 10)
    sink.flush()
    assert "".join(long) == "x" * 5000 + REDACTED + "y" * 10


def test_the_workspace_env_values_are_kept_while_nothing_they_came_from_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every validation run asks for the workspace's `.env` values; listing the workspace each
    time cost milliseconds a step on 10,000 files (#32). The answer is kept while every listed
    directory and every env file still has its stamp: a second call lists nothing, and an env
    file added, edited or removed is seen by the next call."""
    from planfirst.core.commands import redact

    for i in range(30):
        (tmp_path / f"pkg{i}").mkdir()
        (tmp_path / f"pkg{i}" / "mod.py").write_text("x = 1\n")
    (tmp_path / ".env").write_text("API_TOKEN=first-secret-value\n")
    # no racy window here (the files were all just written; the window is checked below)
    monkeypatch.setattr(redact, "RACY_NS", 0)
    listed: list[str] = []
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        listed.append(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(redact.os, "scandir", scandir)
    assert redact.workspace_env_values(tmp_path) == {"first-secret-value"}
    assert len(listed) == 31
    listed.clear()
    assert redact.workspace_env_values(tmp_path) == {"first-secret-value"}
    assert listed == []  # nothing changed: nothing listed
    (tmp_path / "pkg3" / ".env.local").write_text("DB_PASSWORD=second-secret\n")  # added
    assert redact.workspace_env_values(tmp_path) == {"first-secret-value", "second-secret"}
    assert listed == [str(tmp_path / "pkg3")]  # only the directory that changed is listed
    listed.clear()
    (tmp_path / ".env").write_text("API_TOKEN=edited-secret-value\n")  # edited in place
    assert redact.workspace_env_values(tmp_path) == {"edited-secret-value", "second-secret"}
    assert listed == []  # the file is read again, no directory listed
    (tmp_path / "pkg3" / ".env.local").unlink()  # removed
    assert redact.workspace_env_values(tmp_path) == {"edited-secret-value"}
    # a stamp within the racy window (a change in the same timestamp tick could hide behind
    # it): that listing or file is not kept, the next call lists and reads again
    monkeypatch.setattr(redact, "RACY_NS", 60_000_000_000)
    redact._KEPT.clear()
    (tmp_path / ".env").write_text("API_TOKEN=third-secret-value\n")
    reads: list[str] = []
    real_read = redact._read_env

    def read_env(path: str, recent: int) -> Any:
        reads.append(path)
        return real_read(path, recent)

    monkeypatch.setattr(redact, "_read_env", read_env)
    assert redact.workspace_env_values(tmp_path) == {"third-secret-value"}
    listed.clear()
    reads.clear()
    assert redact.workspace_env_values(tmp_path) == {"third-secret-value"}
    assert len(listed) == 31
    assert reads == [str(tmp_path / ".env")]


def test_an_env_link_whose_target_becomes_a_fifo_does_not_hang_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team (#32): the kept listing of a directory names its env files; a `.env` link whose
    target (in another directory: this one's stamp stays) is replaced by a FIFO must not be
    opened as the file it was, or every validation run blocks on it forever."""
    import threading

    from planfirst.core.commands import redact

    monkeypatch.setattr(redact, "RACY_NS", 0)
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target"
    target.write_text("API_TOKEN=first-secret-value\n")
    (tmp_path / ".env").symlink_to(target)
    assert redact.workspace_env_values(tmp_path) == {"first-secret-value"}
    target.unlink()
    os.mkfifo(target)
    got: list[set[str]] = []
    scan = threading.Thread(target=lambda: got.append(redact.workspace_env_values(tmp_path)))
    scan.daemon = True
    scan.start()
    scan.join(5)
    if scan.is_alive():  # blocked in open(): let it go, then fail
        os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
        scan.join(5)
        pytest.fail("the scan blocked on a FIFO behind a kept .env link")
    assert got == [set()]


def test_an_env_link_dangling_when_listed_is_read_once_its_target_appears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team (#32): a `.env` link to a file that does not exist yet (created later by a
    setup script, outside the listed directories) stays in the directory's kept listing: once
    the target exists its values are redacted, though only another directory changed."""
    from planfirst.core.commands import redact

    monkeypatch.setattr(redact, "RACY_NS", 0)
    ws = tmp_path / "ws"
    (ws / "pkg").mkdir(parents=True)
    (ws / ".env").symlink_to(tmp_path / "creds")
    assert redact.workspace_env_values(ws) == set()
    (tmp_path / "creds").write_text("API_TOKEN=late-secret-value\n")
    (ws / "pkg" / "new.py").write_text("x = 1\n")  # what a step does: one directory changes
    assert redact.workspace_env_values(ws) == {"late-secret-value"}
    r = Redactor.for_commands(ws, {}, is_secret_name)
    assert r("token late-secret-value") == f"token {REDACTED}"
