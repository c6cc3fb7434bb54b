"""Plan invariants: each is rejected with the offending field named (docs/reliability.md case 2)."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from planfirst.plan.model import PlanBody, StepStatus, normalise_rel_path
from tests.support.plan_fixtures import body_dict, make_plan


def _err(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        PlanBody.model_validate(data)
    return str(info.value)


def test_valid_plan_parses() -> None:
    body = PlanBody.model_validate(body_dict())
    assert [s.order for s in body.steps] == [1, 2, 3]
    assert body.step(3).files == ["textkit/cli.py"]


def test_json_schema_has_exact_field_names() -> None:
    props = PlanBody.model_json_schema()["properties"]
    assert set(props) == {
        "summary",
        "files_to_modify",
        "files_to_create",
        "dependency_changes",
        "steps",
        "test_criteria",
        "risks",
        "assumptions",
    }


def test_gap_in_step_orders() -> None:
    d = body_dict()
    d["steps"][2]["order"] = 5
    assert "1..3" in _err(d)


def test_repeated_order() -> None:
    d = body_dict()
    d["steps"][1]["order"] = 1
    assert "order 1 is repeated" in _err(d)


def test_step_file_not_in_plan_lists() -> None:
    d = body_dict()
    d["steps"][0]["files_to_modify"] = ["textkit/other.py"]
    assert "steps[1].files_to_modify: 'textkit/other.py'" in _err(d)


def test_step_creates_unlisted_file() -> None:
    d = body_dict()
    d["steps"][1]["files_to_create"] = ["tests/unlisted.py"]
    assert "steps[2].files_to_create" in _err(d)


def test_depends_on_cycle() -> None:
    d = body_dict()
    d["files_to_modify"][0]["depends_on"] = ["textkit/cli.py"]
    assert "cycle" in _err(d)


def test_step_depends_on_later_step() -> None:
    d = body_dict()
    d["files_to_modify"][0]["depends_on"] = ["tests/test_top.py"]
    assert "must not depend on a later step" in _err(d)


def test_unknown_dependency() -> None:
    d = body_dict()
    d["files_to_modify"][1]["depends_on"] = ["nowhere.py"]
    assert "'nowhere.py' is not a file of this plan" in _err(d)


@pytest.mark.parametrize(
    "bad, words",
    [
        ("../../.ssh/config", "'..'"),
        ("/etc/passwd", "absolute"),
        ("C:\\x", "POSIX"),
        ("C:/x", "absolute"),
        ("~/x", "absolute"),
        ("a\x00b", "NUL"),
        ("", "empty"),
    ],
)
def test_paths_must_stay_inside(bad: str, words: str) -> None:
    d = copy.deepcopy(body_dict())
    d["files_to_modify"][0]["path"] = bad
    msg = _err(d)
    assert "files_to_modify.0.path" in msg
    assert words in msg


def test_path_normalisation() -> None:
    assert normalise_rel_path("./a//b/./c.py") == "a/b/c.py"


def test_no_steps() -> None:
    d = body_dict()
    d["steps"] = []
    d["files_to_modify"][1]["depends_on"] = []
    assert "no steps" in _err(d)


def test_unknown_field_rejected() -> None:
    d = body_dict()
    d["code"] = "print('x')"
    assert "code" in _err(d)


def test_plan_state_follows_steps() -> None:
    plan = make_plan()
    assert [s.order for s in plan.steps] == [1, 2, 3]
    assert plan.next_step() == 1
    plan.state(1).status = StepStatus.DONE
    assert plan.next_step() == 2
    assert plan.summary_row()["steps"] == {"total": 3, "done": 1, "failed": 0}
