"""Minimal edits, applying them, and unified diffs (core/editing/edits.py)."""

from __future__ import annotations

import difflib
import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from unidiff import PatchSet

from planfirst.core.editing.edits import (
    ENCODINGS,
    TextEdit,
    apply_edits,
    minimal_edits,
    split_lines,
    unified_diff,
)
from planfirst.core.editing.linediff import diff_blocks

# ---------------------------------------------------------------------------------------------
# Strategies: text made of lines with every kind of terminator and awkward characters.

_chars = st.sampled_from(
    ["a", "b", " ", "\t", "é", "ß", "中", "😀", "𝄞", "\u00a0", "\u2028", "\x0c", "\x85", "\x00"]
)
_terms = st.sampled_from(["\n", "\r\n", "\r", ""])
_line = st.builds(lambda cs, t: "".join(cs) + t, st.lists(_chars, max_size=6), _terms)
_text = st.builds("".join, st.lists(_line, max_size=12))
# A small pool of lines makes old and new share lines, so the diff has real work to do.
_pool_line = st.sampled_from(
    ["x\n", "y\r\n", "😀z\n", "\n", "\r\n", "\r", "w", "中\r", "é😀é\n", "  indent\n"]
)
_pool_text = st.builds("".join, st.lists(_pool_line, max_size=20))


def _mutate(text: str, data: st.DataObject) -> str:
    lines = split_lines(text)
    for _ in range(data.draw(st.integers(0, 4))):
        op = data.draw(st.sampled_from(["ins", "del", "rep"]))
        at = data.draw(st.integers(0, len(lines)))
        if op == "ins":
            lines.insert(at, data.draw(_line))
        elif lines and at < len(lines):
            if op == "del":
                del lines[at]
            else:
                lines[at] = data.draw(_line)
    return "".join(lines)


# ---------------------------------------------------------------------------------------------
# Property tests


@pytest.mark.parametrize("encoding", ENCODINGS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=_text, new=_text)
def test_round_trip_arbitrary_text(encoding: str, old: str, new: str) -> None:
    edits = minimal_edits(old, new, encoding)
    assert apply_edits(old, edits, encoding) == new
    _assert_ordered_disjoint(edits)


@pytest.mark.parametrize("encoding", ENCODINGS)
@settings(max_examples=150, deadline=None)
@given(old=_pool_text, new=_pool_text)
def test_round_trip_shared_lines(encoding: str, old: str, new: str) -> None:
    edits = minimal_edits(old, new, encoding)
    assert apply_edits(old, edits, encoding) == new


@pytest.mark.parametrize("encoding", ENCODINGS)
@settings(max_examples=150, deadline=None)
@given(old=_pool_text, data=st.data())
def test_round_trip_small_mutations(encoding: str, old: str, data: st.DataObject) -> None:
    new = _mutate(old, data)
    edits = minimal_edits(old, new, encoding)
    assert apply_edits(old, edits, encoding) == new
    if old == new:
        assert edits == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_round_trip_any_unicode_utf16(old: str, new: str) -> None:
    edits = minimal_edits(old, new)
    assert apply_edits(old, edits) == new


@settings(max_examples=200, deadline=None)
@given(
    a=st.lists(st.integers(0, 6), max_size=40),
    b=st.lists(st.integers(0, 6), max_size=40),
)
def test_diff_blocks_is_a_valid_script_and_exact_when_small(a: list[int], b: list[int]) -> None:
    blocks = diff_blocks(a, b)
    # Rebuild b from a and the blocks: equal stretches between blocks must really be equal.
    out: list[int] = []
    ia = jb = 0
    for i1, i2, j1, j2 in blocks:
        assert i1 - ia == j1 - jb and a[ia:i1] == b[jb:j1]
        assert (i1, j1) != (i2, j2)
        out += a[ia:i1] + b[j1:j2]
        ia, jb = i2, j2
    assert a[ia:] == b[jb:]
    out += a[ia:]
    assert out == b
    # Small regions are diffed exactly: the script is as short as the LCS allows.
    if len(a) * len(b) <= 100:
        changed = sum((i2 - i1) + (j2 - j1) for i1, i2, j1, j2 in blocks)
        assert changed == len(a) + len(b) - 2 * _lcs(a, b)


def _lcs(a: list[int], b: list[int]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b):
            cur = row[j + 1]
            row[j + 1] = prev + 1 if x == y else max(row[j + 1], row[j])
            prev = cur
    return row[-1]


@settings(max_examples=40, deadline=None)
@given(
    a=st.lists(st.integers(0, 30), min_size=150, max_size=400),
    data=st.data(),
)
def test_diff_blocks_large_inputs_take_every_path(a: list[int], data: st.DataObject) -> None:
    # Large regions go through Myers, anchors and the budgeted fallback; all must stay valid.
    b = list(a)
    for _ in range(data.draw(st.integers(0, 60))):
        at = data.draw(st.integers(0, len(b)))
        if data.draw(st.booleans()):
            b.insert(at, data.draw(st.integers(0, 40)))
        else:
            del b[at : at + 1]
    blocks = diff_blocks(a, b)
    out: list[int] = []
    ia = jb = 0
    for i1, i2, j1, j2 in blocks:
        assert a[ia:i1] == b[jb:j1]
        out += a[ia:i1] + b[j1:j2]
        ia, jb = i2, j2
    out += a[ia:]
    assert out == b


def _assert_ordered_disjoint(edits: list[TextEdit]) -> None:
    for prev, cur in itertools.pairwise(edits):
        assert (prev.end_line, prev.end_char) <= (cur.start_line, cur.start_char)


# ---------------------------------------------------------------------------------------------
# Hand-checked positions


def test_identical_texts_need_no_edits() -> None:
    assert minimal_edits("a\nb\n", "a\nb\n") == []
    assert minimal_edits("", "") == []


def test_utf16_positions_count_emoji_as_two_units() -> None:
    old = "x = '😀😀'\ny = 1\n"
    new = "x = '😀😀!'\ny = 1\n"
    # The insertion point is after "x = '" (5 units) and two emoji (2 units each).
    assert minimal_edits(old, new) == [TextEdit(0, 9, 0, 9, "!")]
    assert minimal_edits(old, new, "utf-32") == [TextEdit(0, 7, 0, 7, "!")]
    # In UTF-8, each emoji is 4 bytes.
    assert minimal_edits(old, new, "utf-8") == [TextEdit(0, 13, 0, 13, "!")]


def test_utf16_position_after_astral_char_on_changed_line() -> None:
    old = "𝄞 note\nend\n"
    new = "𝄞 tone\nend\n"
    [edit] = minimal_edits(old, new)
    assert (edit.start_line, edit.start_char) == (0, 3)  # 𝄞 is 2 units, then the space
    assert (edit.end_line, edit.end_char) == (0, 6)  # the shared final "e" is kept
    assert edit.new_text == "ton"
    assert apply_edits(old, [edit]) == new


def test_crlf_edit_never_splits_the_terminator() -> None:
    old = "a\r\nb\r\n"
    new = "a\rb\r\n"  # "\r\n" becomes a lone "\r"
    edits = minimal_edits(old, new)
    assert apply_edits(old, edits) == new
    for e in edits:
        # Columns on line 0 may be 0 or 1 ("a"), never 2 (between "\r" and "\n").
        assert not (e.start_line == 0 and e.start_char > 1)
        assert not (e.end_line == 0 and e.end_char > 1)


def test_adding_final_newline() -> None:
    assert minimal_edits("a\nb", "a\nb\n") == [TextEdit(1, 1, 1, 1, "\n")]
    assert minimal_edits("a\nb\n", "a\nb") == [TextEdit(1, 1, 2, 0, "")]


def test_empty_old_and_new() -> None:
    assert minimal_edits("", "hello\n") == [TextEdit(0, 0, 0, 0, "hello\n")]
    assert minimal_edits("hello\n", "") == [TextEdit(0, 0, 1, 0, "")]
    assert minimal_edits("hello", "") == [TextEdit(0, 0, 0, 5, "")]


def test_lone_cr_is_a_line_break() -> None:
    old = "a\rb\rc"
    new = "a\rB\rc"
    assert minimal_edits(old, new) == [TextEdit(1, 0, 1, 1, "B")]


def test_form_feed_and_line_separator_are_not_line_breaks() -> None:
    old = "a\x0cb\u2028c\nz\n"
    new = "a\x0cb\u2028C\nz\n"
    assert minimal_edits(old, new) == [TextEdit(0, 4, 0, 5, "C")]


def test_ten_thousand_lines_three_changes_touch_only_those_lines() -> None:
    rnd = random.Random(7)
    lines = [f"line {i} {rnd.randrange(10**6)}\n" for i in range(10_000)]
    lines[1000:1010] = ["\n"] * 10  # repeated lines must not confuse the alignment
    new = list(lines)
    changed = {17, 4242, 9998}
    for i in changed:
        new[i] = f"changed {i}\n"
    old_text, new_text = "".join(lines), "".join(new)
    edits = minimal_edits(old_text, new_text)
    assert len(edits) == 3
    assert {e.start_line for e in edits} == changed
    assert all(e.start_line == e.end_line for e in edits)
    assert apply_edits(old_text, edits) == new_text


def test_near_total_rewrite_round_trips() -> None:
    rnd = random.Random(3)
    old = [f"    value_{i} = compute({rnd.randrange(100)})\n" for i in range(3000)]
    new = [line.replace("value", "result") if rnd.random() < 0.9 else line for line in old]
    old_text, new_text = "".join(old), "".join(new)
    edits = minimal_edits(old_text, new_text)
    assert apply_edits(old_text, edits) == new_text
    # Only changed lines appear: no edit touches a line that stayed the same.
    unchanged = {i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a == b}
    assert not unchanged & {e.start_line for e in edits}


def test_repeated_lines_only_text_still_round_trips() -> None:
    rnd = random.Random(5)
    old = "".join(rnd.choice(["\n", "}\n", "pass\n"]) for _ in range(3000))
    new = "".join(rnd.choice(["\n", "}\n", "pass\n"]) for _ in range(3000))
    assert apply_edits(old, minimal_edits(old, new)) == new


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="encoding"):
        minimal_edits("a", "b", "latin-1")


# ---------------------------------------------------------------------------------------------
# apply_edits


def test_apply_edits_refuses_overlap() -> None:
    edits = [TextEdit(0, 0, 0, 3, "x"), TextEdit(0, 2, 0, 4, "y")]
    with pytest.raises(ValueError, match="overlaps"):
        apply_edits("abcdef", edits)


def test_apply_edits_refuses_out_of_range_positions() -> None:
    with pytest.raises(ValueError, match="outside"):
        apply_edits("a\nb", [TextEdit(2, 0, 2, 0, "x")])
    with pytest.raises(ValueError, match="past the end"):
        apply_edits("ab\ncd", [TextEdit(0, 3, 0, 3, "x")])
    with pytest.raises(ValueError, match="past the end"):  # inside the "\r\n" terminator
        apply_edits("ab\r\ncd", [TextEdit(0, 3, 0, 3, "x")])
    with pytest.raises(ValueError, match="splits a character"):
        apply_edits("😀", [TextEdit(0, 1, 0, 1, "x")])
    with pytest.raises(ValueError, match="ends before"):
        apply_edits("abc", [TextEdit(0, 2, 0, 1, "x")])


def test_apply_edits_in_any_order_and_inserts_keep_their_order() -> None:
    edits = [TextEdit(1, 0, 1, 1, "B"), TextEdit(0, 0, 0, 0, "1"), TextEdit(0, 0, 0, 0, "2")]
    assert apply_edits("a\nb\n", edits) == "12a\nB\n"


def test_apply_edits_line_after_final_newline_exists() -> None:
    assert apply_edits("a\n", [TextEdit(1, 0, 1, 0, "b")]) == "a\nb"
    with pytest.raises(ValueError):
        apply_edits("a", [TextEdit(1, 0, 1, 0, "b")])


# ---------------------------------------------------------------------------------------------
# unified_diff


def _counts(diff: str) -> tuple[int, int]:
    patch = PatchSet(diff)
    assert len(patch) == 1
    return patch[0].added, patch[0].removed


def test_unified_diff_modified_file_parses_with_counts() -> None:
    old = "".join(f"line {i}\n" for i in range(40))
    new = (
        old.replace("line 3\n", "line three\n")
        .replace("line 30\n", "")
        .replace("line 35\n", "line 35\nextra a\nextra b\n")
    )
    diff = unified_diff("src/app.py", old, new)
    assert diff.startswith("--- a/src/app.py\n+++ b/src/app.py\n")
    patch = PatchSet(diff)
    pf = patch[0]
    assert pf.path == "src/app.py" and pf.is_modified_file
    assert (pf.added, pf.removed) == (3, 2)
    assert len(pf) == 2  # line 3 is far from lines 30-35: two hunks
    # The diff agrees with difflib's unified diff on the hunk headers.
    ref = "".join(
        difflib.unified_diff(
            old.splitlines(True), new.splitlines(True), "a/src/app.py", "b/src/app.py"
        )
    )
    assert [h for h in diff.splitlines() if h.startswith("@@")] == [
        h for h in ref.splitlines() if h.startswith("@@")
    ]


def test_unified_diff_created_and_deleted_files() -> None:
    created = unified_diff("new.py", None, "a\nb\n")
    assert created.startswith("--- /dev/null\n+++ b/new.py\n")
    pf = PatchSet(created)[0]
    assert pf.is_added_file and (pf.added, pf.removed) == (2, 0)
    deleted = unified_diff("old.py", "a\nb\nc\n", None)
    assert deleted.startswith("--- a/old.py\n+++ /dev/null\n")
    pf = PatchSet(deleted)[0]
    assert pf.is_removed_file and (pf.added, pf.removed) == (0, 3)


def test_unified_diff_no_newline_at_end() -> None:
    diff = unified_diff("f.txt", "a\nb", "a\nb\n")
    assert "-b\n\\ No newline at end of file\n+b\n" in diff
    assert _counts(diff) == (1, 1)
    diff = unified_diff("f.txt", "a\nb\n", "a\nc")
    assert diff.endswith("+c\n\\ No newline at end of file\n")
    assert _counts(diff) == (1, 1)


def test_unified_diff_crlf_and_unchanged() -> None:
    diff = unified_diff("w.txt", "a\r\nb\r\n", "a\r\nc\r\n")
    assert "-b\r\n+c\r\n" in diff
    assert _counts(diff) == (1, 1)
    assert unified_diff("w.txt", "same\n", "same\n") == ""


@settings(max_examples=100, deadline=None)
@given(old=_pool_text, data=st.data())
def test_unified_diff_always_parses_and_counts_match(old: str, data: st.DataObject) -> None:
    new = _mutate(old, data)
    diff = unified_diff("p.txt", old, new, context=data.draw(st.integers(0, 3)))
    if old == new:
        assert diff == ""
        return
    patch = PatchSet(diff)
    old_lines, new_lines = split_lines(old), split_lines(new)
    blocks = diff_blocks(
        [hash(x) for x in old_lines], [hash(x) for x in new_lines]
    )  # same alignment the diff used
    assert patch[0].removed == sum(i2 - i1 for i1, i2, _, _ in blocks)
    assert patch[0].added == sum(j2 - j1 for _, _, j1, j2 in blocks)
