"""Which model executes a plan: the one chosen at approval, else the executionModel setting."""

from __future__ import annotations

from planfirst.core.workflow.contracts import ModelFactory, SessionError
from planfirst.llm.catalog import DEFAULT_EXECUTION_MODEL
from planfirst.llm.model import Model
from planfirst.plan.model import Plan
from planfirst.settings import Settings

MAX_NAME = 100


def execution_model_name(settings: Settings, plan: Plan) -> str:
    """The name of the model that executes `plan`'s steps."""
    return plan.execution_model or settings.execution_model


def execution_model(models: ModelFactory, settings: Settings, plan: Plan) -> Model:
    """The model that executes `plan`'s steps (the factory's own when it is the set one)."""
    name = execution_model_name(settings, plan)
    if name == settings.execution_model:
        return models.execution()
    make = getattr(models, "execution_as", None)
    if make is None:
        raise SessionError(
            f"this client cannot run the plan on {name!r}; approve it again without a model"
        )
    model: Model = make(name)
    return model


def check_model_name(name: str) -> str:
    """A model name from a client, or a SessionError saying what is wrong with it."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_NAME or not all(c.isalnum() or c in "-._:@" for c in name):
        raise SessionError(
            f"executionModel {name[:MAX_NAME]!r} is not a model name (e.g. {DEFAULT_EXECUTION_MODEL})",
            "bad_model",
        )
    return name
