"""The pygls compatibility module: documents split lines as LSP does (#23 case 11)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types

from planfirst.lsp.pygls_compat import LspTextDocument, lsp_lines

ODD_BREAKS = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def test_only_lf_crlf_and_cr_end_a_line() -> None:
    assert lsp_lines("a\fb\nc\u2028d\r\ne\rf") == ("a\fb\n", "c\u2028d\r\n", "e\r", "f")
    assert lsp_lines("") == ()
    assert lsp_lines("x\n") == ("x\n",)
    assert lsp_lines("\n\n") == ("\n", "\n")


@given(st.lists(st.sampled_from(["a", "\n", "\r", "\r\n", *ODD_BREAKS])).map("".join))
def test_lines_rebuild_the_text_and_break_only_at_lsp_newlines(text: str) -> None:
    lines = lsp_lines(text)
    assert "".join(lines) == text
    for line in lines:
        body = line.rstrip("\r\n") if line.endswith("\r\n") else line.rstrip("\r").rstrip("\n")
        assert "\n" not in body and "\r" not in body
    assert len(lines) == text.count("\n") + text.count("\r") - text.count("\r\n") + (
        0 if not text or text.endswith(("\n", "\r")) else 1
    )


def test_incremental_change_after_a_form_feed_lands_on_the_lsp_line() -> None:
    doc = LspTextDocument("file:///w/consts.py", "a = 1\n\f\n# sep\u2028here\nb = 22\nc = 3\n")
    doc.apply_change(
        types.TextDocumentContentChangePartial(
            range=types.Range(
                start=types.Position(line=4, character=4), end=types.Position(line=4, character=5)
            ),
            text="33",
        )
    )
    assert doc.source == "a = 1\n\f\n# sep\u2028here\nb = 22\nc = 33\n"
