"""Which plans planfirst wrote on this machine (docs/reliability.md case 24).

A `.planfirst/` directory can arrive with a clone, and its plan files then say whatever the
repository's author wants: "approved", "executing", a step "applied" whose recorded text names
`.git/` or `.vscode/tasks.json`. So every plan file the store writes carries a seal: an HMAC-SHA256,
under a per-user key kept outside every workspace (`$PLANFIRST_DATA_DIR`, else
`$XDG_DATA_HOME/planfirst`, else `~/.local/share/planfirst`; the file `origin.key`, mode 0600),
over the workspace's real path, the plan id and the plan's JSON. A plan whose seal is missing or
wrong — shipped by a repository, copied from another checkout or machine, or edited by hand — is
loaded as a *foreign* plan: a draft with no step history (so nothing is replayed or undone from
its records) and an error finding that makes approval an explicit decision.

The seal also says which revision is current (docs/reliability.md case 38). A revision file is
sealed for its role (`revisions/<n>.json` as a kept revision), so a copy of it in place of
plan.json does not verify; and the per-user data directory keeps, for each plan, the seal of the
plan.json planfirst wrote last (`current/<hash>.json`, also naming the one being written while a
save runs, so a server killed midway loads either). A plan.json whose seal is valid but is none of
those, and that is not newer than the recorded revision, is an older state
restored from git history or a backup: it loads as foreign too, so it cannot bring back an approval
the user withdrew by revising, nor a step record that an undo has since superseded.

The key is created on first use. If the data directory cannot be written, a key for this process
only is used (plans stay trusted until the server restarts) and a warning is logged. A key file
that holds no key is replaced under a lock beside it (`origin.key.lock`), so processes that find
it at once all use the one key left on disk; one that waits too long for that lock uses a key of
its own, logged, and never writes a second one.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planfirst.plan.files import SAFE_OPEN

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from planfirst.plan.model import Plan

log = logging.getLogger("planfirst")

SEAL_KEY = "seal"  # the top-level member of plan.json that holds the seal
UNTRUSTED_RULE = "untrusted-origin"
UNTRUSTED_MESSAGE = (
    "planfirst did not write this plan on this machine (it came with the repository, from another "
    "checkout, or was edited outside planfirst): its status and step history were discarded; read "
    "every step and validation command before approving it"
)
_process_key: bytes | None = None


def data_dir(environ: dict[str, str] | None = None) -> Path:
    """planfirst's per-user data directory (never inside a workspace)."""
    env = os.environ if environ is None else environ
    if env.get("PLANFIRST_DATA_DIR"):
        return Path(env["PLANFIRST_DATA_DIR"])
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "planfirst"


# the key file's text as last read, by path, with the file's identity then (#32: reading it
# took half of every seal); a key file replaced, rewritten or removed is read again: its
# ctime tells even when the size and the mtime were kept (os.utime cannot set the ctime)
_key_read: dict[str, tuple[tuple[int, int, int, int, int], bytes]] = {}
RACY_NS = 2_000_000_000  # a key file changed this recently may change again in the same tick


def _identity(path: str) -> tuple[int, int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


KEY_BYTES = 32


def _parse_key(text: str) -> bytes | None:
    """The key in a key file's text; None when it holds none (empty, short, not hex)."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        return None
    return key if len(key) == KEY_BYTES else None


def _read_key_file(path: Path) -> str:
    """The key file's text, read like planfirst's other own files: not through a link, not
    blocking on a FIFO, never past a key's size (OSError for anything but a regular file). A
    key file others can read (planted or copied with mode 0644) is made private first."""
    fd = os.open(path, os.O_RDONLY | SAFE_OPEN)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        if hasattr(os, "getuid") and st.st_mode & 0o077 and st.st_uid == os.getuid():
            os.fchmod(fd, 0o600)
        return f.read(4 * KEY_BYTES).decode("ascii")


def user_key() -> bytes:
    """The per-user sealing key, created on first use (atomically: concurrent servers agree).

    A key file that holds no key — empty, short, not hex: a process killed while an earlier
    version created it — is replaced by a new key, never used: an HMAC under an empty key is
    one anyone can compute (plans sealed with it load as foreign from then on)."""
    path = data_dir() / "origin.key"
    where = str(path)
    ident = _identity(where)
    kept = _key_read.get(where)
    if kept is not None and ident is not None and kept[0] == ident:
        return kept[1]
    try:
        key = _parse_key(_read_key_file(path))
    except FileNotFoundError:
        return _new_key(path, replace=False)
    except (OSError, ValueError) as e:
        return _fallback_key("cannot read planfirst's key", path, e)
    if key is None:
        return _replace_empty_key(path)
    recent = time.time_ns() - RACY_NS  # a rewrite in the same tick keeps the stamps
    if ident is not None and _identity(where) == ident and max(ident[2:4]) < recent:
        _key_read[where] = (ident, key)
    return key


def _new_key(path: Path, *, replace: bool) -> bytes:
    """A new key written whole before it appears under `path` (a temp file linked, or renamed
    over a key file that holds no key): a killed process never leaves a half-written key."""
    key = secrets.token_bytes(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".origin-key-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(key.hex() + "\n")
                f.flush()
                os.fsync(f.fileno())
            if replace:
                os.replace(tmp, path)
                return key
            try:
                os.link(tmp, path)  # created only if absent: concurrent servers agree
                return key
            except FileExistsError:
                pass  # another process created it first: read theirs
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        theirs = _parse_key(_read_key_file(path))
    except (OSError, ValueError) as e:
        return _fallback_key("cannot keep planfirst's key", path, e)
    return theirs if theirs is not None else _replace_empty_key(path)


# How long a process waits for another one replacing a key file that holds no key (it holds the
# lock for one small fsync'd write and a rename): past this it uses a key of its own (logged)
KEY_LOCK_WAIT_S = 5.0


def _replace_empty_key(path: Path) -> bytes:
    """The key that replaces a key file holding no key, agreed by every process that found it so:
    the check and the replacement run under an exclusive lock on `origin.key.lock` beside it, and
    a process that gets the lock after another replaced the file uses the key now there (two
    replacements would leave one process sealing with a key no longer on disk: its plans would
    load as foreign everywhere else and after a restart)."""
    try:
        with _key_lock(path) as refused:
            try:
                now: bytes | None = _parse_key(_read_key_file(path))
                present = True
            except FileNotFoundError:
                now, present = None, False
            if now is not None:
                return now  # replaced by another process meanwhile: theirs
            if refused is not None:  # never a second key on disk beside the one being written
                return _fallback_key(refused, path, TimeoutError("the key's lock is held"))
            if present:
                log.warning(
                    "planfirst's key %s holds no key (a write was cut short): made anew", path
                )
            return _new_key(path, replace=present)
    except (OSError, ValueError) as e:
        return _fallback_key("cannot replace planfirst's key", path, e)


@contextlib.contextmanager
def _key_lock(path: Path) -> Iterator[str | None]:
    """Hold an exclusive `flock` on the lock file beside the key file (opened without following a
    link; a FIFO or directory there is an OSError) for the block. Yields None once it is held, or
    where locks do not exist (no fcntl, a file system without them); else, after waiting
    KEY_LOCK_WAIT_S for another process to let go, what the caller says in its warning."""
    if fcntl is None:
        yield None
        return
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | SAFE_OPEN, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{lock} is not a regular file")
        deadline = time.monotonic() + KEY_LOCK_WAIT_S
        refused: str | None = None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                refused = (
                    f"waited {KEY_LOCK_WAIT_S:g} s for another process replacing planfirst's key"
                )
            except OSError as e:  # a file system without locks: as before them
                log.debug("cannot lock %s (%s): replacing planfirst's key unlocked", lock, e)
            break
        yield refused
    finally:
        os.close(fd)  # lets go of the lock


def _fallback_key(what: str, path: Path, error: Exception) -> bytes:
    """A key for this process only, when the key file cannot be kept or read."""
    global _process_key
    if _process_key is None:
        log.warning("%s %s (%s): plans are trusted until the server restarts", what, path, error)
        _process_key = secrets.token_bytes(KEY_BYTES)
    return _process_key


PLAN = "plan"  # the role of plan.json
REVISION = "revision"  # the role of a kept revision file
_ROLES = {PLAN: b"planfirst-plan-v1", REVISION: b"planfirst-revision-v1"}  # over the data
_TEXT_ROLES = {PLAN: b"planfirst-plan-text-v2", REVISION: b"planfirst-revision-text-v2"}
STALE_MESSAGE = (
    "this plan.json is an older state of the plan than the one planfirst wrote last here (restored "
    "from git history, a backup or a copy of a revision file): its status and step history were "
    "discarded, so an approval you withdrew is not brought back; read every step before approving"
)


def _body(data: dict[str, Any], *, allow_nan: bool = True) -> str:
    """The canonical text of a plan's JSON data: what its seal covers (sorted, compact)."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan
    )


def _seal_body(root: Path, plan_id: str, body: str, role: str) -> str:
    canonical = b"\0".join(
        [_ROLES[role], os.path.realpath(root).encode(), plan_id.encode(), body.encode()]
    )
    return hmac.new(user_key(), canonical, hashlib.sha256).hexdigest()


def seal(root: Path, plan_id: str, data: dict[str, Any], role: str = PLAN) -> str:
    """The seal of a plan's JSON data (without its own seal member), for its role."""
    return _seal_body(root, plan_id, _body(data), role)


_HEX = frozenset("0123456789abcdef")


def _is_mark(given: Any) -> bool:
    """Whether `given` has a seal's form: 64 lowercase hex digits (hmac.compare_digest raises
    TypeError on a str that is not ASCII, which a shipped plan.json can hold)."""
    return isinstance(given, str) and len(given) == 64 and _HEX.issuperset(given)


def verify(root: Path, plan_id: str, data: dict[str, Any], given: Any, role: str = PLAN) -> bool:
    """Whether `given` is the seal planfirst put on exactly this data, in this workspace, for
    this role (a revision file also verifies with the plan role it had before roles existed)."""
    if not _is_mark(given):
        return False
    roles = (REVISION, PLAN) if role == REVISION else (PLAN,)
    try:
        return any(hmac.compare_digest(given, seal(root, plan_id, data, r)) for r in roles)
    except UnicodeEncodeError:  # a lone surrogate escape: planfirst never sealed it
        return False


def _current_file(root: Path, plan_id: str) -> Path:
    key = hashlib.sha256(
        b"\0".join([os.path.realpath(root).encode(), plan_id.encode()])
    ).hexdigest()
    return data_dir() / "current" / f"{key[:32]}.json"


def _read_current(root: Path, plan_id: str) -> dict[str, Any] | None:
    try:
        rec = json.loads(_read_record(_current_file(root, plan_id)))
        seals = [str(x) for x in rec["seals"]]
        return {"seals": seals, "revision": int(rec["revision"]), "at": str(rec["updated_at"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None  # nothing recorded (a plan from before this check, or no data directory)


# A record is padded to this size, so that once it exists it is rewritten in place with one
# pwrite (#32): replacing it by rename cost a journal operation per save, three per step. One
# write of a single block is all or nothing to a killed process; a reader that ever saw a mix
# would find no valid record, which reads as "nothing recorded" (the plan stays trusted, as
# before these records existed), never as a foreign plan.
RECORD_BYTES = 1024


def _read_record(path: Path) -> str:
    """The record's text, read without following a link or blocking on a FIFO (OSError)."""
    flags = os.O_RDONLY | SAFE_OPEN
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return f.read(64 * 1024).decode("ascii")


def _write_current(root: Path, plan_id: str, seals: list[str], revision: int, at: str) -> None:
    path = _current_file(root, plan_id)
    data = json.dumps({"seals": seals, "revision": revision, "updated_at": at}).encode("ascii")
    padded = data.ljust(RECORD_BYTES - 1) + b"\n" if len(data) < RECORD_BYTES else None
    try:
        if padded is not None and _rewrite(path, padded):
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".current-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(padded if padded is not None else data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:  # the plan then stays trusted as before (case 24)
        log.warning("cannot record the current state of plan %s in %s: %s", plan_id, path, e)


def _rewrite(path: Path, padded: bytes) -> bool:
    """Overwrite an existing record of RECORD_BYTES in place; False when there is none to
    overwrite (missing, another size, not a regular file: it is then replaced whole)."""
    # no link followed, and never blocked on a FIFO planted there (it is then replaced whole)
    flags = os.O_WRONLY | SAFE_OPEN
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != RECORD_BYTES:
            return False
        return os.pwrite(fd, padded, 0) == len(padded)
    finally:
        os.close(fd)


def will_write(root: Path, plan_id: str, given: str, revision: int, updated_at: str) -> None:
    """Before plan.json is replaced: the state about to be written is current too, beside the one
    on disk (a server killed between the two writes leaves either, and both load; after such a crash
    the states recorded as current are kept until a save completes)."""
    rec = _read_current(root, plan_id)
    seals = [*(rec["seals"][-2:] if rec else []), given]
    _write_current(root, plan_id, seals, revision, updated_at)


def written(root: Path, plan_id: str, given: str, revision: int, updated_at: str) -> None:
    """After plan.json was replaced: only its seal is current now."""
    _write_current(root, plan_id, [given], revision, updated_at)


def is_stale(root: Path, plan_id: str, given: str, revision: int, updated_at: str) -> bool:
    """Whether a plan.json with a valid seal `given` is an older state than the one planfirst
    wrote last: not a recorded current seal, and not newer than the recorded revision."""
    rec = _read_current(root, plan_id)
    if rec is None or any(hmac.compare_digest(s, given) for s in rec["seals"]):
        return False
    return (revision, updated_at) <= (rec["revision"], rec["at"])


def sealed_json(root: Path, plan_id: str, text: str, role: str = PLAN) -> str:
    """`text` (a plan's JSON object, indented by pydantic) with its seal added as the last member.

    The seal is appended to the text as written rather than by re-serialising the data: Python's
    `json.dumps(indent=…)` runs in pure Python and took most of a save (bench section 1).
    """
    data = json.loads(text)
    body = text.rstrip()
    if SEAL_KEY in data or not body.endswith("}") or not data:
        data.pop(SEAL_KEY, None)
        data[SEAL_KEY] = seal(root, plan_id, data, role)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    mark = seal(root, plan_id, data, role)
    return body[:-1].rstrip() + f',\n  "{SEAL_KEY}": "{mark}"\n}}\n'


def sealed_text(root: Path, plan_id: str, text: str, role: str = PLAN) -> str:
    """`text` (a plan's JSON object as pydantic indents it) with its seal added as the last
    member. The seal covers the text's own bytes before that member (#32: canonicalising the
    plan's data — a sorted dump of every run's file texts — was most of a save's work): what
    was written is exactly what is checked, so any change to the file's bytes, even one that
    keeps its data (a reformat), makes it foreign like a hand edit. Line endings are not part of
    it (a checkout that turns them into CRLF keeps the plan trusted). A text this form does not
    fit (not an object with members) is sealed over its data as before (`sealed_json`)."""
    head = text.rstrip()
    if not head.endswith("}"):
        return sealed_json(root, plan_id, text, role)
    head = head[:-1].rstrip()
    if head.endswith("{") or head.endswith(","):
        return sealed_json(root, plan_id, text, role)
    mark = _seal_text(root, plan_id, head, role)
    return head + _seal_member(mark)


def _seal_member(mark: str) -> str:
    return f',\n  "{SEAL_KEY}": "{mark}"\n}}\n'


def _seal_text(root: Path, plan_id: str, head: str, role: str) -> str:
    canonical = b"\0".join(
        [_TEXT_ROLES[role], os.path.realpath(root).encode(), plan_id.encode(), head.encode()]
    )
    return hmac.new(user_key(), canonical, hashlib.sha256).hexdigest()


def verify_text(root: Path, plan_id: str, raw: str, given: Any, role: str = PLAN) -> bool:
    """Whether `raw` (a plan file's whole text) is a text planfirst sealed with `sealed_text`
    in this workspace for this role, byte for byte but for its line endings."""
    if not _is_mark(given):
        return False
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n")
    member = _seal_member(given).rstrip()
    body = raw.rstrip()
    if not body.endswith(member):
        return False
    # one role each (unlike the seal over the data, which plans sealed before roles existed
    # carry): a plan.json copied into revisions/ is no kept revision, nor the other way round
    return hmac.compare_digest(given, _seal_text(root, plan_id, body[: -len(member)], role))


def authored(plan: Plan) -> str:
    """What a foreign plan's file says its author chose and spent: said in its finding, never
    counted as the user's (#29)."""
    parts = []
    if plan.execution_model:
        parts.append(f"its author chose {plan.execution_model} to execute it")
    if plan.usage.calls or plan.usage.cost_usd:
        parts.append(
            f"its file records {plan.usage.calls} model call(s) costing about "
            f"${plan.usage.cost_usd:.4f}, not counted as yours"
        )
    return "; ".join(parts)
