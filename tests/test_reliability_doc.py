"""docs/reliability.md, the project's catalogue: every case is there, in order, every test file it
names exists (a glob names a family of files still to come), and every case with a test file of
its own (`tests/reliability/test_case_NN_*.py`) is catalogued."""

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
    cases = list(_cases())
    assert len(cases) >= 46 and cases == list(range(1, len(cases) + 1))


def test_every_case_file_is_catalogued() -> None:
    cases = _cases()
    for f in sorted((ROOT / "tests" / "reliability").glob("test_case_*.py")):
        n = int(f.name.split("_")[2])
        assert n in cases, f"{f.name} tests case {n}, which docs/reliability.md does not have"


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
