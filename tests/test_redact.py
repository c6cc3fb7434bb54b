"""Redaction of known secret values from command output (docs/reliability.md case 32)."""

from __future__ import annotations

from pathlib import Path

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
