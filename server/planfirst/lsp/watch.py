"""Plans another planfirst process changes, seen by this server (QA of the combined faces).

The terminal (`planfirst run`/`resume`), the ACP agent and a second editor window each run
their own planfirst on the workspace and write the same plan files. This server published a
plan's document, code lenses, diagnostics and `planfirst/status` (the Plans view, the status
bar) only when it changed the plan itself: after a terminal ran two steps, the editor still
showed them pending. A client that can watch files for the server (`workspace/
didChangeWatchedFiles` with dynamic registration: VS Code, Emacs eglot) is asked to watch
`<plans dir>/*/plan.json` and `.planfirst/running/*`; a change this server did not write itself
refreshes that plan as its own changes do.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from planfirst.lsp.callbacks import logged

if TYPE_CHECKING:
    from planfirst.lsp.server import PlanfirstServer

log = logging.getLogger("planfirst")

REGISTRATION_ID = "planfirst-plans-watch"


def register(server: PlanfirstServer) -> None:
    """Ask the client to watch the plan files (when it can)."""
    session = server.session
    if session is None or not server.caps.watches_files or server.root is None:
        return
    plans = session.store.plans_dir.relative_to(server.root).as_posix()
    patterns = [f"{plans}/*/plan.json", ".planfirst/running/*"]
    if server.caps.relative_patterns:
        base = server.root.as_uri()
        globs: list[types.GlobPattern] = [types.RelativePattern(base, p) for p in patterns]
    else:
        globs = [f"{server.root.as_posix()}/{p}" for p in patterns]
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern=g) for g in globs]
    )
    params = types.RegistrationParams(
        registrations=[
            types.Registration(
                id=REGISTRATION_ID,
                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=options,
            )
        ]
    )

    def ask() -> None:
        def answered(fut: Any) -> None:
            if not fut.cancelled() and fut.exception() is not None:  # a refusal: as before
                log.info("the client does not watch the plan files: %s", fut.exception())

        server.client_register_capability(params).add_done_callback(answered)

    logged("asking the client to watch the plan files", ask)


def changed(server: PlanfirstServer, params: types.DidChangeWatchedFilesParams) -> None:
    """Refresh every plan whose files another process changed."""
    session = server.session
    if session is None:
        return
    store = session.store
    ids: set[str] = set()
    for change in params.changes or []:
        fs = to_fs_path(change.uri)
        if not fs:
            continue
        path = Path(fs)
        if path.name == "plan.json" and path.parent.parent == store.plans_dir:
            if not store.written_here(path.parent.name):
                ids.add(path.parent.name)
        elif path.parent == store.dir / "running":
            ids.add(path.name)
    for plan_id in sorted(ids):
        if store.exists(plan_id):
            server.plan_changed(plan_id)
