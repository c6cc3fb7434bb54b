"""The VS Code extension declares every server setting, with a description and the server's
default, and keeps the trust settings in the user's own settings (only declared settings reach the
server, so a setting missing here cannot be set from VS Code at all)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from planfirst import settings as S

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "editor-client" / "package.json"
# the extension's own settings; the server never sees them
CLIENT_ONLY = {
    "server.command",
    "server.python",
    "codeActions.onSelection",
    "trace.server",
    "planView",
}
# never a setting: the key lives in VS Code's SecretStorage
NOT_A_SETTING = {"anthropic.apiKey"}
# an empty value in VS Code stands for the server's default (the extension forwards nothing)
EMPTY_MEANS_DEFAULT = {"anthropic.baseUrl", "validation.allow"}


def server_settings() -> dict[str, Any]:
    """Every server setting (dotted camelCase name) with its default, as JSON."""
    defaults = S.Settings()
    out: dict[str, Any] = {}
    for name, field in S.Settings.model_fields.items():
        alias = field.alias or name
        value = getattr(defaults, name)
        if isinstance(value, S._Section):
            for n2, f2 in type(value).model_fields.items():
                out[f"{alias}.{f2.alias or n2}"] = getattr(value, n2)
        else:
            out[alias] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return out


def declared() -> dict[str, dict[str, Any]]:
    """Every declared setting, across the Settings editor's groups (Models, Budget, …)."""
    groups = json.loads(PACKAGE.read_text(encoding="utf-8"))["contributes"]["configuration"]
    out: dict[str, dict[str, Any]] = {}
    for group in groups if isinstance(groups, list) else [groups]:
        for k, v in group["properties"].items():
            assert k.removeprefix("planfirst.") not in out, f"{k} is declared twice"
            out[k.removeprefix("planfirst.")] = v
    return out


def test_settings_are_grouped_for_the_settings_editor() -> None:
    groups = json.loads(PACKAGE.read_text(encoding="utf-8"))["contributes"]["configuration"]
    titles = [g["title"] for g in groups]
    assert titles == [
        f"planfirst: {t}" for t in ("Models", "Budget", "Validation", "Editor", "Advanced")
    ]
    where = {k: g["title"] for g in groups for k in g["properties"]}
    assert where["planfirst.planningModel"] == "planfirst: Models"
    assert where["planfirst.budget.maxCostPerPlan"] == "planfirst: Budget"
    assert where["planfirst.validation.allow"] == "planfirst: Validation"
    assert where["planfirst.planView"] == "planfirst: Editor"
    # the critique is a switch, not the word `off` in a model field
    assert declared()["critique.enabled"]["type"] == "boolean"
    assert "off" not in declared()["critique.model"]["markdownDescription"]


def test_every_server_setting_is_declared_with_its_description_and_default() -> None:
    decl = declared()
    missing = sorted(set(server_settings()) - NOT_A_SETTING - set(decl))
    assert missing == [], f"declare these in editor-client/package.json: {missing}"
    for key, default in server_settings().items():
        if key in NOT_A_SETTING:
            continue
        prop = decl[key]
        assert prop.get("markdownDescription") or prop.get("description"), key
        if key in EMPTY_MEANS_DEFAULT:
            assert prop["default"] in ("", []), key
        else:
            assert prop["default"] == default, f"{key}: {prop['default']!r} != server {default!r}"


def test_no_declared_setting_is_unknown_to_the_server() -> None:
    unknown = sorted(set(declared()) - set(server_settings()) - CLIENT_ONLY)
    assert unknown == [], f"the server does not know: {unknown}"


def test_trust_settings_are_user_settings_only() -> None:
    decl = declared()
    trust = {f"{section}.{key}" for section, key in S.TRUST} - NOT_A_SETTING
    for key in sorted(trust | S.USER_ONLY):
        assert decl[key].get("scope") == "application", f"{key} must be scope application"
