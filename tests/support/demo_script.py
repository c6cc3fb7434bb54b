"""The demo's model session (examples/scripts/demo.json) for tests that run with the critique off
(the default of the test run, tests/conftest.py): the critic's turns taken out, the corrected
plan submitted at once (tests/editors/scripts/editor_scripts.py `without_critique`)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEMO_JSON = ROOT / "examples" / "scripts" / "demo.json"


def editor_scripts() -> ModuleType:
    """tests/editors/scripts/editor_scripts.py (a standalone script, loaded by path)."""
    spec = importlib.util.spec_from_file_location(
        "editor_scripts", ROOT / "tests" / "editors" / "scripts" / "editor_scripts.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# the demo's whole session, the critic's turns included
DEMO_WITH_CRITIQUE: list[dict[str, Any]] = json.loads(DEMO_JSON.read_text(encoding="utf-8"))[
    "turns"
]
# the same session with the critique off
DEMO: list[dict[str, Any]] = editor_scripts().without_critique(DEMO_WITH_CRITIQUE)
