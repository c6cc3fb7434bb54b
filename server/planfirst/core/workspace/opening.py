"""The one way every face opens a workspace's plan store and path guard (issue #31).

The language server's Session, the ACP agent, `planfirst run`/`resume` and the `plans`/`diff`
commands all open a workspace's plans here, from the same `Settings` (settings.load_settings:
the environment, the user's layer, then workspace layers that only narrow). So the `plansDir`
setting, its checks (settings.check_plans_dir: never inside `.git`, never elsewhere in
`.planfirst/`) and the root's resolution are the same whichever face reads the plans; a second
way of opening the store is how the terminal once could have read other plans than its server
wrote. tests/test_store_opening.py fails when a face constructs a `PlanStore` itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.plan.store import PlanStore, StoreError
from planfirst.settings import DEFAULT_PLANS_DIR, PLANS_DIR_ENV, Settings, check_plans_dir

log = logging.getLogger("planfirst")
POINTER = "plans-dir"  # .planfirst/plans-dir: the plansDir the language server uses here


def plans_dir_of(settings: Settings) -> str:
    """The checked `plansDir` of `settings`; StoreError (code `plans_dir`) when it cannot be one
    (a `Settings` made without validation, e.g. `model_construct`, never passes a bad one on)."""
    try:
        return check_plans_dir(settings.plans_dir)
    except (ValueError, TypeError) as e:
        raise StoreError(str(e), "plans_dir") from None


def open_store(root: Path | str, settings: Settings) -> PlanStore:
    """The plan store of the workspace at `root` (resolved) as `settings` place it."""
    return PlanStore(Path(root).resolve(), plans_dir_of(settings))


def open_guard(root: Path | str, settings: Settings) -> WorkspaceGuard:
    """The path guard of the workspace at `root`: its excludes and plans folder from `settings`."""
    return WorkspaceGuard(root, settings.context.exclude, plans_dir=plans_dir_of(settings))


def remember_plans_dir(store: PlanStore) -> None:
    """Record the plans folder a language server uses in `.planfirst/plans-dir`: its `plansDir`
    may come from the editor's workspace configuration, which `planfirst run`, `plans` and
    `diff` cannot read, and they then find the same plans (`environ_for_terminal`). Written only
    when it changes (nothing for the default when none was recorded); a failure is logged."""
    rel = store.plans_dir.relative_to(store.root).as_posix()
    path = store.dir / POINTER
    try:
        if store.read_file(path, 4096) == rel + "\n":
            return
    except FileNotFoundError:
        if rel == DEFAULT_PLANS_DIR:
            return
    except (OSError, StoreError):
        pass  # not readable as ours: replaced if it may be (write_file refuses what is not)
    try:
        store.write_file(path, rel + "\n")
    except (OSError, StoreError) as e:
        log.warning("planfirst: cannot record the plans folder in %s: %s", path, e)


def recorded_plans_dir(root: Path | str) -> str | None:
    """The plans folder a language server recorded for the workspace at `root`, when it is one
    `plansDir` may be (a repository may ship the file: it is checked like the setting)."""
    store = PlanStore(Path(root).resolve())
    try:
        text = store.read_file(store.dir / POINTER, 4096)
    except (OSError, StoreError):
        return None
    lines = text.splitlines()
    if len(lines) != 1:  # planfirst writes one line
        return None
    try:
        # as written: a space at either end is part of a folder's name on Linux and macOS
        return check_plans_dir(lines[0])
    except (ValueError, TypeError):
        return None


def environ_for_terminal(root: Path | str, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a face without editor configuration reads its settings from: `environ`,
    with the plans folder the workspace's language server recorded when `environ` names none."""
    env = dict(environ)
    if not env.get(PLANS_DIR_ENV):  # empty is none, as for load_settings
        recorded = recorded_plans_dir(root)
        if recorded is not None:
            env[PLANS_DIR_ENV] = recorded
    return env
