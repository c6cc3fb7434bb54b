"""What past steps needed, for the cost estimator (core/workflow/budget.py): one JSON line per
finished step in `.planfirst/history.jsonl` (split from plan/store.py, #32).

A step's row is appended (one write, no rename): rewriting the whole file after every step — it
keeps up to 500 rows — was a tenth of a step's own time. The file is rewritten (atomically) only
to drop old rows, when it holds twice the rows kept. A line a killed process left half-written
does not parse and is skipped, and the next row starts on a line of its own. Rows recorded in
`.planfirst/history.json` (the format before) are read first. Two servers on one workspace may
lose a row to each other's compaction: these are statistics, not the plan.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from planfirst.plan.files import OwnFiles, StoreError

log = logging.getLogger("planfirst")
KEEP = 500  # rows kept
# a row is about 200 bytes, the file about 2 * KEEP rows: a larger file was not written by
# planfirst and is not read (a shipped 64 MB file of empty rows took seconds and gigabytes);
# the next row rewrites it
MAX_BYTES = 8 << 20
SCAN = 4 * KEEP  # lines parsed at most, from the newest (a file written here holds 2 * KEEP)


def _parse(text: str) -> Any:
    """A line's (or the legacy file's) JSON; None when it is none (half-written by a killed
    process) or one that cannot be read (deep nesting, a 5,000-digit integer)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


class StepHistory:
    """The step history of one workspace; called on the store's background writer (record) or
    after it settled (rows)."""

    def __init__(self, files: OwnFiles, directory: Path) -> None:
        self._files = files
        self.path = directory / "history.jsonl"
        self._legacy = directory / "history.json"
        self._lines: int | None = None  # lines in the file as this process last counted them

    def rows(self) -> list[dict[str, Any]]:
        """Recorded finished steps, oldest first, the newest KEEP (unreadable files read as
        none). Only the newest rows are parsed: the file is read for every estimate."""
        rows = self._read_legacy()
        try:
            text = self._files.read_file(self._files.check(self.path), MAX_BYTES)
        except FileNotFoundError:
            text = ""
        except (OSError, StoreError):
            # over MAX_BYTES (a repository may ship one to slow every estimate down), or not a
            # file planfirst reads: the next row rewrites it, if it may be written (write_file)
            self._lines = 2 * KEEP
            return rows[-KEEP:]
        self._lines = text.count("\n") + (not text.endswith("\n") and bool(text))
        newest: list[dict[str, Any]] = []
        end = len(text) - text.endswith("\n")  # just past the newest line's text
        for _ in range(SCAN):  # from the newest line back, at most SCAN lines
            if len(newest) >= KEEP or end < 0:
                break
            start = text.rfind("\n", 0, end) + 1
            row = _parse(text[start:end])
            if isinstance(row, dict):
                newest.append(row)
            end = start - 1
        return [*rows, *reversed(newest)][-KEEP:]

    def _read_legacy(self) -> list[dict[str, Any]]:
        try:
            text = self._files.read_file(self._files.check(self._legacy), MAX_BYTES)
        except (OSError, StoreError):
            return []
        rows = _parse(text)
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def record(self, row: dict[str, Any]) -> None:
        """Append one row (a failure is logged, not raised)."""
        try:
            if self._lines is None:
                self.rows()  # counts the lines (and checks the file can be read)
            if self._lines is not None and self._lines >= 2 * KEEP:
                rows = [*self.rows(), row][-KEEP:]
                self._files.write_file(self.path, "".join(json.dumps(r) + "\n" for r in rows))
                self._lines = len(rows)
                return
            self._files.append_line(self.path, json.dumps(row))
            self._lines = (self._lines or 0) + 1
        except (OSError, StoreError) as e:
            log.warning("planfirst: cannot record the step in %s: %s", self.path, e)
