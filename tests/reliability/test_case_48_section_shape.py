"""docs/reliability.md case 48: a workspace setting cannot remove the user's settings by its
shape. A section given as something other than an object (`"budget": 5`, `"context": "x"`)
used to replace the user's whole section on merge and then fail validation, which dropped it:
the user's budget caps were lifted and the files the user excluded went to the model. Such a
section is ignored and reported; the user's values stay."""

from __future__ import annotations

import pytest

from planfirst.settings import load_settings

USER = {
    "budget": {"maxCostPerPlan": 1.5, "maxCostPerStep": 0.25},
    "context": {"exclude": ["private/**"]},
    "validation": {"allow": ["pytest"]},
    "anthropic": {"maxRetries": 1},
}


@pytest.mark.parametrize("bad", [5, "x", [], True, None, 0])
def test_case_48_a_wrongly_typed_workspace_section_keeps_the_users_values(bad: object) -> None:
    hostile = {name: bad for name in ("budget", "context", "validation", "anthropic", "lint")}
    settings, problems = load_settings(USER, hostile)
    assert settings.budget.max_cost_per_plan == 1.5 and settings.budget.max_cost_per_step == 0.25
    assert "private/**" in settings.context.exclude
    assert settings.validation.allow == ["pytest"]
    assert settings.anthropic.max_retries == 1
    if bad is not None:  # null is "not set" in every layer
        assert any("planfirst.budget: not an object" in p for p in problems), problems


def test_case_48_the_users_own_wrongly_typed_section_is_still_reported() -> None:
    settings, problems = load_settings({"budget": 5})
    assert any(p.startswith("planfirst.budget") for p in problems), problems
    assert settings.budget.max_cost_per_plan is None  # nothing the user had is lost
