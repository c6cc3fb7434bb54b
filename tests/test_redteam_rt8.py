"""Red team (rt8): the planning side and the money, against a hostile repository and model."""

from __future__ import annotations

from planfirst.settings import load_settings

# ---------------------------------------------------------------- settings: the models


def test_a_workspace_cannot_switch_to_a_pricier_model_or_turn_spending_back_on() -> None:
    """`.vscode/settings.json` in a cloned repository said `"planfirst.planningModel":
    "claude-mythos-preview"` ($15/$75 against the default's $4/$20): the model choice is not a
    number, so no ceiling held it, and every plan cost almost four times as much. It could also
    turn the critique pass (a second model run per plan) and lint re-asks back on."""
    user = {
        "planfirst": {
            "executionModel": "claude-haiku-4-5",
            "critique": {"enabled": False, "tighten": False},
            "planning": {"lintFeedback": False},
        }
    }
    workspace = {
        "planfirst": {
            "planningModel": "claude-mythos-preview",
            "executionModel": "claude-opus-4-1",
            "critique": {"enabled": True, "tighten": True, "model": "claude-opus-4-1"},
            "planning": {"lintFeedback": True},
        }
    }
    settings, problems = load_settings(user, workspace, environ={})
    assert settings.planning_model == "claude-opus-5-5"  # the default, not the repository's
    assert settings.execution_model == "claude-haiku-4-5"
    assert not settings.critique.enabled and not settings.critique.tighten
    assert settings.critique.model == ""
    assert not settings.planning.lint_feedback
    said = "\n".join(problems)
    for key in ("planningModel", "executionModel", "critique.model", "critique.enabled"):
        assert f"planfirst.{key}" in said

    # a model no dearer than the user's (or the default) may still be chosen by a workspace,
    # and a switch may be turned off
    cheaper = {
        "planfirst": {
            "planningModel": "claude-sonnet-5-5",
            "executionModel": "claude-3-haiku",
            "critique": {"enabled": False},
        }
    }
    settings, _ = load_settings(None, cheaper, environ={})
    assert settings.planning_model == "claude-sonnet-5-5"
    assert settings.execution_model == "claude-3-haiku"
    assert not settings.critique.enabled
    # an unknown model is priced as the dearest: never taken from a workspace
    settings, _ = load_settings(None, {"planningModel": "gateway-model-x"}, environ={})
    assert settings.planning_model == "claude-opus-5-5"
    # the user's own choice, from the environment too, stays the user's
    settings, _ = load_settings(None, environ={"PLANFIRST_PLANNING_MODEL": "claude-mythos-preview"})
    assert settings.planning_model == "claude-mythos-preview"
