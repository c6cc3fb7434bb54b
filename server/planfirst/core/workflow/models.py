"""Which model executes a plan: the one chosen at approval, else the executionModel setting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from planfirst.core.workflow.contracts import SessionError
from planfirst.llm.catalog import DEFAULT_EXECUTION_MODEL
from planfirst.llm.model import Model
from planfirst.plan.model import Plan

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session

MAX_NAME = 100


def execution_model_name(s: Session, plan: Plan) -> str:
    """The name of the model that executes `plan`'s steps."""
    return plan.execution_model or s.settings.execution_model


def execution_model(s: Session, plan: Plan) -> Model:
    """The model that executes `plan`'s steps (the factory's own when it is the set one)."""
    name = execution_model_name(s, plan)
    if name == s.settings.execution_model:
        return s.models.execution()
    make = getattr(s.models, "execution_as", None)
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
