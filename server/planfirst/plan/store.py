"""The only writer under `.planfirst/` and the plans folder: plans, revisions, rendered markdown,
preview diffs, the active pointer.

Layout: `.planfirst/plans/<id>/plan.json` (+ `plan.md`, + `revisions/<n>.json`), `.planfirst/active`.
Every write is atomic (temp file in the same directory, fsync, rename, fsync the directory), so
a killed process leaves either the old file or the new one, never half of each.

`.planfirst/` is checked like any path (docs/reliability.md case 30): a `.planfirst` that is a
symbolic link, or a link anywhere on the way to a file planfirst reads or writes below it, is
refused with a message naming the link, so a cloned repository cannot point planfirst's writes
(or reads) outside the workspace. Every file planfirst writes there — plans, revisions, preview
diffs, records, session pointers — goes through one helper, `PlanStore.write_file`, which also
refuses a FIFO, device or directory planted where the file goes; reads go through
`PlanStore.read_file`, which never follows a link or blocks on a FIFO (case 36).

Every plan file the store writes is sealed (plan/origin.py); one without a valid seal loads as a
foreign draft (`foreign`): a repository cannot ship an approved plan or a step history to replay
(docs/reliability.md case 24).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planfirst.errors import PlanfirstError
from planfirst.plan import claims, hand_edit, origin
from planfirst.plan.held import Held, HeldPlans, stamp_of
from planfirst.plan.liveness import alive
from planfirst.plan.model import (
    MAX_PLAN_STEPS,
    Finding,
    Plan,
    PlanStatus,
    StepState,
    Usage,
    now_iso,
)
from planfirst.plan.portable import scrub
from planfirst.plan.render import Rendered, render
from planfirst.plan.writer import Writer

PLAN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")
_HISTORY = "/history"  # the writer's key for history.json (never a plan id)
_DIR = "/dir"  # suffix of the writer's key for a plan directory's deferred fsync
log = logging.getLogger("planfirst")


class StoreError(PlanfirstError):
    """A plan file could not be read or written; the message names the file."""

    code = "store"


class UnknownPlan(StoreError):
    """No plan with that id exists in this workspace."""

    code = "unknown_plan"


@dataclass
class PlanProblem:
    """A plan directory that could not be loaded (reported, never overwritten)."""

    plan_id: str
    path: Path
    error: str


# A plan file larger than this is refused when loaded (docs/reliability.md case 42): plan.json
# keeps every run's before and after texts, so a long plan on large files can reach megabytes,
# but nothing planfirst writes comes near this.
MAX_FILE_BYTES = 64 << 20
MAX_MD_BYTES = 8 << 20  # plan.md carries no file texts: a few hundred bytes a step


def _too_large(path: Path, size: int, limit: int) -> str:
    return (
        f"{path} is {size / (1 << 20):.1f} MB, over planfirst's limit of {limit >> 20} MB for a "
        "plan file; it was left untouched (a repository may have shipped it to slow planfirst down)"
    )


TEMP_SUFFIX = ".planfirst.tmp"
_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[^.]+" + re.escape(TEMP_SUFFIX) + "$")
_UMASK = os.umask(0o022)  # read once at import (umask can only be read by setting it)
os.umask(_UMASK)


def atomic_write(
    path: Path, data: str, *, durable: bool = True, keep_mode: bool = False, sync_dir: bool = True
) -> None:
    """Write `data` to `path` so that readers see the old or the new file, never a mix.

    `durable` also fsyncs the data and the directory, so the new file survives a power loss
    (`sync_dir` False: the caller fsyncs the directory later, `fsync_dir`).
    `keep_mode` gives the file the permissions it had (a new file: what open() would give it),
    for the user's files; without it the file is private to the user (plan records).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid in the name: a temp file a killed process left is recognised and removed
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        if keep_mode:
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except OSError:  # a new file
                mode = 0o666 & ~_UMASK
            with contextlib.suppress(OSError):
                os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable and sync_dir:
        fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make the renames in `directory` survive a power loss."""
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def remove_orphaned_temps(directory: Path) -> list[Path]:
    """Delete the temp files of atomic writes whose writer process is gone (it was killed
    between creating the temp file and the rename); return what was removed."""
    removed: list[Path] = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _TEMP_NAME.match(p.name)
        if m is None or alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


def foreign(plan: Plan, message: str = origin.UNTRUSTED_MESSAGE) -> Plan:
    """A plan planfirst did not seal, made harmless: a draft without status, step history, results
    or review of its own, and an error finding so that approving it is an explicit decision. It
    starts from the user's settings and zero spent (#29): the author's execution model, spending
    and estimate are not the user's; what the author recorded is said in the finding, and the
    revision history (text, feedback, what each revision changed) stays as the author wrote it."""
    authored = origin.authored(plan)
    plan.status = PlanStatus.DRAFT
    plan.steps = [StepState(order=s.order) for s in plan.body.steps]
    plan.final_validation = []
    plan.diagnosis = None
    plan.confidence = {}
    plan.provenance.critique = None
    plan.execution_model = None
    plan.usage = Usage()
    plan.extra_spent = 0.0  # nor its diagnoses and revisions after approval
    plan.estimate = None
    plan.findings = [
        Finding(
            rule=origin.UNTRUSTED_RULE,
            severity="error",
            message=message + (f" ({authored})" if authored else ""),
        )
    ]
    return plan


def new_plan_id(title: str) -> str:
    """A readable, unique, filesystem-safe id: a slug of the title plus a random suffix."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "plan"
    return f"{slug}-{secrets.token_hex(3)}"


class PlanStore:
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

    def _plan_dir(self, plan_id: str) -> Path:
        if not isinstance(plan_id, str) or not PLAN_ID.match(plan_id):
            raise UnknownPlan(f"{plan_id!r} is not a valid plan id")
        return self.plans_dir / plan_id

    def check(self, path: Path) -> Path:
        """`path` (under `.planfirst/` or the plans folder) if it is inside the workspace and no
        component below the workspace root is a symbolic link; else StoreError naming the link.
        Called right before every read and write."""
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            raise StoreError(
                f"{path} is outside the workspace; planfirst never writes there"
            ) from None
        if ".." in parts:
            raise StoreError(f"{path} leaves the workspace ('..'); planfirst never writes there")
        cur = self.root
        for part in parts:
            cur = cur / part
            if cur.is_symlink():
                raise StoreError(
                    f"{cur} is a symbolic link; planfirst keeps its state only in a real .planfirst/ "
                    "directory inside the workspace and never follows a link there (a cloned repository "
                    "could point it anywhere) — remove the link"
                )
        return path

    def write_file(
        self, path: Path, text: str, *, durable: bool = False, sync_dir: bool = True
    ) -> Path:
        """The one way planfirst writes a file of its own (plans, revisions, previews, records;
        docs/reliability.md case 36): `path` is checked (inside the workspace, no symbolic link on
        the way, not a FIFO, device, socket or directory already there), then written atomically.
        A refusal is a StoreError naming the file; nothing is written."""
        self.check(path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StoreError(f"cannot check {path}: {e.strerror or e}") from None
        else:
            if not stat.S_ISREG(st.st_mode):
                raise StoreError(
                    f"{path} is not a regular file (a FIFO, device, socket or directory); "
                    "planfirst does not write over it — remove it"
                )
        atomic_write(path, text, durable=durable, sync_dir=sync_dir)
        return path

    def read_file(self, path: Path, limit: int = MAX_FILE_BYTES) -> str:
        """Read a file of planfirst's own without following a link or blocking on a FIFO (opened
        with O_NOFOLLOW | O_NONBLOCK, then checked to be a regular file) and at most `limit`
        bytes; FileNotFoundError when it is absent, StoreError naming the file otherwise."""
        self.check(path)
        flags = (
            os.O_RDONLY
            | getattr(os, "O_NOFOLLOW", 0)
            | getattr(os, "O_NONBLOCK", 0)
            | getattr(os, "O_CLOEXEC", 0)
        )
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise StoreError(f"cannot read {path}: {e.strerror or e}") from None
        try:
            st = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            raise StoreError(f"cannot read {path}: {e.strerror or e}") from None
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            # a FIFO would block the reader forever, a directory cannot be read (case 21)
            raise StoreError(f"{path} is not a regular file; it was left untouched")
        with os.fdopen(fd, "rb") as f:
            if st.st_size > limit:
                raise StoreError(_too_large(path, st.st_size, limit))
            data = f.read(limit + 1)
        if len(data) > limit:
            raise StoreError(_too_large(path, len(data), limit))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StoreError(
                f"{path} is not UTF-8 text ({e.reason}); it was left untouched"
            ) from None

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
        """Wait for the directory fsyncs a plan's durable saves left to the background."""
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
        plan.provenance.updated_at = now_iso()
        scrub(plan, self.root)  # no absolute path or user name in a file you may commit
        path = self.check(self.plan_json(plan.id))
        stamp = stamp_of(path)
        before = self._held.fresh(plan.id, stamp) if stamp is not None else None
        base = before.view() if before is not None else None
        if stamp is not None and before is None:
            # never silently replace a file we could not read (it may be the user's only copy);
            # a file this store wrote or read last and nobody touched since needs no second look
            base = self._load_path(plan.id, path)
        self._md_base.setdefault(plan.id, base)
        if plan.id not in self._swept:  # once per plan and process: a killed writer's leftovers
            self._swept.add(plan.id)
            remove_orphaned_temps(path.parent)
            remove_orphaned_temps(path.parent / "revisions")
        text = plan.model_dump_json(indent=2)
        version = (plan.revision, plan.provenance.updated_at)
        self._held.drop(plan.id)  # until the write is done, the disk is the truth
        if not wait:
            self._writer.later(
                plan.id,
                lambda: self._write_plan(plan.id, path, text, version, durable, background=True),
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
        sealed = origin.sealed_json(self.root, plan_id, text)
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

    def flush_md(self, plan_id: str) -> Path | None:
        """Write plan.md if the plan was saved since it was last written and its text changed
        (atomic but not fsynced: it is derived from plan.json). A hand edit of plan.md not
        reloaded yet is kept beside it first (plan/hand_edit.py): returns where, else None."""
        self._writer.settle(plan_id)
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
        kept = self._keep_hand_edit(plan_id, md, text, [held.view(), *([base] if base else [])])
        self.write_file(md, text)
        self._md[plan_id] = text
        return kept

    def show_md(self, plan: Plan) -> None:
        """Make plan.md exist and show `plan` (what a client without `planfirst:` documents
        opens). Showing a plan changes nothing: a hand edit not reloaded yet stays as it is; a
        plan this store cannot hold in memory (a foreign one) is saved, as before."""
        self._writer.settle(plan.id)
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
            disk is not None and hand_edit.is_hand_edit(disk, self._md.get(plan.id), [held.view()])
        ):
            return
        self.write_file(md, text)
        self._md[plan.id] = text

    def _keep_hand_edit(self, plan_id: str, md: Path, text: str, plans: list[Plan]) -> Path | None:
        """Keep plan.md's text beside it when it is a hand edit `text` is about to replace."""
        try:
            disk = self.read_file(md, MAX_MD_BYTES)
        except (OSError, StoreError):  # absent, or not a file planfirst reads: as before
            return None
        if disk == text or not hand_edit.is_hand_edit(disk, self._md.get(plan_id), plans):
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
            path, origin.sealed_json(self.root, plan.id, text, origin.REVISION), durable=True
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
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise StoreError(
                f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
                "it was left untouched — fix or delete it"
            ) from None
        body = data.get("body") if isinstance(data, dict) else None
        steps = body.get("steps") if isinstance(body, dict) else None
        if isinstance(steps, list) and len(steps) > MAX_PLAN_STEPS:
            # refused before any work on it: a shipped plan of 20,000 steps must not stall the
            # server (docs/reliability.md case 42)
            raise StoreError(
                f"{path} has {len(steps)} steps, over planfirst's limit of {MAX_PLAN_STEPS} steps "
                "for a plan; it was left untouched (a repository may have shipped it to slow "
                "planfirst down) — delete it, or split the work into smaller plans"
            )
        given = data.pop(origin.SEAL_KEY, None) if isinstance(data, dict) else None
        try:
            plan = Plan.model_validate(data)
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise StoreError(
                f"{path} does not match the plan schema ({loc}: {first['msg']}); it was left untouched"
            ) from None
        if plan.id != plan_id:
            raise StoreError(
                f"{path} holds plan {plan.id!r}, expected {plan_id!r}; it was left untouched"
            )
        if not origin.verify(self.root, plan_id, data, given, role):
            return foreign(plan), False
        if role == origin.PLAN and origin.is_stale(
            self.root, plan_id, str(given), plan.revision, plan.provenance.updated_at
        ):
            return foreign(plan, origin.STALE_MESSAGE), False
        return plan, True

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

    # What past steps needed (core/workflow/budget.py): the estimator learns the workspace's retry rate.

    def step_history(self) -> builtins.list[dict[str, Any]]:
        """Recorded finished steps, oldest first (an unreadable file reads as none)."""
        self._writer.settle(_HISTORY)
        return self._read_history()

    def _read_history(self) -> builtins.list[dict[str, Any]]:
        try:
            rows = json.loads(self.read_file(self.dir / "history.json"))
        except (OSError, StoreError, ValueError):
            return []
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def record_step(self, row: dict[str, Any], keep: int = 500) -> None:
        """Append one finished step's record, keeping the newest `keep` — on the background
        writer (the step is done and answered meanwhile), not fsynced; a failure is logged, not
        raised: these are statistics for estimates (#32)."""
        path = self.check(self.dir / "history.json")

        def write() -> None:
            try:
                rows = [*self._read_history(), row][-keep:]
                # one row per line (the C encoder; indent= runs in pure Python)
                text = "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n"
                self.write_file(path, text)
            except (OSError, StoreError) as e:
                log.warning("planfirst: cannot record the step in %s: %s", path, e)

        self._writer.later(_HISTORY, write)

    # Which planfirst process works on a plan now (`.planfirst/running/<plan id>`: "<pid> <token>"
    # and what it does), so two faces on one workspace (the editor and `planfirst resume` in a
    # terminal) never run the same plan at once: the second is refused, never recovers the
    # first one's running step as if its server had died. A holder whose process is gone is stale.

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
