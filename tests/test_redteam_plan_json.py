"""Red-team (#32): a plan.json a repository ships must load as a plan (trusted or foreign) or
fail with a StoreError naming the file, never with another exception: one such file in one plan
folder must not break loading and listing every other plan (docs/reliability.md cases 24, 42)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planfirst.plan.files import StoreError
from planfirst.plan.model import PlanStatus
from planfirst.plan.store import PlanStore
from tests.support.plan_fixtures import make_plan


def _shipped(tmp_path: Path, edit) -> tuple[PlanStore, str]:
    st = PlanStore(tmp_path)
    plan = make_plan()
    plan.status = PlanStatus.APPROVED
    st.save(plan)
    st.settle()
    path = st.plan_json(plan.id)
    path.write_text(edit(path.read_text()))
    return PlanStore(tmp_path), plan.id


HOSTILE = {
    # json.loads raises ValueError (not JSONDecodeError) for an integer over 4300 digits
    "huge-integer": lambda t: t.replace("{", '{"x": ' + "9" * 5000 + ",", 1),
    # json.loads raises RecursionError on deep nesting (400 KB, far under the size limit)
    "deep-nesting": lambda t: "[" * 200_000 + "]" * 200_000,
    # a lone surrogate escape parses and validates, then the seal over the data (the fallback
    # for plans sealed before #32) cannot encode it: UnicodeEncodeError
    "lone-surrogate": lambda t: t.replace('"task": "', '"task": "\\ud800', 1),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_plan_json_is_a_store_error_or_a_foreign_plan(tmp_path: Path, name: str) -> None:
    st, plan_id = _shipped(tmp_path, HOSTILE[name])
    try:
        plan = st.load(plan_id)
    except StoreError:
        pass
    else:
        assert plan.status == PlanStatus.DRAFT  # foreign: its approval is not trusted
        assert [f.rule for f in plan.findings] == ["untrusted-origin"]
        st.save(plan)  # a plan that loads can be approved, revised: saved
        st.settle()
    plans, problems = st.list()  # never raises: the folder is reported as a problem
    assert len(plans) + len(problems) == 1


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_revision_file_is_a_store_error_or_foreign(tmp_path: Path, name: str) -> None:
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    st.save_revision(plan)
    st.settle()
    path = tmp_path / ".planfirst" / "plans" / plan.id / "revisions" / f"{plan.revision}.json"
    path.write_text(HOSTILE[name](path.read_text()))
    try:
        PlanStore(tmp_path).load_revision(plan.id, plan.revision)
    except StoreError:
        pass


@pytest.mark.parametrize("mark", ["é" * 64, "é", "Z" * 64, " " * 64])
def test_a_seal_that_is_not_64_hex_makes_the_plan_foreign(tmp_path: Path, mark: str) -> None:
    # hmac.compare_digest raises TypeError on a non-ASCII str: a shipped plan.json whose seal
    # is "é" * 64 broke loading it and listing every plan
    import re

    st, plan_id = _shipped(
        tmp_path, lambda t: re.sub(r'"seal": "[0-9a-f]{64}"', f'"seal": "{mark}"', t)
    )
    plan = st.load(plan_id)
    assert plan.status == PlanStatus.DRAFT
    assert [f.rule for f in plan.findings] == ["untrusted-origin"]
    assert len(st.list()[0]) == 1
