"""The plans a PlanStore last wrote or read, kept in memory (#32).

A step saves its plan several times and the faces read it many more (code lenses, the plan
document, its diagnostics, the status bar). Re-reading plan.json means parsing it, validating it
and checking its seal each time, and rendering it for every reader. So the store keeps, per plan,
the JSON it last wrote (or read and trusted) with the file's stamp — modification and change
times in nanoseconds, size and inode — and answers from memory while the file on disk still
carries that stamp. Every write replaces the file by rename, so a write by anyone else (another
editor's server, a hand edit, a `git checkout`) gives it a new inode and a new stamp: the next
read goes back to the disk and checks the seal as before.

What the store hands out:
- a private copy (`Held.copy`) to callers that change the plan and save it;
- one shared, validated plan (`Held.view`) and its rendering (`Held.rendered`) to readers, which
  must not change it; each is made at most once per version of the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from planfirst.plan.model import Plan
from planfirst.plan.render import Rendered, render

Stamp = tuple[int, int, int, int]  # (st_mtime_ns, st_ctime_ns, st_size, st_ino)


def stamp_of(path: Path) -> Stamp | None:
    """The file's stamp, or None when it cannot be stat'ed (missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


@dataclass
class Held:
    """One plan as it is on disk: its stamp and its JSON (without the seal)."""

    stamp: Stamp
    json: str
    _view: Plan | None = field(default=None, repr=False)
    _rendered: Rendered | None = field(default=None, repr=False)

    def copy(self) -> Plan:
        """A plan of its own for a caller that may change it."""
        return Plan.model_validate_json(self.json)

    def view(self) -> Plan:
        """The shared plan for readers (never change it)."""
        if self._view is None:
            self._view = self.copy()
        return self._view

    def keep_view(self, plan: Plan) -> None:
        """Make `plan` (equal to this version, and nobody else's) the shared one."""
        self._view = plan

    def keep_rendering(self, rendered: Rendered) -> None:
        """Keep the rendering the writer made of exactly this version."""
        self._rendered = rendered

    def rendered(self) -> Rendered:
        """The shared rendering of the plan (made once per version)."""
        if self._rendered is None:
            self._rendered = render(self.view())
        return self._rendered


class HeldPlans:
    """Held plans by id; an entry counts only while the file still has its stamp."""

    def __init__(self) -> None:
        self._by_id: dict[str, Held] = {}

    def fresh(self, plan_id: str, stamp: Stamp | None) -> Held | None:
        """The held plan when the file on disk is still the one it was taken from."""
        held = self._by_id.get(plan_id)
        if held is None or stamp is None or held.stamp != stamp:
            return None
        return held

    def put(self, plan_id: str, stamp: Stamp | None, json: str) -> Held | None:
        """Remember the plan as written (or read) with the file's stamp."""
        if stamp is None:
            self._by_id.pop(plan_id, None)
            return None
        held = self._by_id[plan_id] = Held(stamp, json)
        return held

    def drop(self, plan_id: str) -> None:
        """Forget a plan (the next read goes to the disk)."""
        self._by_id.pop(plan_id, None)
