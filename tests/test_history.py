"""The step history (plan/history.py, #32): one line appended per finished step, never the whole
file rewritten per step; the rows of the older history.json still count; a line a killed process
left half-written is skipped and does not swallow the next; old rows are dropped in one rewrite
at twice the rows kept; a FIFO or a link planted there never blocks nor is followed."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from planfirst.plan import history
from planfirst.plan.store import PlanStore


def _rows(n: int, start: int = 0) -> list[dict[str, object]]:
    return [{"plan": "p", "step": i, "attempts": 1} for i in range(start, start + n)]


def test_each_row_is_appended_to_the_same_file(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    rows = _rows(5)
    st.record_step(rows[0])
    st.settle()
    path = tmp_path / ".planfirst" / "history.jsonl"
    inode = path.stat().st_ino
    for row in rows[1:]:
        st.record_step(row)
    assert st.step_history() == rows
    assert path.stat().st_ino == inode  # appended, not replaced by a rewrite
    assert path.read_text().splitlines() == [json.dumps(r) for r in rows]
    assert PlanStore(tmp_path).step_history() == rows  # another process reads the same


def test_the_rows_of_the_older_history_json_come_first(tmp_path: Path) -> None:
    (tmp_path / ".planfirst").mkdir()
    old = _rows(3)
    (tmp_path / ".planfirst" / "history.json").write_text(json.dumps(old))
    st = PlanStore(tmp_path)
    new = _rows(2, start=3)
    for row in new:
        st.record_step(row)
    assert st.step_history() == old + new


def test_a_half_written_line_is_skipped_and_the_next_row_kept(tmp_path: Path) -> None:
    st = PlanStore(tmp_path)
    st.record_step(_rows(1)[0])
    st.settle()
    path = tmp_path / ".planfirst" / "history.jsonl"
    with open(path, "a") as f:
        f.write('{"plan": "p", "st')  # killed mid-write
    fresh = PlanStore(tmp_path)
    fresh.record_step({"plan": "p", "step": 9, "attempts": 2})
    assert fresh.step_history() == [*_rows(1), {"plan": "p", "step": 9, "attempts": 2}]


def test_old_rows_are_dropped_in_one_rewrite_at_twice_the_rows_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "KEEP", 4)
    st = PlanStore(tmp_path)
    rows = _rows(8)
    for row in rows:
        st.record_step(row)
    st.settle()
    path = tmp_path / ".planfirst" / "history.jsonl"
    assert len(path.read_text().splitlines()) == 8  # up to twice KEEP: appended only
    assert st.step_history() == rows[-4:]
    st.record_step(_rows(1, start=8)[0])
    st.settle()
    assert len(path.read_text().splitlines()) == 4  # rewritten to the newest KEEP
    assert st.step_history() == _rows(4, start=5)


def test_a_fifo_or_a_link_planted_as_the_history_never_blocks_nor_is_followed(
    tmp_path: Path,
) -> None:
    (tmp_path / ".planfirst").mkdir()
    path = tmp_path / ".planfirst" / "history.jsonl"
    os.mkfifo(path)
    done = threading.Event()

    def use() -> None:
        st = PlanStore(tmp_path)
        assert st.step_history() == []
        st.record_step(_rows(1)[0])  # refused (logged), never blocking
        assert st.step_history() == []
        done.set()

    worker = threading.Thread(target=use, daemon=True)
    worker.start()
    assert done.wait(10), "the step history blocked on a FIFO"
    path.unlink()
    outside = tmp_path / "outside.txt"
    outside.write_text("mine\n")
    path.symlink_to(outside)
    st = PlanStore(tmp_path)
    st.record_step(_rows(1)[0])
    assert st.step_history() == []
    assert outside.read_text() == "mine\n"  # never written through the link
