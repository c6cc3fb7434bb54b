"""An unclosed parenthesised import (a file mid-edit, or a hostile one full of them) neither
hides the imports after it nor makes the scan quadratic: the parenthesised list stops at the
next `(` (an import list holds none), and the line is read as a plain one."""

from __future__ import annotations

from planfirst.core.planning.candidates import python_imports


def test_an_unclosed_import_list_does_not_swallow_the_next_import() -> None:
    exists = {"a.py", "b.py", "c.py"}
    text = "from a import (x,\nfrom b import (y)\nfrom c import z\n"
    assert python_imports("main.py", text, exists) == ["a.py", "b.py", "c.py"]


def test_a_closed_multi_line_import_list_still_names_submodules() -> None:
    exists = {"pkg/__init__.py", "pkg/one.py", "pkg/two.py"}
    text = "from pkg import (\n    one,\n    two,  # trailing\n)\n"
    assert python_imports("main.py", text, exists) == ["pkg/one.py", "pkg/two.py"]
