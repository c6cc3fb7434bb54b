"""docs/reliability.md case 49: a boolean is not a number. `"maxCostPlanning": true` was read as
a $1 cap (and `false` as $0) with no warning, so a user who meant "yes, cap it" got a dollar of
spending they never chose. A boolean where a number belongs is refused with a message naming the
setting and the value; a cap refused that way is taken as $0 (case 41: an invalid cap is never
"no cap", nor an amount the user did not write), any other number keeps its default."""

from __future__ import annotations

from pathlib import Path

import pytest

from planfirst.core.workflow.session import Session
from planfirst.llm.model import BudgetStop
from planfirst.settings import load_settings
from tests.reliability.conftest import Invariants
from tests.support.fake_host import FakeHost, ScriptedModels
from tests.test_session_inprocess import DEMO, TASK


async def test_case_49_a_boolean_cap_is_refused_and_nothing_is_spent(
    ws: Path, inv: Invariants
) -> None:
    srv = inv.scripted_server(list(DEMO))
    settings, problems = load_settings(
        {"critique": {"model": "off"}, "budget": {"maxCostPlanning": True}}
    )
    assert any(
        "planfirst.budget.maxCostPlanning" in p and "true is a boolean" in p and "$0" in p
        for p in problems
    ), problems
    models = ScriptedModels(settings, srv.base_url)
    try:
        session = Session(ws, settings, models, FakeHost(ws))
        with pytest.raises(BudgetStop, match=r"maxCostPlanning is \$0"):
            await session.generate(TASK)
    finally:
        await models.aclose()
    assert srv.requests == [], "a request was sent under a cap the user never gave"


@pytest.mark.parametrize(
    ("layer", "name"),
    [
        ({"maxTokens": True}, "planfirst.maxTokens"),
        ({"context": {"tokenBudget": True}}, "planfirst.context.tokenBudget"),
        ({"execution": {"maxAttempts": False}}, "planfirst.execution.maxAttempts"),
        ({"anthropic": {"maxRetries": True}}, "planfirst.anthropic.maxRetries"),
        ({"prices": {"claude-sonnet-5-5": {"output": False}}}, "planfirst.prices"),
    ],
)
def test_case_49_a_boolean_number_keeps_the_default_and_is_named(
    layer: dict[str, object], name: str
) -> None:
    settings, problems = load_settings(layer)
    defaults, _ = load_settings()
    assert any(p.startswith(name) and "boolean" in p for p in problems), problems
    assert settings.model_dump() == defaults.model_dump()
