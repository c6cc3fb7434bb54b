"""The only writer under `.planfirst/` and the plans folder: plans, revisions, rendered markdown,
preview diffs, the active pointer.

Layout: `.planfirst/plans/<id>/plan.json` (+ `plan.md`, + `revisions/<n>.json`), `.planfirst/active`.
Every write is atomic and every path checked (no link on the way, no FIFO: cases 30 and 36) by
the helpers in plan/files.py (`PlanStore.write_file`, `PlanStore.read_file`); the claims of
`.planfirst/running/` and the ACP session bindings are in plan/bindings.py. Both are part of
this class's API.

Every plan file the store writes is sealed (plan/origin.py); one without a valid seal loads as a
foreign draft (plan/trusted.py): a repository cannot ship an approved plan or a step history to
replay (docs/reliability.md case 24).
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planfirst.plan import origin
from planfirst.plan.bindings import Bindings
from planfirst.plan.files import (  # re-exported: callers import them from here
    MAX_FILE_BYTES,
    MAX_MD_BYTES,
    PLAN_ID,
    TEMP_SUFFIX,
    OwnFiles,
    StoreError,
    UnknownPlan,
    atomic_write,
    fsync_dir,
    remove_orphaned_temps,
)
from planfirst.plan.held import Held, HeldPlans, stamp_of
from planfirst.plan.history import StepHistory
from planfirst.plan.md_file import MarkdownFile, md_key
from planfirst.plan.model import Plan, now_iso
from planfirst.plan.portable import scrub
from planfirst.plan.render import Rendered, render
from planfirst.plan.trusted import foreign, parse
from planfirst.plan.writer import Writer

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_MD_BYTES",
    "PLAN_ID",
    "TEMP_SUFFIX",
    "OwnFiles",
    "PlanProblem",
    "PlanStore",
    "StoreError",
    "UnknownPlan",
    "atomic_write",
    "foreign",
    "fsync_dir",
    "new_plan_id",
    "remove_orphaned_temps",
]
_HISTORY = "/history"  # the writer's key for the step history (never a plan id)
_DIR = "/dir"  # suffix of the writer's key for a plan directory's deferred fsync
log = logging.getLogger("planfirst")


@dataclass
class PlanProblem:
    """A plan directory that could not be loaded (reported, never overwritten)."""

    plan_id: str
    path: Path
    error: str


def new_plan_id(title: str) -> str:
    """A readable, unique, filesystem-safe id: a slug of the title plus a random suffix."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "plan"
    return f"{slug}-{secrets.token_hex(3)}"


class PlanStore(MarkdownFile, Bindings, OwnFiles):
    """Plans of one workspace, kept under `<root>/.planfirst/`."""

    def __init__(self, root: Path, plans_dir: str = ".planfirst/plans") -> None:
        self.root = Path(root)
        self.dir = self.root / ".planfirst"
        # the setting `plansDir` (workspace-relative, checked by settings.check_plans_dir)
        self.plans_dir = self.root / plans_dir
        self._held = HeldPlans()  # what we last wrote or read, while the file still has it (#32)
        self._md: dict[str, str] = {}  # plan id -> markdown last written
        self._md_stale: set[str] = set()  # plans saved without writing their markdown yet
        # plan id -> the plan as it was before the first save since plan.md was last written
        # (plan/hand_edit.py: plan.md rendered from it is planfirst's text, not a hand edit)
        self._md_base: dict[str, Plan | None] = {}
        self._writer = Writer()  # writes nobody waits for, in order (plan/writer.py)
        self._swept: set[str] = set()  # plan ids whose directory was cleaned of orphaned temps
        self._history = StepHistory(self, self.dir)

    def _plan_dir(self, plan_id: str) -> Path:
        if not isinstance(plan_id, str) or not PLAN_ID.match(plan_id):
            raise UnknownPlan(f"{plan_id!r} is not a valid plan id")
        return self.plans_dir / plan_id

    def plan_json(self, plan_id: str) -> Path:
        """Path of the plan's JSON file."""
        return self._plan_dir(plan_id) / "plan.json"

    def plan_md(self, plan_id: str) -> Path:
        """Path of the plan's rendered markdown."""
        return self._plan_dir(plan_id) / "plan.md"

    def settle(self, plan_id: str | None = None) -> None:
        """Wait for the queued writes of a plan (None: of every file, directory fsyncs too); a
        failed one raises."""
        if plan_id is None:
            self._writer.settle()
        else:
            self._writer.settle(plan_id)

    def settle_durable(self, plan_id: str) -> None:
        """Wait for the durable saves of a plan left to the background writer, and for the
        directory fsyncs of the ones made in place."""
        self._writer.settle(plan_id)
        self._writer.settle(plan_id + _DIR)

    def exists(self, plan_id: str) -> bool:
        """Whether a plan with this id has been saved."""
        self._writer.settle(plan_id)
        try:
            return self.check(self.plan_json(plan_id)).exists()
        except StoreError:
            return False

    def save(
        self,
        plan: Plan,
        *,
        durable: bool = True,
        render_md: bool = True,
        wait: bool = True,
        sync_dir_later: bool = False,
    ) -> None:
        """Persist the plan atomically (and its markdown beside it).

        `durable`: fsync the file and its directory, for the transitions a power loss must not
        undo (an edit applied, a step done or failed, an undo, a new plan or revision). Without
        it the write is still atomic — a killed process leaves the old file or the new one — and
        it reaches the disk with the kernel's next writeback. `render_md` False leaves plan.md to
        `flush_md` (the session renders it once per visible change, not per transition). `wait`
        False returns once the plan is serialised and leaves the file work to the background
        writer (plan/writer.py); every later access to the plan waits for it. `sync_dir_later`
        (a durable save inside an operation): the data is fsynced and renamed now, the
        directory's fsync runs on the background writer until `settle_durable` (before the
        operation answers, before validation).
        """
        self._writer.settle(plan.id)
        self._writer.settle(md_key(plan.id))  # its plan.md bookkeeping is this thread's again
        plan.provenance.updated_at = now_iso()
        scrub(plan, self.root)  # no absolute path or user name in a file you may commit
        path = self.check(self.plan_json(plan.id))
        stamp = stamp_of(path)
        before = self._held.fresh(plan.id, stamp) if stamp is not None else None
        base: Plan | None = None
        if stamp is not None and before is None:
            # never silently replace a file we could not read (it may be the user's only copy);
            # a file this store wrote or read last and nobody touched since needs no second look
            base = self._load_path(plan.id, path)
        elif before is not None and plan.id not in self._md_base:
            # the plan before the first save since plan.md was written (its hand-edit check):
            # parsed only when it is kept, not at every save (#32); no writer job of this plan
            # runs now (settled above), so the entry cannot go meanwhile
            base = before.view()
        self._md_base.setdefault(plan.id, base)
        if plan.id not in self._swept:  # once per plan and process: a killed writer's leftovers
            self._swept.add(plan.id)
            remove_orphaned_temps(path.parent)
            remove_orphaned_temps(path.parent / "revisions")
        text = plan.model_dump_json(indent=2)  # the seal covers this text (#32)
        version = (plan.revision, plan.provenance.updated_at)
        self._held.drop(plan.id)  # until the write is done, the disk is the truth
        if not wait:
            self._writer.later(
                plan.id,
                lambda: self._write_plan(plan.id, path, text, version, durable, background=True),
            )
            if render_md:  # rendered here while the writer writes; plan.md follows plan.json,
                # under its own key: settle(plan.id) does not wait for it (#32)
                rendered = render(plan)
                self._writer.then(
                    plan.id,
                    lambda: self._md_after(plan.id, text, rendered),
                    as_key=md_key(plan.id),
                )
            return
        held = self._write_plan(plan.id, path, text, version, durable, sync_dir=not sync_dir_later)
        if durable and sync_dir_later:
            self._writer.later(plan.id + _DIR, lambda: fsync_dir(path.parent))
        if render_md:
            if held is not None:
                held.keep_rendering(render(plan))  # what readers of this version get too
            self.flush_md(plan.id)

    def _write_plan(
        self,
        plan_id: str,
        path: Path,
        text: str,
        version: tuple[int, str],
        durable: bool,
        sync_dir: bool = True,
        background: bool = False,
    ) -> Held | None:
        sealed = origin.sealed_text(self.root, plan_id, text)
        # which state is current, kept outside the workspace (docs/reliability.md case 38)
        mark = sealed[sealed.rfind(f'"{origin.SEAL_KEY}": "') + len(origin.SEAL_KEY) + 5 :][:64]
        state = (self.root, plan_id, mark, *version)
        origin.will_write(*state)
        self.write_file(path, sealed, durable=durable, sync_dir=sync_dir)
        if background:  # on the writer's thread already
            origin.written(*state)
        else:
            # "only this state is current" may wait: until it is recorded, the state before is
            # current too (both load, as after a crash between the two). Queued under the plan's
            # key, so the next save and every load of the plan wait for it (#32)
            self._writer.later(plan_id, lambda: origin.written(*state))
        self._md_stale.add(plan_id)
        return self._held.put(plan_id, stamp_of(path), text)

    def adopt(self, plan: Plan) -> bool:
        """Make `plan` the shared read-only view of its version on disk, when it is exactly
        that version (its caller is done with it and never changes it again): the next reader
        takes it without parsing plan.json again (#32: a step parsed the plan twice). False,
        and nothing kept, when the plan differs from what the store last wrote or read."""
        self._writer.settle(plan.id)
        try:
            path = self.check(self.plan_json(plan.id))
        except StoreError:
            return False
        held = self._held.fresh(plan.id, stamp_of(path))
        if held is None or held.json != plan.model_dump_json(indent=2):
            return False
        held.keep_view(plan)
        return True

    def view(self, plan_id: str) -> Plan:
        """The plan for reading only: shared with every other reader, so never change it (load()
        gives a copy of one's own). Raises like load()."""
        return self._view(plan_id)[0]

    def rendered(self, plan_id: str) -> tuple[Plan, Rendered] | None:
        """The plan (for reading only) and its rendering, made once per version of plan.json;
        None when the plan cannot be read from memory or disk."""
        try:
            plan, held = self._view(plan_id)
        except StoreError:
            return None
        if held is None:  # a foreign plan is not kept in memory
            return plan, render(plan)
        return plan, held.rendered()

    def _view(self, plan_id: str) -> tuple[Plan, Held | None]:
        self._writer.settle(plan_id)
        path = self.check(self.plan_json(plan_id))
        held = self._held.fresh(plan_id, stamp_of(path))
        if held is None:
            plan = self.load(plan_id)
            held = self._held.fresh(plan_id, stamp_of(path))
            if held is None:
                return plan, None
            held.keep_view(plan)  # read from disk just now: nobody else holds this object
        return held.view(), held

    def save_revision(self, plan: Plan) -> Path:
        """Keep a copy of this revision under `revisions/` (before it is superseded)."""
        self._writer.settle(plan.id)
        scrub(plan, self.root)
        path = self._plan_dir(plan.id) / "revisions" / f"{plan.revision}.json"
        text = plan.model_dump_json(indent=2)
        # sealed as a kept revision: a copy of it in place of plan.json does not verify (case 38)
        return self.write_file(
            path, origin.sealed_text(self.root, plan.id, text, origin.REVISION), durable=True
        )

    def write_diff(self, plan_id: str, from_rev: int, to_rev: int, text: str) -> Path:
        """Keep the unified diff of two revisions beside the plan (for editors without virtual
        documents); returns its path."""
        path = self._plan_dir(plan_id) / "diffs" / f"revision-{from_rev}-{to_rev}.diff"
        return self.write_file(path, text)

    def write_preview(self, plan_id: str, name: str, text: str) -> Path:
        """Keep a preview document (planfirst's own diff of a step's edit, for editors without
        virtual documents) in the plan's folder; returns its path."""
        if "/" in name or name.startswith("."):
            raise StoreError(f"{name!r} is not a preview document name")
        return self.write_file(self._plan_dir(plan_id) / name, text)

    def revisions(self, plan_id: str) -> list[int]:
        """Revision numbers kept for a plan, ascending."""
        d = self._plan_dir(plan_id) / "revisions"
        try:
            self.check(d)
        except StoreError:
            return []
        if not d.is_dir():
            return []
        return sorted(int(p.stem) for p in d.glob("*.json") if p.stem.isdigit())

    def load_revision(self, plan_id: str, revision: int) -> Plan:
        """A kept revision of a plan."""
        return self._load_path(
            plan_id,
            self.check(self._plan_dir(plan_id) / "revisions" / f"{revision}.json"),
            origin.REVISION,
        )

    def load(self, plan_id: str) -> Plan:
        """Load a plan (a copy of its own for the caller); raise UnknownPlan, or StoreError
        naming the file when it is corrupt. Answered from memory while plan.json is the file this
        store last wrote or read (plan/held.py)."""
        self._writer.settle(plan_id)
        path = self.check(self.plan_json(plan_id))
        stamp = stamp_of(path)
        held = self._held.fresh(plan_id, stamp)
        if held is not None:
            return held.copy()
        if stamp is None and not path.exists():
            raise UnknownPlan(f"no plan {plan_id!r} in {self.plans_dir}")
        plan, trusted = self._read(plan_id, path)
        if trusted:
            # the stamp taken before reading: a file replaced meanwhile is read again next time
            self._held.put(plan_id, stamp, plan.model_dump_json(indent=2))
        return plan

    def _load_path(self, plan_id: str, path: Path, role: str = origin.PLAN) -> Plan:
        return self._read(plan_id, path, role)[0]

    def _read(self, plan_id: str, path: Path, role: str = origin.PLAN) -> tuple[Plan, bool]:
        """The plan in `path`, and whether it is trusted (else it is made `foreign`)."""
        try:
            raw = self.read_file(path)
        except FileNotFoundError as e:
            raise StoreError(f"cannot read {path}: {e.strerror or e}") from None
        return parse(self.root, plan_id, path, raw, role)

    def list(self) -> tuple[list[Plan], list[PlanProblem]]:
        """Every loadable plan (newest first) and every plan directory that failed to load."""
        plans: list[Plan] = []
        problems: list[PlanProblem] = []
        try:
            self.check(self.plans_dir)
        except StoreError as e:
            return [], [PlanProblem("", self.plans_dir, str(e))]
        try:
            entries = sorted(self.plans_dir.iterdir()) if self.plans_dir.is_dir() else []
        except OSError as e:
            return [], [PlanProblem("", self.plans_dir, f"cannot list {self.plans_dir}: {e}")]
        for d in entries:
            if not d.is_dir() or not PLAN_ID.match(d.name):
                continue
            try:
                plans.append(self.load(d.name))
            except StoreError as e:
                problems.append(PlanProblem(d.name, d / "plan.json", str(e)))
        plans.sort(key=lambda p: p.provenance.created_at, reverse=True)
        return plans, problems

    def set_active(self, plan_id: str) -> None:
        """Remember the workspace's active plan (no write when it is already the one)."""
        self._plan_dir(plan_id)
        with contextlib.suppress(OSError, StoreError, UnicodeDecodeError):
            if self.read_file(self.dir / "active", 4096) == plan_id + "\n":
                return
        self.write_file(self.dir / "active", plan_id + "\n", durable=True)

    def active(self) -> str | None:
        """The active plan id, if it still exists."""
        try:
            pid = self.read_file(self.dir / "active", 4096).strip()
        except (OSError, StoreError):
            return None
        return pid if self.exists(pid) else None

    # What past steps needed (core/workflow/budget.py): the estimator learns the workspace's
    # retry rate (plan/history.py).

    def step_history(self) -> builtins.list[dict[str, Any]]:
        """Recorded finished steps, oldest first (an unreadable file reads as none)."""
        self._writer.settle(_HISTORY)
        return self._history.rows()

    def record_step(self, row: dict[str, Any]) -> None:
        """Append one finished step's record on the background writer (the step is done and
        answered meanwhile), not fsynced; a failure is logged, not raised: these are statistics
        for estimates (#32)."""
        self._writer.later(_HISTORY, lambda: self._history.record(row))
