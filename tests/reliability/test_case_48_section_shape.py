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


@pytest.mark.parametrize(
    ("section", "key", "mine", "bad"),
    [
        ("execution", "maxAttempts", 1, 0),
        ("context", "tokenBudget", 5000, float("nan")),
        ("context", "tokenBudget", 5000, -1),
        ("validation", "timeout", 30.0, float("nan")),
        ("planning", "maxExploreTurns", 2, -3),
    ],
)
def test_case_48_an_invalid_lower_workspace_value_keeps_the_users_value(
    section: str, key: str, mine: object, bad: object
) -> None:
    """A workspace may lower these; a value below what validation accepts (0 attempts, a NaN
    budget, a negative count) used to reset the setting to its default, above the user's own."""
    settings, problems = load_settings({section: {key: mine}}, {section: {key: bad}})
    assert settings.model_dump(by_alias=True)[section][key] == mine
    assert any(f"planfirst.{section}.{key}" in p and "your own setting" in p for p in problems)


def test_case_48_an_invalid_user_value_still_takes_the_default() -> None:
    settings, problems = load_settings({"execution": {"maxAttempts": 0}})
    assert settings.execution.max_attempts == load_settings()[0].execution.max_attempts
    assert problems == [
        "planfirst.execution.maxAttempts: Input should be greater than or equal to 1 "
        "(using the default)"
    ]
