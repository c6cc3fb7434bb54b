"""The VS Code extension's model settings offer the server's model catalogue (#33): the enums of
`planfirst.planningModel`, `.executionModel` and `.critique.model` in editor-client/package.json
are `llm.catalog.setting_models()` — every active catalogue model, which covers every model id the
installed SDK lists — with the same descriptions. A catalogue change (or an SDK upgrade that adds
a model) without the package.json change fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from planfirst.llm.catalog import (
    CATALOG,
    DEFAULT_EXECUTION_MODEL,
    DEFAULT_PLANNING_MODEL,
    setting_models,
)
from tests.test_models_current import sdk_models

PACKAGE = Path(__file__).resolve().parents[1] / "editor-client" / "package.json"


def _settings() -> dict[str, Any]:
    data = json.loads(PACKAGE.read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    for group in data["contributes"]["configuration"]:
        out.update(group["properties"])
    return out


def test_the_model_settings_list_the_catalogue_with_its_prices() -> None:
    props = _settings()
    ids = [m for m, _ in setting_models()]
    descriptions = [d for _, d in setting_models()]
    fix = "update editor-client/package.json from planfirst.llm.catalog.setting_models()"
    for key in ("planfirst.planningModel", "planfirst.executionModel"):
        assert props[key]["enum"] == ids, f"{key}: {fix}"
        assert props[key]["enumDescriptions"] == descriptions, f"{key}: {fix}"
    critique = props["planfirst.critique.model"]
    assert critique["enum"] == ["", *ids], fix  # "": the planning model
    assert critique["enumDescriptions"][1:] == descriptions, fix
    assert props["planfirst.planningModel"]["default"] == DEFAULT_PLANNING_MODEL
    assert props["planfirst.executionModel"]["default"] == DEFAULT_EXECUTION_MODEL
    # the critique is a switch, not the word "off" in its model field
    assert props["planfirst.critique.enabled"]["type"] == "boolean"
    assert "off" not in critique["enum"]


def test_the_offered_models_are_the_active_ones_and_cover_the_sdk() -> None:
    ids = [m for m, _ in setting_models()]
    assert len(ids) == len(set(ids))
    assert all(CATALOG[m].lifecycle == "active" for m in ids)
    active_sdk = {m for m in sdk_models() if m in CATALOG and CATALOG[m].lifecycle == "active"}
    assert active_sdk <= set(ids), sorted(active_sdk - set(ids))
    assert "claude-sonnet-4-5" not in ids  # retired: not offered (still accepted if typed)
