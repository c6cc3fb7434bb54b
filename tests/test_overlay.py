"""The in-memory overlay that executes the text editor tool (core/editing/overlay.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planfirst.core.editing.edits import apply_edits, minimal_edits
from planfirst.core.editing.overlay import Overlay
from planfirst.llm.model import TEXT_EDITOR_TOOL, ToolOutcome

TOOL = TEXT_EDITOR_TOOL

APP = """\
def greet(name):
    return f"hello {name}"


def add(a, b):
    return a + b
"""


def make(
    files: dict[str, str] | None = None,
    allowed: tuple[str, ...] = ("src/app.py",),
    may_create: tuple[str, ...] = ("src/new.py",),
    **kw: Any,
) -> tuple[Overlay, dict[str, str]]:
    disk = dict(files if files is not None else {"src/app.py": APP, "README.md": "# readme\n"})
    return Overlay(disk.get, allowed, may_create, **kw), disk


async def call(ov: Overlay, **tool_input: Any) -> ToolOutcome:
    return await ov.handle(TOOL, tool_input)


async def replace(ov: Overlay, old: str, new: str, path: str = "src/app.py") -> ToolOutcome:
    return await call(ov, command="str_replace", path=path, old_str=old, new_str=new)


# ---------------------------------------------------------------------------------------------
# view


async def test_view_numbers_lines_like_cat_n() -> None:
    ov, _ = make()
    out = await call(ov, command="view", path="src/app.py")
    assert not out.is_error
    assert "     1\tdef greet(name):\n" in out.text
    assert "     6\t    return a + b" in out.text
    assert "     7" not in out.text  # the final newline does not start a line


async def test_view_range_and_minus_one() -> None:
    ov, _ = make()
    out = await call(ov, command="view", path="src/app.py", view_range=[5, -1])
    assert "     5\tdef add(a, b):" in out.text and "     4\t" not in out.text
    bad = await call(ov, command="view", path="src/app.py", view_range=[9, 10])
    assert bad.is_error and "lines 1-6" in bad.text
    bad = await call(ov, command="view", path="src/app.py", view_range="1-3")
    assert bad.is_error and "view_range" in bad.text


async def test_view_any_readable_file_but_missing_is_an_error() -> None:
    ov, _ = make()
    out = await call(ov, command="view", path="README.md")  # not in the step, still viewable
    assert not out.is_error and "# readme" in out.text
    out = await call(ov, command="view", path="nope.py")
    assert out.is_error and "does not exist" in out.text


async def test_view_long_file_is_capped() -> None:
    ov, _ = make({"big.txt": "".join(f"{i}\n" for i in range(50))}, max_view_lines=10)
    out = await call(ov, command="view", path="big.txt")
    assert "    10\t9" in out.text and "    11\t" not in out.text
    assert "view_range [11, -1]" in out.text


async def test_view_directory_lists_entries_and_created_files() -> None:
    def list_dir(path: str) -> list[str] | None:
        return {"src": ["app.py", "pkg/"], "": ["src/", "README.md"]}.get(path)

    ov, _ = make(list_dir=list_dir)
    await call(ov, command="create", path="src/new.py", file_text="x = 1\n")
    out = await call(ov, command="view", path="src")
    assert not out.is_error
    assert out.text.splitlines()[1:] == ["app.py", "new.py", "pkg/"]
    root = await call(ov, command="view", path="/")
    assert "README.md" in root.text and "src/" in root.text


async def test_view_shows_overlay_text_not_disk() -> None:
    ov, disk = make()
    await replace(ov, "a + b", "a - b")
    out = await call(ov, command="view", path="src/app.py")
    assert "return a - b" in out.text
    assert "a + b" in disk["src/app.py"]  # nothing written to the "disk"


# ---------------------------------------------------------------------------------------------
# str_replace: exact, missing, ambiguous


async def test_exact_replace_and_changes() -> None:
    ov, _ = make()
    out = await replace(ov, "return a + b", "return a + b + 0")
    assert not out.is_error, out.text
    assert "line 6" in out.text and "     6\t    return a + b + 0" in out.text
    assert "did not match exactly" not in out.text
    assert ov.changes() == {"src/app.py": (APP, APP.replace("a + b", "a + b + 0"))}


async def test_missing_old_str_quotes_closest_lines_with_numbers() -> None:
    ov, _ = make()
    out = await replace(ov, "def add(x, y):\n    return x + y\n", "pass\n")
    assert out.is_error
    assert "No match" in out.text
    assert "lines 5-6" in out.text
    assert "     5\tdef add(a, b):" in out.text
    assert ov.changes() == {}


async def test_ambiguous_old_str_names_every_line() -> None:
    text = "x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n"
    ov, _ = make({"src/app.py": text})
    out = await replace(ov, "x = 1", "x = 9")
    assert out.is_error
    assert "3 places" in out.text and "lines 1, 3, 5" in out.text
    assert "more surrounding lines" in out.text
    assert ov.changes() == {}
    ok = await replace(ov, "z = 3\nx = 1", "z = 3\nx = 9")
    assert not ok.is_error
    assert ov.changes()["src/app.py"][1] == "x = 1\ny = 2\nx = 1\nz = 3\nx = 9\n"


async def test_bad_arguments_are_reported() -> None:
    ov, _ = make()
    out = await replace(ov, "", "x")
    assert out.is_error and "old_str is empty" in out.text
    out = await replace(ov, "return a + b", "return a + b")
    assert out.is_error and "identical" in out.text
    out = await call(ov, command="str_replace", path="src/app.py", old_str=3, new_str="x")
    assert out.is_error and "'old_str' must be a string" in out.text
    out = await call(ov, command="str_replace", path="src/app.py", new_str="x")
    assert out.is_error and "Missing 'old_str'" in out.text
    out = await call(ov, command="str_replace", old_str="a", new_str="b")
    assert out.is_error and "path" in out.text


async def test_missing_new_str_deletes() -> None:
    ov, _ = make()
    out = await call(ov, command="str_replace", path="src/app.py", old_str="\n\ndef add")
    assert not out.is_error
    assert "def add" not in ov.changes()["src/app.py"][1]


async def test_str_replace_on_missing_file_suggests_create() -> None:
    ov, _ = make()
    out = await replace(ov, "a", "b", path="src/new.py")
    assert out.is_error and "does not exist" in out.text and "create" in out.text


# ---------------------------------------------------------------------------------------------
# str_replace: the ladder


async def test_rung_trailing_whitespace() -> None:
    text = "def f():  \n    x = 1   \n    return x\n"
    ov, _ = make({"src/app.py": text})
    out = await replace(ov, "def f():\n    x = 1\n", "def f():\n    x = 2\n")
    assert not out.is_error, out.text
    assert "ignoring trailing whitespace" in out.text
    assert ov.changes()["src/app.py"][1] == "def f():\n    x = 2\n    return x\n"


async def test_rung_surrounding_blank_lines() -> None:
    text = "a = 1\nb = 2\nc = 3\n"
    ov, _ = make({"src/app.py": text})
    out = await replace(ov, "\n\nb = 2\n\n\n", "\n\nb = 20\n\n\n")
    assert not out.is_error, out.text
    assert "surrounding blank lines" in out.text
    # The blank edges dropped from old_str are dropped from new_str too: no blank lines appear.
    assert ov.changes()["src/app.py"][1] == "a = 1\nb = 20\nc = 3\n"


async def test_rung_indentation_reindents_new_str() -> None:
    text = "class C:\n    def m(self):\n        if x:\n            return 1\n        return 2\n"
    ov, _ = make({"src/app.py": text})
    # The model quotes the method body without its class indentation.
    out = await replace(
        ov,
        "if x:\n    return 1\nreturn 2",
        "if x:\n    return 10\nelse:\n    return 20\nreturn 2",
    )
    assert not out.is_error, out.text
    assert "ignoring indentation" in out.text
    assert ov.changes()["src/app.py"][1] == (
        "class C:\n    def m(self):\n        if x:\n            return 10\n"
        "        else:\n            return 20\n        return 2\n"
    )


async def test_rung_indentation_can_remove_indent() -> None:
    text = "def f():\n    return 1\n"
    ov, _ = make({"src/app.py": text})
    out = await replace(
        ov, "        def f():\n            return 1", "        def g():\n            return 2"
    )
    assert not out.is_error, out.text
    assert ov.changes()["src/app.py"][1] == "def g():\n    return 2\n"


async def test_rung_unicode_punctuation() -> None:
    text = 'msg = "it’s — fine…"\nnext = 1\n'
    ov, _ = make({"src/app.py": text})
    out = await replace(ov, 'msg = "it\'s - fine..."', 'msg = "ok"')
    assert not out.is_error, out.text
    assert "Unicode punctuation" in out.text
    assert ov.changes()["src/app.py"][1] == 'msg = "ok"\nnext = 1\n'


async def test_loose_rung_with_two_places_is_ambiguous_not_a_guess() -> None:
    text = "if a:\n    x = 1\nif b:\n        x = 1\n"
    ov, _ = make({"src/app.py": text})
    out = await replace(ov, "  x = 1\n", "  x = 2\n")  # exact substring "  x = 1\n" occurs twice
    assert out.is_error and "2 places" in out.text
    out = await replace(ov, "\tx = 1", "\tx = 2")  # only the indentation rung matches: twice
    assert out.is_error and "2 places" in out.text and "ignoring indentation" in out.text
    assert "lines 2, 4" in out.text
    assert ov.changes() == {}


async def test_closest_lines_on_a_large_file_are_found() -> None:
    lines = [f"value_{i} = compute({i})\n" for i in range(5000)]
    ov, _ = make({"src/app.py": "".join(lines)})
    out = await replace(ov, "value_4321 = compute(4312)\nvalue_4322 = compute(4322)", "x")
    assert out.is_error
    assert "lines 4322-4323" in out.text


# ---------------------------------------------------------------------------------------------
# Line endings


async def test_crlf_file_keeps_crlf() -> None:
    text = "a = 1\r\nb = 2\r\nc = 3\r\n"
    ov, _ = make({"src/app.py": text})
    out = await replace(ov, "b = 2\nc = 3\n", "b = 20\nbb = 21\nc = 3\n")
    assert not out.is_error, out.text
    new = ov.changes()["src/app.py"][1]
    assert new == "a = 1\r\nb = 20\r\nbb = 21\r\nc = 3\r\n"
    # The minimal edit only touches the changed line and the inserted one.
    edits = minimal_edits(text, new)
    assert apply_edits(text, edits) == new
    assert all(e.start_line == 1 for e in edits)


async def test_crlf_view_hides_carriage_returns_and_insert_keeps_crlf() -> None:
    ov, _ = make({"src/app.py": "a\r\nb\r\n"})
    out = await call(ov, command="view", path="src/app.py")
    assert "\r" not in out.text
    await call(ov, command="insert", path="src/app.py", insert_line=1, insert_text="mid\n")
    assert ov.changes()["src/app.py"][1] == "a\r\nmid\r\nb\r\n"


async def test_create_over_crlf_file_keeps_crlf() -> None:
    ov, _ = make({"src/app.py": "a\r\n"})
    await call(ov, command="create", path="src/app.py", file_text="x\ny\n")
    assert ov.changes()["src/app.py"] == ("a\r\n", "x\r\ny\r\n")


# ---------------------------------------------------------------------------------------------
# insert, create, scope


async def test_insert_positions() -> None:
    ov, _ = make({"src/app.py": "one\ntwo\n"})
    assert not (
        await call(ov, command="insert", path="src/app.py", insert_line=0, insert_text="zero")
    ).is_error
    out = await call(ov, command="insert", path="src/app.py", insert_line=3, new_str="three\n")
    assert not out.is_error, out.text  # older tool versions send new_str
    assert ov.changes()["src/app.py"][1] == "zero\none\ntwo\nthree\n"
    bad = await call(ov, command="insert", path="src/app.py", insert_line=9, insert_text="x")
    assert bad.is_error and "0 to 4" in bad.text
    bad = await call(ov, command="insert", path="src/app.py", insert_line="1", insert_text="x")
    assert bad.is_error and "insert_line" in bad.text


async def test_insert_into_file_without_final_newline() -> None:
    ov, _ = make({"src/app.py": "one"})
    await call(ov, command="insert", path="src/app.py", insert_line=1, insert_text="two\n")
    assert ov.changes()["src/app.py"][1] == "one\ntwo"


async def test_create_new_file_and_edit_it() -> None:
    ov, _ = make()
    out = await call(ov, command="create", path="src/new.py", file_text="x = 1\n")
    assert not out.is_error and "Created src/new.py" in out.text
    out = await replace(ov, "x = 1", "x = 2", path="src/new.py")
    assert not out.is_error
    assert ov.changes() == {"src/new.py": (None, "x = 2\n")}


async def test_create_over_existing_allowed_file_replaces_text() -> None:
    ov, _ = make()
    out = await call(ov, command="create", path="src/app.py", file_text=APP + "\nX = 1\n")
    assert not out.is_error and "Replaced the whole content" in out.text
    old, new = ov.changes()["src/app.py"]
    edits = minimal_edits(old or "", new)
    assert [e.start_line for e in edits] == [6]  # only the appended lines


async def test_create_over_existing_file_only_planned_for_creation_is_refused() -> None:
    ov, _ = make({"src/app.py": APP, "src/new.py": "user's file\n"})
    out = await call(ov, command="create", path="src/new.py", file_text="x\n")
    assert out.is_error and "already exists" in out.text
    assert ov.changes() == {}


async def test_a_file_an_earlier_attempt_of_the_step_created_is_the_steps_own() -> None:
    """The retry after a failed validation may edit (or rewrite) the file its own step created."""
    disk = {"src/app.py": APP, "src/new.py": "def f():\n    return 1\n"}
    ov = Overlay(disk.get, ["src/app.py"], ["src/new.py"], created_by_step=["src/new.py"])
    out = await call(
        ov, command="str_replace", path="src/new.py", old_str="return 1", new_str="return 2"
    )
    assert not out.is_error, out.text
    assert ov.changes() == {"src/new.py": ("def f():\n    return 1\n", "def f():\n    return 2\n")}
    out = await call(ov, command="create", path="src/new.py", file_text="x = 3\n")
    assert not out.is_error and ov.changes()["src/new.py"] == (disk["src/new.py"], "x = 3\n")
    # only files the step may create can be its own: a name from elsewhere changes nothing
    ov2 = Overlay(disk.get, [], [], created_by_step=["src/new.py"])
    out = await call(
        ov2, command="str_replace", path="src/new.py", old_str="return 1", new_str="return 2"
    )
    assert out.is_error and "outside this step" in out.text


async def test_paths_outside_the_step_are_refused_with_the_list() -> None:
    ov, _ = make()
    for tool_input in (
        {"command": "str_replace", "path": "README.md", "old_str": "# readme", "new_str": "# x"},
        {"command": "create", "path": "src/other.py", "file_text": "x"},
        {"command": "insert", "path": "README.md", "insert_line": 0, "insert_text": "x"},
    ):
        out = await ov.handle(TOOL, tool_input)
        assert out.is_error
        assert "outside this step" in out.text
        assert "may modify: src/app.py" in out.text and "create: src/new.py" in out.text
    assert ov.changes() == {}


async def test_invalid_paths_are_refused_by_the_resolver() -> None:
    ov, _ = make()
    for path in ("../etc/passwd", "/etc/passwd", "src\\app.py"):
        out = await call(ov, command="view", path=path)
        assert out.is_error and "Invalid path" in out.text


async def test_custom_resolver_maps_absolute_paths() -> None:
    def resolve(path: str) -> str:
        if path.startswith("/repo/"):
            return path[len("/repo/") :]
        raise ValueError("outside the workspace")

    ov, _ = make(resolve=resolve)
    out = await replace(ov, "a + b", "a * b", path="/repo/src/app.py")
    assert not out.is_error
    assert "src/app.py" in ov.changes()
    out = await call(ov, command="view", path="/elsewhere/x")
    assert out.is_error and "outside the workspace" in out.text


async def test_unknown_command_tool_and_undo_edit() -> None:
    ov, _ = make()
    out = await call(ov, command="delete", path="src/app.py")
    assert out.is_error and "Unknown command" in out.text and "str_replace" in out.text
    out = await call(ov, command="undo_edit", path="src/app.py")
    assert out.is_error and "undo_edit is not available" in out.text
    out = await ov.handle("bash", {"command": "ls"})
    assert out.is_error and "Unknown tool" in out.text
    assert len(ov.log) == 3 and all(": error: " in line for line in ov.log)


async def test_changes_omit_files_edited_back_to_the_original() -> None:
    ov, _ = make()
    await replace(ov, "a + b", "a - b")
    await replace(ov, "a - b", "a + b")
    assert ov.changes() == {}


async def test_current_text() -> None:
    ov, _ = make()
    await replace(ov, "a + b", "a - b")
    assert "a - b" in (ov.current_text("src/app.py") or "")
    assert ov.current_text("missing.py") is None


# ---------------------------------------------------------------------------------------------
# Property: an exact str_replace of a unique fragment does exactly that


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(st.text(alphabet="ab😀 \t", max_size=5), min_size=1, max_size=10),
    data=st.data(),
)
async def test_unique_fragment_replace_is_exact(lines: list[str], data: st.DataObject) -> None:
    text = "\n".join(lines) + "\n"
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    old = text[start:end]
    new = data.draw(st.text(alphabet="xy\n", max_size=5))
    ov, _ = make({"src/app.py": text})
    out = await replace(ov, old, new)
    places = sum(text.startswith(old, i) for i in range(len(text)))  # overlapping too
    if places == 1 and old != new:
        assert not out.is_error, out.text
        assert ov.changes()["src/app.py"][1] == text[:start] + new + text[end:]
    elif old == new:
        assert out.is_error
    else:
        # Several places: refused (never a guess).
        assert out.is_error and "places" in out.text


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
async def test_edits_round_trip_through_minimal_edits(eol: str) -> None:
    text = APP.replace("\n", eol)
    ov, _ = make({"src/app.py": text})
    await replace(ov, 'return f"hello {name}"', 'return f"hi {name}!"')
    old, new = ov.changes()["src/app.py"]
    assert old == text
    edits = minimal_edits(old, new)
    assert len(edits) == 1 and edits[0].start_line == 1
    assert apply_edits(old, edits) == new


async def test_lone_cr_file_keeps_cr_and_mixed_file_keeps_its_endings() -> None:
    ov, _ = make({"src/app.py": "a\rb\rc\r"})
    out = await replace(ov, "b\nc", "B\nC")
    assert not out.is_error, out.text
    assert ov.changes()["src/app.py"][1] == "a\rB\rC\r"
    mixed = "one\r\ntwo\nthree\r\n"
    ov, _ = make({"src/app.py": mixed})
    out = await replace(ov, "two\n", "2\n")
    assert not out.is_error, out.text
    assert ov.changes()["src/app.py"][1] == "one\r\n2\nthree\r\n"


async def test_empty_file_view_and_unrelated_old_str() -> None:
    ov, _ = make({"src/app.py": ""})
    out = await call(ov, command="view", path="src/app.py")
    assert not out.is_error and "empty" in out.text
    out = await replace(ov, "x", "y")
    assert out.is_error and "is empty" in out.text


async def test_created_empty_file_is_a_change() -> None:
    ov, _ = make()
    await call(ov, command="create", path="src/new.py", file_text="")
    assert ov.changes() == {"src/new.py": (None, "")}


async def test_unrelated_old_str_says_nothing_resembles_it() -> None:
    ov, _ = make()
    out = await replace(ov, "completely different\nwords here", "x")
    assert out.is_error and "Nothing in src/app.py resembles it closely" in out.text
