"""Which planfirst process works on a plan now, and which plan an ACP session works on
(`.planfirst/running/<plan id>`, `.planfirst/sessions/<session id>`; split from plan/store.py).

Claims: "<pid> <token>" and what it does, so two faces on one workspace (the editor and
`planfirst resume` in a terminal) never run the same plan at once: the second is refused, never
recovers the first one's running step as if its server had died. A holder whose process is gone
is stale (#29).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from planfirst.plan.files import PLAN_ID, OwnFiles, StoreError, UnknownPlan, alive


class Claims(OwnFiles):
    """The claim and session-binding files of a PlanStore (its mixin)."""

    dir: Path

    if TYPE_CHECKING:  # PlanStore's

        def _plan_dir(self, plan_id: str) -> Path: ...

        def exists(self, plan_id: str) -> bool: ...

    def _claim_file(self, plan_id: str) -> Path:
        self._plan_dir(plan_id)  # a valid id
        return self.dir / "running" / plan_id

    def claim(self, plan_id: str, owner: str, what: str) -> str | None:
        """Mark `plan_id` as worked on by `owner` (a session's "<pid> <token>"); None when it is
        claimed now, else what the live process that holds it said it is doing."""
        path = self._claim_file(plan_id)
        for _ in range(3):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.check(path)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            except FileExistsError:
                held = self.claimed(plan_id)
                if held is not None and held[0] != owner:
                    return held[1]
                with contextlib.suppress(OSError):  # stale (or ours): take it over
                    path.unlink()
                continue
            except (OSError, StoreError):  # cannot mark it (read-only, a link): as before claims
                return None
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(f"{owner}\n{what[:200]}\n")
            return None
        return "working on it"

    def claimed(self, plan_id: str) -> tuple[str, str] | None:
        """(owner, what it does) of the live process that works on `plan_id`, if any."""
        try:
            text = self.read_file(self._claim_file(plan_id), 4096)
        except (OSError, StoreError):
            return None
        owner, _, what = text.partition("\n")
        try:
            live = alive(int(owner.split()[0]))
        except (ValueError, IndexError):
            return None
        return (owner.strip(), what.strip() or "working on it") if live else None

    def release(self, plan_id: str, owner: str) -> None:
        """Give up `owner`'s claim on `plan_id` (nothing when another process holds it)."""
        held = self.claimed(plan_id)
        if held is not None and held[0] == owner:
            with contextlib.suppress(OSError):
                self._claim_file(plan_id).unlink()

    # ACP sessions (server/planfirst/acp): which plan a client's session id works on, so a
    # restarted agent can answer `session/load` for a session the client remembers.

    def _session_file(self, session_id: str) -> Path:
        if not isinstance(session_id, str) or not PLAN_ID.match(session_id):
            raise UnknownPlan(f"{str(session_id)[:100]!r} is not a valid session id")
        return self.dir / "sessions" / session_id

    def bind_session(self, session_id: str, plan_id: str) -> None:
        """Remember that the ACP session `session_id` works on `plan_id`."""
        self._plan_dir(plan_id)
        self.write_file(self._session_file(session_id), plan_id + "\n", durable=True)

    def session_plan(self, session_id: str) -> str | None:
        """The plan an ACP session works on, if it is known and the plan still exists."""
        try:
            pid = self.read_file(self._session_file(session_id), 4096).strip()
        except (OSError, StoreError):
            return None
        return pid if self.exists(pid) else None
