"""Red-team (#32): a `.planfirst/history.jsonl` or `history.json` a repository ships is
statistics for estimates: however hostile, it never raises out of the store nor out of its
background writer, and reading it stays cheap (it is read for every estimate)."""

from __future__ import annotations

import time
from pathlib import Path

from planfirst.plan.store import PlanStore

DEEP = "[" * 100_000 + "]" * 100_000


def test_a_deeply_nested_line_is_skipped(tmp_path: Path) -> None:
    (tmp_path / ".planfirst").mkdir()
    path = tmp_path / ".planfirst" / "history.jsonl"
    path.write_text('{"plan": "p", "step": 1, "attempts": 2}\n' + DEEP + "\n")
    st = PlanStore(tmp_path)
    assert st.step_history() == [{"plan": "p", "step": 1, "attempts": 2}]
    st.record_step({"plan": "p", "step": 2, "attempts": 1})
    st.settle()  # the writer's job did not fail
    assert st.step_history()[-1] == {"plan": "p", "step": 2, "attempts": 1}


def test_a_deeply_nested_legacy_history_reads_as_none(tmp_path: Path) -> None:
    (tmp_path / ".planfirst").mkdir()
    (tmp_path / ".planfirst" / "history.json").write_text(DEEP)
    st = PlanStore(tmp_path)
    assert st.step_history() == []
    st.record_step({"plan": "p", "step": 2, "attempts": 1})
    st.settle()
    assert st.step_history() == [{"plan": "p", "step": 2, "attempts": 1}]


def test_a_huge_shipped_history_is_not_parsed_whole(tmp_path: Path) -> None:
    # 24 MB of empty rows (under the 64 MB plan-file limit) was 8M dicts built on every
    # estimate: seconds and gigabytes, from a file any repository can ship
    (tmp_path / ".planfirst").mkdir()
    path = tmp_path / ".planfirst" / "history.jsonl"
    path.write_bytes(b"{}\n" * 8_000_000)
    st = PlanStore(tmp_path)
    t0 = time.perf_counter()
    st.step_history()
    assert time.perf_counter() - t0 < 1.0
    st.record_step({"plan": "p", "step": 1, "attempts": 2})
    st.settle()
    assert path.stat().st_size < 1 << 20  # the next step's row rewrote it small
    assert st.step_history()[-1] == {"plan": "p", "step": 1, "attempts": 2}
