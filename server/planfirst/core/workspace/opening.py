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

from pathlib import Path

from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.plan.store import PlanStore, StoreError
from planfirst.settings import Settings, check_plans_dir


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
