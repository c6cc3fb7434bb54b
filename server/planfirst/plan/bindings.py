"""PlanStore's records of who works on what (split from plan/store.py): the claim of
`.planfirst/running/<plan id>` (plan/claims.py: which planfirst process works on a plan now, so
two faces on one workspace never run the same plan at once) and the ACP session bindings of
`.planfirst/sessions/<session id>` (which plan a client's session works on, so a restarted
agent can answer `session/load` for a session the client remembers)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from planfirst.plan import claims
from planfirst.plan.files import PLAN_ID, OwnFiles, StoreError, UnknownPlan

log = logging.getLogger("planfirst")


class Bindings(OwnFiles):
    """The claim and session-binding files of a PlanStore (its mixin)."""

    dir: Path

    if TYPE_CHECKING:  # PlanStore's

        def _plan_dir(self, plan_id: str) -> Path: ...

        def exists(self, plan_id: str) -> bool: ...

    def _claim_file(self, plan_id: str) -> Path:
        self._plan_dir(plan_id)  # a valid id
        return self.dir / "running" / plan_id

    def claim(self, plan_id: str, owner: str, what: str) -> str | None:
        """Mark `plan_id` as worked on by `owner` (a session's "<pid> <token> <start>"); None
        when it is claimed now, else what the live process that holds it said it is doing.
        StoreError when something that is not a claim is in the way (a directory, a link on the
        way)."""
        path = self._claim_file(plan_id)
        try:
            return claims.claim(path, owner, what, self.check)
        except claims.ClaimError as e:
            raise StoreError(str(e)) from None
        except OSError as e:  # cannot mark it (a read-only workspace): work without a claim
            log.info("planfirst: cannot claim %s: %s", path, e)
            return None

    def claimed(self, plan_id: str) -> tuple[str, str] | None:
        """(owner, what it does) of the live process that works on `plan_id`, if any."""
        path = self._claim_file(plan_id)
        try:
            self.check(path.parent)  # never read through a planted link
        except StoreError:
            return None
        return claims.holder(path)

    def release(self, plan_id: str, owner: str) -> None:
        """Give up `owner`'s claim on `plan_id` (nothing when another process holds it)."""
        claims.release(self._claim_file(plan_id), owner)

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
