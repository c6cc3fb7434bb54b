"""docs/reliability.md, the project's catalogue: every case 1-46 is there, in order, and every
test file it names exists (a glob names a family of files still to come)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"


def _cases() -> dict[int, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^(\d+)\. ", text, flags=re.M)
    return {int(n): body for n, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_every_case_is_catalogued_in_order() -> None:
    assert list(_cases()) == list(range(1, 47))


def test_every_case_names_tests_that_exist() -> None:
    for n, body in _cases().items():
        m = re.search(r"Tests: (.*?)(?:\n\n|\Z)", body, re.S)
        assert m, f"case {n} names no tests"
        names = re.findall(r"`([^`]+)`", m.group(1))
        assert names, f"case {n} names no tests"
        for name in names:
            if "*" in name:
                continue
            assert (ROOT / name).exists(), f"case {n} names {name}, which does not exist"
