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

The key is created on first use. If the data directory cannot be written, a key for this process
only is used (plans stay trusted until the server restarts) and a warning is logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def user_key() -> bytes:
    """The per-user sealing key, created on first use (atomically: concurrent servers agree)."""
    global _process_key
    path = data_dir() / "origin.key"
    with contextlib.suppress(OSError, ValueError):
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
    except FileExistsError:
        pass  # another process created it first: read theirs
    except OSError as e:
        if _process_key is None:
            log.warning(
                "cannot keep planfirst's key in %s (%s): plans are trusted until the server restarts",
                path,
                e,
            )
            _process_key = secrets.token_bytes(32)
        return _process_key
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as e:
        if _process_key is None:
            log.warning(
                "cannot read planfirst's key %s (%s): plans are trusted until the server restarts",
                path,
                e,
            )
            _process_key = secrets.token_bytes(32)
        return _process_key


def _canonical(root: Path, plan_id: str, data: dict[str, Any]) -> bytes:
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b"\0".join(
        [b"planfirst-plan-v1", os.path.realpath(root).encode(), plan_id.encode(), body.encode()]
    )


def seal(root: Path, plan_id: str, data: dict[str, Any]) -> str:
    """The seal of a plan's JSON data (without its own seal member)."""
    return hmac.new(user_key(), _canonical(root, plan_id, data), hashlib.sha256).hexdigest()


def verify(root: Path, plan_id: str, data: dict[str, Any], given: Any) -> bool:
    """Whether `given` is the seal planfirst put on exactly this data, in this workspace."""
    return isinstance(given, str) and hmac.compare_digest(given, seal(root, plan_id, data))


def sealed_json(root: Path, plan_id: str, text: str) -> str:
    """`text` (a plan's JSON object, indented by pydantic) with its seal added as the last member.

    The seal is appended to the text as written rather than by re-serialising the data: Python's
    `json.dumps(indent=…)` runs in pure Python and took most of a save (bench section 1).
    """
    data = json.loads(text)
    body = text.rstrip()
    if SEAL_KEY in data or not body.endswith("}") or not data:
        data.pop(SEAL_KEY, None)
        data[SEAL_KEY] = seal(root, plan_id, data)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    mark = seal(root, plan_id, data)
    return body[:-1].rstrip() + f',\n  "{SEAL_KEY}": "{mark}"\n}}\n'


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
