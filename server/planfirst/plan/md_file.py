"""plan.md, the rendering of plan.json beside it (split from plan/store.py): written once per
visible change (atomic, not fsynced: it is derived), after a step's last save on the background
writer (#32), and never over a hand edit not reloaded yet, which is kept beside it first
(plan/hand_edit.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from planfirst.plan import hand_edit
from planfirst.plan.files import MAX_MD_BYTES, OwnFiles, StoreError, UnknownPlan
from planfirst.plan.held import HeldPlans, stamp_of
from planfirst.plan.model import Plan
from planfirst.plan.render import Rendered
from planfirst.plan.writer import Writer

log = logging.getLogger("planfirst")
MD_KEY = "/md"  # suffix of the writer's key for a plan's plan.md (written after its plan.json)


def md_key(plan_id: str) -> str:
    """The writer's key of a plan's plan.md: a step answers once its plan.json is written,
    without waiting for its rendering (#32); whatever reads or writes plan.md waits for it."""
    return plan_id + MD_KEY


class MarkdownFile(OwnFiles):
    """A PlanStore's plan.md handling (its mixin)."""

    _writer: Writer
    _held: HeldPlans
    _md: dict[str, str]  # plan id -> markdown last written
    _md_stale: set[str]  # plans saved without writing their markdown yet
    _md_base: dict[str, Plan | None]  # plan id -> the plan before the first save since
    # called on the writer's thread when a background plan.md write left plan.md to flush_md
    # (a hand edit to keep beside it, a refused path): the owner runs flush_md, which says so
    md_left: Callable[[str], None] | None = None

    if TYPE_CHECKING:  # PlanStore's

        def plan_json(self, plan_id: str) -> Path: ...

        def plan_md(self, plan_id: str) -> Path: ...

        def save(self, plan: Plan) -> None: ...

    def _md_after(self, plan_id: str, text: str, rendered: Rendered) -> None:
        """On the writer, after plan.json: keep `rendered` for that version and write plan.md
        (a failure is logged and left to the next flush_md: plan.json is saved). A hand edit of
        plan.md is left to flush_md, which keeps it beside and says so."""
        held = self._held.fresh(plan_id, stamp_of(self.plan_json(plan_id)))
        if held is None or held.json != text:  # replaced meanwhile: its writer renders it
            return
        held.keep_rendering(rendered)
        try:
            md = self.check(self.plan_md(plan_id))
            if self._md.get(plan_id) == rendered.text and md.exists():
                self._md_stale.discard(plan_id)
                self._md_base.pop(plan_id, None)
                return
            base = self._md_base.get(plan_id)
            if self._hand_edit(
                plan_id, md, rendered.text, lambda: [held.view(), *([base] if base else [])]
            ):
                self._left_to_flush(plan_id)  # flush_md keeps it beside plan.md
                return
            self._md_stale.discard(plan_id)
            self._md_base.pop(plan_id, None)
            self.write_file(md, rendered.text)
            self._md[plan_id] = rendered.text
        except (OSError, StoreError) as e:
            self._md_stale.add(plan_id)
            log.warning("planfirst: cannot write plan.md of %s: %s", plan_id, e)
            self._left_to_flush(plan_id)

    def _left_to_flush(self, plan_id: str) -> None:
        if self.md_left is not None:
            try:
                self.md_left(plan_id)
            except RuntimeError:  # the owner's event loop is gone: the next flush_md says it
                pass

    def md_later(self, plan_id: str) -> None:
        """plan.md of the plan as last saved, rendered and written on the background writer
        after its plan.json: a step's last save answers meanwhile (#32). A hand edit it would
        replace, or a path it may not write, is left to flush_md (`md_left`)."""

        def job() -> None:
            try:
                path = self.check(self.plan_json(plan_id))
            except StoreError:
                return
            held = self._held.fresh(plan_id, stamp_of(path))
            if held is not None:  # else replaced meanwhile: whoever replaced it renders it
                self._md_after(plan_id, held.json, held.rendered())

        self._writer.then(plan_id, job, as_key=md_key(plan_id))

    def flush_md(self, plan_id: str) -> Path | None:
        """Write plan.md if the plan was saved since it was last written and its text changed
        (atomic but not fsynced: it is derived from plan.json). A hand edit of plan.md not
        reloaded yet is kept beside it first (plan/hand_edit.py): returns where, else None."""
        self._writer.settle(plan_id)
        self._writer.settle(md_key(plan_id))
        if plan_id not in self._md_stale:
            return None
        self._md_stale.discard(plan_id)
        base = self._md_base.pop(plan_id, None)
        held = self._held.fresh(plan_id, stamp_of(self.check(self.plan_json(plan_id))))
        if held is None:  # plan.json was replaced since we saved it: its writer renders it
            return None
        md = self.check(self.plan_md(plan_id))
        text = held.rendered().text
        if self._md.get(plan_id) == text and md.exists():
            return None
        kept = self._keep_hand_edit(
            plan_id, md, text, lambda: [held.view(), *([base] if base else [])]
        )
        self.write_file(md, text)
        self._md[plan_id] = text
        return kept

    def show_md(self, plan: Plan) -> None:
        """Make plan.md exist and show `plan` (what a client without `planfirst:` documents
        opens). Showing a plan changes nothing: a hand edit not reloaded yet stays as it is; a
        plan this store cannot hold in memory (a foreign one) is saved, as before."""
        self._writer.settle(plan.id)
        self._writer.settle(md_key(plan.id))
        path = self.check(self.plan_json(plan.id))
        held = self._held.fresh(plan.id, stamp_of(path))
        if held is None:
            self.save(plan)
            return
        md = self.check(self.plan_md(plan.id))
        text = held.rendered().text
        try:
            disk: str | None = self.read_file(md, MAX_MD_BYTES)
        except (OSError, StoreError):
            disk = None
        if disk == text or (
            disk is not None
            and hand_edit.is_hand_edit(disk, self._md.get(plan.id), lambda: [held.view()])
        ):
            return
        self.write_file(md, text)
        self._md[plan.id] = text

    def _hand_edit(
        self, plan_id: str, md: Path, text: str, plans: Callable[[], list[Plan]]
    ) -> str | None:
        """plan.md's text when it is a hand edit `text` would replace, else None."""
        try:
            disk = self.read_file(md, MAX_MD_BYTES)
        except (OSError, StoreError):  # absent, or not a file planfirst reads: as before
            return None
        if disk == text or not hand_edit.is_hand_edit(disk, self._md.get(plan_id), plans):
            return None
        return disk

    def _keep_hand_edit(
        self, plan_id: str, md: Path, text: str, plans: Callable[[], list[Plan]]
    ) -> Path | None:
        """Keep plan.md's text beside it when it is a hand edit `text` is about to replace."""
        disk = self._hand_edit(plan_id, md, text, plans)
        if disk is None:
            return None

        def read(path: Path) -> str | None:
            try:
                return self.read_file(path, MAX_MD_BYTES)
            except (OSError, StoreError):
                return None

        return self.write_file(hand_edit.aside_path(md, disk, read), disk)

    def written_here(self, plan_id: str) -> bool:
        """Whether plan.json is the file this store last wrote or read (no one else's since)."""
        try:
            path = self.check(self.plan_json(plan_id))
        except (StoreError, UnknownPlan):
            return False
        return self._held.fresh(plan_id, stamp_of(path)) is not None

    def stale_md(self) -> set[str]:
        """Plans whose plan.md waits for `flush_md`."""
        self._writer.settle()
        return set(self._md_stale)
