"""Problem parsers against real captured tool output (tests/fixtures/problems/*.txt).

The fixtures were produced by tests/fixtures/problems/capture.sh, which builds a small broken
workspace and runs each tool on it; the workspace path is stored as {ROOT}. Tool versions:
  pytest 9.2.0 (Python 3.11.7) .... pytest_long, pytest_short, pytest_line, pytest_collect_error
  Python 3.11.7 unittest .......... unittest
  ruff 0.17.6 ..................... ruff_concise, ruff_full
  mypy 2.4.1 ...................... mypy, mypy_columns
  flake8 7.5.0 (pyflakes 4.1.0) ... flake8
  gcc 12.2.0 (Debian) ............. gcc, gcc_color_abs (clang is not installed here)
  TypeScript 7.0.2 / 5.9.3 ........ tsc7 (plain), tsc5_pretty (coloured)
  ESLint 10.15.0 .................. eslint_stylish; eslint-formatter-unix/-compact 9.0.1
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planfirst.core.problems.parse import Problem, parse_problems, strip_ansi, tool_hint

FIXTURES = Path(__file__).parent / "fixtures" / "problems"

# The sample files the captured output refers to. Only tests/test_calc.py needs its real text
# (pytest's short summary is mapped to the test's `def` line); the rest only need to exist.
TEST_CALC = """from pkg.calc import add, greet, mean


def test_add():
    assert add(2, 2) == 5


def test_mean():
    assert mean([1, 2]) == 1.5


def test_greet():
    assert greet("bob") == "hello bob"


def helper(x):
    raise KeyError(x)


def test_helper():
    helper("missing")
"""
SAMPLE_FILES = [
    "pkg/__init__.py",
    "pkg/calc.py",
    "pkg/extra.py",
    "tests/test_broken.py",
    "tests/test_unit.py",
    "src/main.c",
    "web/app.ts",
    "web/lint.js",
]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    for rel in SAMPLE_FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("\n" * 30)
    (root / "tests" / "test_calc.py").write_text(TEST_CALC)
    return root


def load(name: str, root: Path) -> str:
    return (FIXTURES / f"{name}.txt").read_text(encoding="utf-8").replace("{ROOT}", str(root))


def rows(problems: list[Problem]) -> list[tuple[str, int, int, str, str | None]]:
    return [(p.path, p.line, p.column, p.severity, p.code) for p in problems]


# ---------------------------------------------------------------- pytest and Python


def test_pytest_long_traceback(ws: Path) -> None:
    probs = parse_problems(load("pytest_long", ws), ws, "pytest")
    assert rows(probs) == [
        ("pkg/calc.py", 14, 1, "error", None),
        ("tests/test_calc.py", 5, 1, "error", None),
        ("tests/test_calc.py", 13, 1, "error", None),
        ("tests/test_calc.py", 17, 1, "error", None),
        ("tests/test_calc.py", 21, 1, "error", None),
    ]
    msgs = {(p.path, p.line): p.message for p in probs}
    assert msgs[("tests/test_calc.py", 5)] == "AssertionError: assert 4 == 5 (test_add)"
    # The crash is in the library code; the test's own line is reported too.
    assert msgs[("pkg/calc.py", 14)] == "NameError: name 'nme' is not defined (test_greet)"
    assert (
        msgs[("tests/test_calc.py", 13)]
        == "test_greet failed: NameError: name 'nme' is not defined"
    )
    assert {p.source for p in probs} == {"pytest"}


def test_pytest_short_traceback(ws: Path) -> None:
    probs = parse_problems(load("pytest_short", ws), ws, "python -m pytest -q --tb=short")
    assert [(p.path, p.line) for p in probs] == [
        ("pkg/calc.py", 14),
        ("tests/test_calc.py", 5),
        ("tests/test_calc.py", 13),
        ("tests/test_calc.py", 17),
        ("tests/test_calc.py", 21),
    ]
    assert probs[1].message == "assert 4 == 5 (test_add)"


def test_pytest_tb_line_and_short_summary(ws: Path) -> None:
    probs = parse_problems(load("pytest_line", ws), ws, "pytest --tb=line")
    where = {(p.path, p.line): p.message for p in probs}
    # --tb=line prints absolute `path:line: message` lines ...
    assert where[("tests/test_calc.py", 5)] == "assert 4 == 5"
    assert where[("pkg/calc.py", 14)] == "NameError: name 'nme' is not defined"
    # ... and the FAILED summary is mapped to each test's `def` line.
    assert where[("tests/test_calc.py", 4)] == "test_add: assert 4 == 5"
    assert where[("tests/test_calc.py", 20)] == "test_helper: KeyError: 'missing'"


def test_pytest_collection_syntax_error(ws: Path) -> None:
    probs = parse_problems(load("pytest_collect_error", ws), ws, "pytest")
    # Frames inside the venv and <frozen …> are outside the workspace and dropped.
    assert probs == [
        Problem(
            path="tests/test_broken.py",
            line=2,
            column=1,
            severity="error",
            message="SyntaxError: '(' was never closed (collecting tests/test_broken.py)",
            source="pytest",
        )
    ]


def test_pytest_summary_only(ws: Path) -> None:
    out = "FAILED tests/test_calc.py::test_mean - assert 1.5 == 1.5\nERROR tests/test_calc.py::test_nope\n"
    probs = parse_problems(out, ws)
    assert rows(probs) == [
        ("tests/test_calc.py", 1, 1, "error", None),  # test_nope has no def: line 1
        ("tests/test_calc.py", 8, 1, "error", None),
    ]


def test_unittest_traceback(ws: Path) -> None:
    probs = parse_problems(load("unittest", ws), ws, "python -m unittest")
    assert [(p.path, p.line, p.message) for p in probs] == [
        ("pkg/calc.py", 14, "NameError: name 'nme' is not defined (test_greet)"),
        ("tests/test_unit.py", 8, "test_greet failed: NameError: name 'nme' is not defined"),
        ("tests/test_unit.py", 11, "AssertionError: 'A' != 'B' (test_upper)"),
    ]
    assert {p.source for p in probs} == {"unittest"}


# ---------------------------------------------------------------- Python linters and mypy


def test_ruff_concise(ws: Path) -> None:
    probs = parse_problems(load("ruff_concise", ws), ws)
    assert rows(probs) == [
        ("pkg/calc.py", 1, 8, "error", "F401"),
        ("pkg/calc.py", 2, 8, "error", "F401"),
        ("pkg/calc.py", 14, 23, "error", "F821"),
        ("pkg/extra.py", 4, 1, "error", "F821"),
        ("tests/test_broken.py", 2, 12, "error", "invalid-syntax"),
    ]
    assert probs[0].message == "`os` imported but unused"
    assert {p.source for p in probs} == {"ruff"}  # recognised without a command hint


def test_ruff_full_format(ws: Path) -> None:
    probs = parse_problems(load("ruff_full", ws), ws, "ruff check")
    assert rows(probs) == [
        ("pkg/calc.py", 1, 8, "error", "F401"),
        ("pkg/calc.py", 2, 8, "error", "F401"),
        ("pkg/calc.py", 14, 23, "error", "F821"),
        ("tests/test_broken.py", 2, 12, "error", "invalid-syntax"),
    ]
    assert probs[2].message == "Undefined name `nme`"
    assert probs[3].message == "Expected `)`, found newline"


def test_mypy(ws: Path) -> None:
    probs = parse_problems(load("mypy", ws), ws, "mypy pkg")
    assert rows(probs) == [
        ("pkg/calc.py", 10, 1, "error", "return-value"),
        ("pkg/calc.py", 14, 1, "error", "name-defined"),
        ("pkg/extra.py", 4, 1, "info", None),
        ("pkg/extra.py", 5, 1, "error", "arg-type"),
    ]
    assert probs[0].message == 'Incompatible return value type (got "float", expected "int")'
    assert {p.source for p in probs} == {"mypy"}


def test_mypy_columns_and_ends(ws: Path) -> None:
    probs = parse_problems(load("mypy_columns", ws), ws)
    nme = probs[1]
    # mypy's end column is inclusive ("nme" is 23..25); Problem.end_column is exclusive.
    assert (nme.line, nme.column, nme.end_line, nme.end_column) == (14, 23, 14, 26)
    assert nme.code == "name-defined" and nme.source == "mypy"
    assert [p.severity for p in probs] == ["error", "error", "info", "error"]


def test_flake8(ws: Path) -> None:
    probs = parse_problems(load("flake8", ws), ws, "flake8 pkg tests")
    assert rows(probs) == [
        ("pkg/calc.py", 1, 1, "error", "F401"),
        ("pkg/calc.py", 2, 1, "error", "F401"),
        ("pkg/calc.py", 14, 23, "error", "F821"),
        ("pkg/extra.py", 4, 1, "error", "F821"),
        ("tests/test_broken.py", 2, 10, "error", "E999"),
    ]
    assert {p.source for p in probs} == {"flake8"}


# ---------------------------------------------------------------- C, TypeScript, ESLint

GCC_ROWS = [
    ("src/main.c", 3, 15, "info", None),
    ("src/main.c", 6, 9, "warning", "-Wunused-variable"),
    ("src/main.c", 7, 11, "warning", "-Wunused-variable"),
    ("src/main.c", 7, 15, "warning", "-Wint-conversion"),
    ("src/main.c", 8, 26, "warning", "-Wint-conversion"),
    ("src/main.c", 9, 12, "error", None),
    ("src/main.c", 9, 12, "info", None),
]


def test_gcc(ws: Path) -> None:
    probs = parse_problems(load("gcc", ws), ws, "gcc -Wall -c src/main.c")
    assert rows(probs) == GCC_ROWS
    err = next(p for p in probs if p.severity == "error")
    assert err.message == "‘undefined_var’ undeclared (first use in this function)"
    assert {p.source for p in probs} == {"gcc"}


def test_gcc_colour_and_absolute_paths(ws: Path) -> None:
    raw = load("gcc_color_abs", ws)
    assert "\x1b[" in raw
    probs = parse_problems(raw, ws)
    assert rows(probs) == GCC_ROWS
    assert all("\x1b" not in p.message for p in probs)


def test_tsc_plain(ws: Path) -> None:
    probs = parse_problems(load("tsc7", ws), ws, "npx tsc -p .")
    assert rows(probs) == [
        ("web/app.ts", 5, 7, "error", "TS2322"),
        ("web/app.ts", 6, 8, "error", "TS2345"),
    ]
    assert probs[0].message == "Type 'number' is not assignable to type 'string'."


def test_tsc_pretty(ws: Path) -> None:
    probs = parse_problems(load("tsc5_pretty", ws), ws)
    assert rows(probs) == [
        ("web/app.ts", 5, 7, "error", "TS2322"),
        ("web/app.ts", 6, 8, "error", "TS2345"),
    ]
    assert {p.source for p in probs} == {"tsc"}


def test_tsc_elaboration_lines_join_the_message(ws: Path) -> None:
    # Hand-written from tsc's documented plain format: elaborations follow, indented.
    out = (
        "web/app.ts(5,7): error TS2322: Type '{ a: string; }' is not assignable to type 'T'.\n"
        "  Types of property 'a' are incompatible.\n"
        "    Type 'string' is not assignable to type 'number'.\n"
        "web/app.ts(6,8): error TS2345: Argument of type 'string' is not assignable.\n"
    )
    probs = parse_problems(out, ws)
    assert len(probs) == 2
    assert probs[0].message.splitlines() == [
        "Type '{ a: string; }' is not assignable to type 'T'.",
        "Types of property 'a' are incompatible.",
        "Type 'string' is not assignable to type 'number'.",
    ]


ESLINT_ROWS = [
    ("web/lint.js", 1, 7, "error", "no-unused-vars"),
    ("web/lint.js", 3, 10, "error", "no-undef"),
    ("web/lint.js", 3, 24, "warning", "semi"),
]


@pytest.mark.parametrize("fixture", ["eslint_stylish", "eslint_unix", "eslint_compact"])
def test_eslint_formats(ws: Path, fixture: str) -> None:
    probs = parse_problems(load(fixture, ws), ws, "npx eslint web")
    assert rows(probs) == ESLINT_ROWS
    assert probs[1].message.rstrip(".") == "'undeclared' is not defined"
    assert {p.source for p in probs} == {"eslint"}


# ---------------------------------------------------------------- generic and safety


def test_generic_path_line_col(ws: Path) -> None:
    out = "checking...\nweb/lint.js:2:5: something odd here\nweb/app.ts:3: warning: deprecated\n"
    probs = parse_problems(out, ws, "make check")
    assert [(p.path, p.line, p.column, p.severity, p.message) for p in probs] == [
        ("web/app.ts", 3, 1, "warning", "deprecated"),
        ("web/lint.js", 2, 5, "error", "something odd here"),
    ]


def test_paths_outside_the_workspace_are_dropped(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("x\n")
    evil = tmp_path / "ws-evil"  # shares the root's string prefix
    evil.mkdir()
    (evil / "a.py").write_text("x\n")
    (ws / "link").symlink_to(tmp_path)  # a symlink inside the workspace that points out
    lines = [
        f"{outside}:1:1: error: absolute, outside",
        "../outside.py:1:1: error: relative escape",
        f"{evil}/a.py:1:1: error: prefix trick",
        "ws/../ws-evil/a.py:1: error: dotdot",
        "link/outside.py:1:1: error: via symlink",
        "/etc/passwd:1:1: error: system file",
        "pkg/nope.py:3:1: error: file does not exist",
        "pkg/calc.py:3:1: error: this one is real",
    ]
    probs = parse_problems("\n".join(lines), ws)
    assert [(p.path, p.message) for p in probs] == [("pkg/calc.py", "this one is real")]


def test_dependency_directories_are_dropped(ws: Path) -> None:
    for rel in (".venv/lib/python3.11/site-packages/x.py", "node_modules/lib/index.js"):
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("x\n")
    out = (
        ".venv/lib/python3.11/site-packages/x.py:1: error: inside a venv\n"
        "node_modules/lib/index.js:1:1: error: inside node_modules\n"
    )
    assert parse_problems(out, ws) == []


def test_absolute_inside_root_becomes_relative(ws: Path) -> None:
    out = f"{ws / 'pkg' / 'calc.py'}:2:3: error: here  [misc]\n"
    assert rows(parse_problems(out, ws)) == [("pkg/calc.py", 2, 3, "error", "misc")]


def test_duplicates_are_removed(ws: Path) -> None:
    once = load("flake8", ws)
    assert parse_problems(once + once, ws) == parse_problems(once, ws)


def test_nothing_in_clean_or_empty_output(ws: Path) -> None:
    assert parse_problems("", ws) == []
    assert parse_problems("All checks passed!\n1 passed in 0.01s\n", ws) == []


def test_strip_ansi() -> None:
    assert strip_ansi("\x1b[01m\x1b[Ka.c:1:2:\x1b[m\x1b[K x") == "a.c:1:2: x"
    assert strip_ansi("\x1b]8;;http://x\x07link\x1b]8;;\x07") == "link"


@pytest.mark.parametrize(
    ("cmd", "hint"),
    [
        ("pytest -q", "pytest"),
        ("python -m mypy server", "mypy"),
        (".venv/bin/ruff check", "ruff"),
        ("npx tsc -p .", "tsc"),
        ("npm run eslint", "eslint"),
        ("", ""),
        ("echo 'unbalanced", "echo"),
    ],
)
def test_tool_hint(cmd: str, hint: str) -> None:
    assert tool_hint(cmd) == hint


def test_fixtures_hold_no_machine_paths() -> None:
    for f in FIXTURES.glob("*.txt"):
        text = f.read_text(encoding="utf-8")
        assert "/tmp/pfprobe" not in text, f.name
    assert os.access(FIXTURES / "capture.sh", os.X_OK)


_LINE = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda p, n, c, m: f"{p}:{n}:{c}: {m}",
        st.sampled_from(
            ["pkg/calc.py", "../x.py", "/etc/passwd", "web/app.ts", "nope.c", "<frozen>"]
        ),
        st.integers(-2, 10**6),
        st.integers(0, 500),
        st.text(max_size=40),
    ),
    st.sampled_from(
        ["=== FAILURES ===", "____ test_x ____", "E   ValueError: x", "  --> pkg/calc.py:1:1"]
    ),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_LINE, max_size=30))
def test_any_output_parses_into_workspace_problems_only(ws: Path, lines: list[str]) -> None:
    for p in parse_problems("\n".join(lines), ws):
        assert (ws / p.path).is_file()
        assert not p.path.startswith(("/", "..")) and "\\" not in p.path
        assert p.line >= 1 and p.column >= 1
        assert p.severity in ("error", "warning", "info")


def test_pytest_native_traceback(ws: Path) -> None:
    # Trimmed from real pytest 9.2.0 `--tb=native` output: the ~40 pytest/pluggy frames that
    # precede each test frame are cut (they lie outside the workspace and are dropped anyway).
    out = (
        "=================================== FAILURES ===================================\n"
        "___________________________________ test_add ___________________________________\n"
        "Traceback (most recent call last):\n"
        '  File "/work/main/.venv/lib/python3.11/site-packages/_pytest/runner.py", line 361, in from_call\n'
        "    result: TResult | None = func()\n"
        f'  File "{ws}/tests/test_calc.py", line 5, in test_add\n'
        "    assert add(2, 2) == 5\n"
        "AssertionError: assert 4 == 5\n"
        " +  where 4 = add(2, 2)\n"
        "__________________________________ test_greet __________________________________\n"
        "Traceback (most recent call last):\n"
        f'  File "{ws}/tests/test_calc.py", line 13, in test_greet\n'
        '    assert greet("bob") == "hello bob"\n'
        f'  File "{ws}/pkg/calc.py", line 14, in greet\n'
        '    return "hello " + nme\n'
        "NameError: name 'nme' is not defined\n"
        "=========================== short test summary info ============================\n"
        "FAILED tests/test_calc.py::test_add - assert 4 == 5\n"
        "FAILED tests/test_calc.py::test_greet - NameError: name 'nme' is not defined\n"
    )
    assert [(p.path, p.line, p.message) for p in parse_problems(out, ws, "pytest --tb=native")] == [
        ("pkg/calc.py", 14, "NameError: name 'nme' is not defined (test_greet)"),
        ("tests/test_calc.py", 5, "AssertionError: assert 4 == 5 (test_add)"),
        ("tests/test_calc.py", 13, "test_greet failed: NameError: name 'nme' is not defined"),
    ]
