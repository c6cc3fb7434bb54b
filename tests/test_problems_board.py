"""The problems board (core/problems/board.py): the one place that changes what is published."""

from __future__ import annotations

from planfirst.core.problems.base import Problem
from planfirst.core.problems.board import ProblemsBoard


def _problem(path: str, line: int) -> Problem:
    return Problem(path=path, line=line, message=f"boom at {line}")


def test_showing_new_problems_clears_the_paths_that_have_none_now() -> None:
    sent: list[dict[str, list[Problem]]] = []
    board = ProblemsBoard(sent.append)
    a, b = _problem("a.py", 1), _problem("b.py", 2)
    board.show({"a.py": [a], "b.py": [b]})
    board.show({"b.py": [b]})
    board.show({})
    assert sent == [{"a.py": [a], "b.py": [b]}, {"a.py": [], "b.py": [b]}, {"b.py": []}]
    assert board.count() == 0 and board.shown() == {}


def test_count_and_shown_follow_the_last_show_and_are_copies() -> None:
    board = ProblemsBoard(lambda _: None)
    given = {"a.py": [_problem("a.py", 1), _problem("a.py", 3)], "c.py": [_problem("c.py", 9)]}
    board.show(given)
    given["a.py"].clear()  # the caller's dict is not the board's
    assert board.count() == 3
    copy = board.shown()
    copy["c.py"].clear()
    assert board.count() == 3 and len(board.shown()["c.py"]) == 1
