"""The editor snippets docs/editors.md shows are the files the real-editor tests load, byte for
byte (the README links to them)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("path", "fence"),
    [
        ("tests/editors/nvim/readme-snippet.lua", "```lua\n"),
        ("tests/editors/emacs/planfirst.el", "```elisp\n"),
    ],
)
def test_editors_doc_shows_the_tested_snippet(path: str, fence: str) -> None:
    doc = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    snippet = (ROOT / path).read_text(encoding="utf-8")
    assert fence + snippet + "```\n" in doc, f"docs/editors.md does not show {path} as it is"
