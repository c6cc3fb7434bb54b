"""core/editing/outline.py: outlines, windows around what a step names, edit sites."""

from __future__ import annotations

from planfirst.core.editing import outline
from planfirst.core.editing.executor import LargeFiles, file_views
from planfirst.plan.model import Step

PY = '''import os


class Store:
    """A store."""

    def get(self, key):
        return key

    @property
    def size(self):
        return 0


async def fetch(url):
    return url
'''


def test_python_outline_has_classes_methods_and_functions_with_ranges() -> None:
    syms = outline.outline("m.py", PY)
    assert [(s.name, s.kind, s.start, s.end, s.depth) for s in syms] == [
        ("Store", "class", 4, 12, 0),
        ("get", "def", 7, 8, 1),
        ("size", "def", 10, 12, 1),  # the decorator line starts it
        ("fetch", "def", 15, 16, 0),
    ]


def test_generic_outline_for_other_languages_and_broken_python() -> None:
    ts = "export class A {\n  x = 1\n}\n\nexport async function go(a) {\n  return a\n}\n"
    syms = outline.outline("a.ts", ts)
    assert [(s.name, s.kind, s.start) for s in syms] == [("A", "class", 1), ("go", "function", 5)]
    broken = "def ok():\n    pass\n\ndef broken(:\n"
    assert [s.name for s in outline.outline("b.py", broken)] == ["ok", "broken"]  # scanned


def test_generic_scanner_is_linear_on_a_pathological_line() -> None:
    # a 1 MB line of spaces: lines are cut before the pattern runs (docs/reliability.md case 29)
    assert outline.outline("x.js", " " * 1_000_000 + "x\n") == []


def _big(n: int) -> str:
    return "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(n))


def test_view_shows_the_named_symbol_and_the_error_lines_but_not_the_rest() -> None:
    text = _big(500)  # 2,000 lines
    v = outline.view("pkg/m.py", text, "Change f250 so it doubles x.\nFAILED pkg/m.py:1802: boom")
    assert "    return x + 250" in v.text  # the window around the named function
    assert "  1802\t" in v.text  # the line a validation error names
    assert "    return x + 10\n" not in v.text  # an unnamed part of the file
    # the outline is capped at the 400 entries nearest the step's lines (f250 and f450 here)
    assert "the 400 entries nearest this step's lines of 500" in v.text
    assert "1797-1798 def f449" in v.text and "1001-1002 def f250" in v.text
    assert "\n1-2 def f0\n" not in v.text
    assert v.sent.startswith("outline+windows ") and v.sent.endswith("of 2000 lines")


def test_earlier_attempt_edit_sites_are_windows() -> None:
    text = _big(500)
    new = text.replace("return x + 123\n", "return x * 123\n")
    sites = outline.changed_lines(text, new)
    assert sites == [123 * 4 + 2]
    v = outline.view("m.py", new, "unrelated words", sites)
    assert "return x * 123" in v.text


def test_small_files_stay_whole_and_missing_files_are_marked() -> None:
    step = Step(order=1, description="edit f1 in a.py", files_to_modify=["a.py", "b.py"])
    body = "".join(f"    y{k} = x + {k}  # a line of work\n" for k in range(8))
    realistic = "".join(f"def g{i}(x):\n{body}    return y7\n\n\n" for i in range(200))
    shown, sent = file_views(
        step, {"a.py": _big(5), "b.py": None, "c.py": realistic}, None, LargeFiles(600, 24_000)
    )
    assert shown["a.py"] == _big(5) and sent["a.py"] == "whole"
    assert shown["b.py"] is None and sent["b.py"] == "missing"
    assert sent["c.py"].startswith("outline+windows")
    assert len(shown["c.py"] or "") < len(realistic) / 10
