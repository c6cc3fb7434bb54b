"""Text shown for what it is (docs/reliability.md case 34): reversible escapes of invisible
characters, misleading names, comments and code fences that model text cannot open or close."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planfirst.core.planning.names import misleading_names
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.plan.model import PlanBody
from planfirst.plan.render import code_block, escape_prose, unescape_prose
from planfirst.plan.visible import decode, encode, invisible, name_problems


@given(st.text())
def test_encode_is_reversible_and_leaves_nothing_invisible(text: str) -> None:
    shown = encode(text)
    assert decode(shown) == text
    assert not any(invisible(c) for c in shown)


@given(st.text(alphabet=st.sampled_from(["\\", "u", "{", "}", "5", "C", "A", "\u202e", "x", "\n"])))
def test_encode_round_trips_escape_lookalikes(text: str) -> None:
    assert decode(encode(text)) == text


@given(st.text())
def test_escape_prose_round_trips_and_opens_no_comment(text: str) -> None:
    escaped = escape_prose(text)
    assert unescape_prose(escaped) == text
    assert not re.search(r"(?<!\\)<!--", escaped)


@given(st.text())
def test_code_block_cannot_be_closed_from_inside(text: str) -> None:
    block = code_block(text)
    fence = block.split("\n", 1)[0]
    inner = block[len(fence) + 1 : -len(fence) - 1]
    assert not any(line.strip().startswith(fence) for line in inner.split("\n"))


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("docs/report\u202edm.exe", "U+202E"),
        ("src/a\u200bb.py", "U+200B"),
        ("src/p\u0430y.py", "U+0430"),
        ("\u0440\u0430\u0443.py", "look Latin"),
        ("\uff50\uff41\uff59.py", "compatibility"),
    ],
)
def test_misleading_names(path: str, words: str) -> None:
    assert any(words in p for p in name_problems(path)), name_problems(path)


@pytest.mark.parametrize(
    "path", ["src/pay.py", "docs/отчёт.md", "日本/読む.md", "café.py", "a b/c-d_e.txt"]
)
def test_plain_names_pass(path: str) -> None:
    assert name_problems(path) == []


def _body(create: list[str], modify: list[str]) -> PlanBody:
    files = create + modify
    return PlanBody.model_validate(
        {
            "summary": "s",
            "files_to_modify": [{"path": p, "changes": "c", "depends_on": []} for p in modify],
            "files_to_create": [{"path": p, "purpose": "p", "exports": []} for p in create],
            "dependency_changes": {"packages": [], "config": []},
            "steps": [
                {
                    "order": 1,
                    "description": "d",
                    "files_to_modify": modify,
                    "files_to_create": create,
                    "validation": [],
                }
            ]
            if files
            else [],
            "test_criteria": [],
            "risks": [],
            "assumptions": [],
        }
    )


def test_case_only_twins_on_disk_and_in_the_plan(tmp_path: Path) -> None:
    (tmp_path / "Docs").mkdir()
    (tmp_path / "Docs" / "Guide.md").write_text("x")
    guard = WorkspaceGuard(tmp_path)
    found = misleading_names(_body(["docs/new.md", "Docs/guide.md", "x/A.py", "x/a.py"], []), guard)
    text = " ".join(f.message for f in found)
    assert "'Docs'" in text and "'Docs/Guide.md'" in text
    assert "'x/a.py' and 'x/A.py' differ only in letter case" in text
    assert misleading_names(_body(["Docs/other.md"], []), guard) == []
