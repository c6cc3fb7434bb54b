"""Work-done progress reports (lsp/host.py LspProgress, #32): reports closer than 50 ms are
coalesced — the last one is sent when the gap is over, never lost — the end drops one still
waiting, and every report carries a percentage."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from planfirst.lsp import host
from tests.support.waiting import wait_until


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def report(self, token: str, value: Any) -> None:
        self.sent.append(("report", value))

    def end(self, token: str, value: Any) -> None:
        self.sent.append(("end", value))


def _progress() -> tuple[host.LspProgress, Recorder]:
    rec = Recorder()
    ls = SimpleNamespace(work_done_progress=rec)
    p = host.LspProgress(ls, "Executing")  # type: ignore[arg-type]
    p.token = "t"  # begun
    return p, rec


def _messages(rec: Recorder) -> list[tuple[str, str | None, int | None]]:
    return [(kind, v.message, getattr(v, "percentage", None)) for kind, v in rec.sent]


async def test_reports_within_the_gap_send_only_the_last_once_the_gap_is_over() -> None:
    p, rec = _progress()
    p.report("reading the files", 10)
    p.report("asking the model", 10)
    p.report("waiting for you to review the edit", 20)
    assert _messages(rec) == [("report", "reading the files", 10)]
    await wait_until(lambda: len(rec.sent) == 2, 10, "the report held back for the gap")
    assert _messages(rec) == [
        ("report", "reading the files", 10),
        ("report", "waiting for you to review the edit", 20),
    ]
    await asyncio.sleep(host.REPORT_GAP_S * 2)  # the gap itself is what is tested
    p.report("validating")  # past the gap: at once, with the last percentage
    assert _messages(rec)[-1] == ("report", "validating", 20)


async def test_the_end_drops_a_report_still_waiting_and_is_always_sent() -> None:
    p, rec = _progress()
    p.report("reading the files", 0)
    p.report("asking the model", 0)
    p.end("step 1 done")
    await asyncio.sleep(host.REPORT_GAP_S * 2)
    assert _messages(rec) == [("report", "reading the files", 0), ("end", "step 1 done", None)]


def test_without_an_event_loop_a_report_is_sent_at_once() -> None:
    p, rec = _progress()
    p.report("one", 0)
    p.report("two", 0)
    assert [m for _k, m, _p in _messages(rec)] == ["one", "two"]


async def test_a_report_held_back_is_sent_before_the_server_waits_for_the_user() -> None:
    p, rec = _progress()
    p.report("reading the files", 10)
    p.report("waiting for you to review the edit", 20)
    host.flush_progress()  # what apply_change and confirm do before they ask
    assert _messages(rec)[-1] == ("report", "waiting for you to review the edit", 20)
    await asyncio.sleep(host.REPORT_GAP_S * 2)
    assert len(rec.sent) == 2  # not sent twice


async def test_a_report_sent_after_a_blocked_loop_is_not_followed_by_an_older_one() -> None:
    # rt3: a report held for the gap, then the loop is busy past the gap (synchronous work in
    # the same task) and a newer report goes out at once: the held, older one must not follow
    import time

    p, rec = _progress()
    p.report("reading the files", 10)
    p.report("asking the model", 10)  # held for the gap
    time.sleep(host.REPORT_GAP_S * 2)  # noqa: ASYNC251 (the loop blocked on purpose: its timer cannot run)
    p.report("applying the edit", 30)  # past the gap: at once
    await asyncio.sleep(host.REPORT_GAP_S * 2)
    assert _messages(rec)[-1] == ("report", "applying the edit", 30), _messages(rec)
