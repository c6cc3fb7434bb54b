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
        none)."""
        rows = self._read_legacy()
        try:
            text = self._files.read_file(self._files.check(self.path))
        except (OSError, StoreError):
            text = ""
        lines = text.splitlines()
        self._lines = len(lines)
        for line in lines:
            try:
                row = json.loads(line)
            except ValueError:  # a line a killed process left half-written
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows[-KEEP:]

    def _read_legacy(self) -> list[dict[str, Any]]:
        try:
            rows = json.loads(self._files.read_file(self._files.check(self._legacy)))
        except (OSError, StoreError, ValueError):
            return []
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
