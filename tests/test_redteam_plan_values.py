"""docs/reliability.md case 42, the memory a shipped plan file can cost: a 60 MB plan.json of
tiny objects (`[{"a":0},{"a":0},…]`) made json.loads build tens of millions of Python objects,
about 1.5 GB once while it was parsed, at start-up, when plans are listed. Such a file (or
revision file) is refused before it is parsed, by a count of its JSON values outside its
strings; the largest plan planfirst writes (1,000 steps, runs holding long file texts full of
braces, brackets and commas) still loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from planfirst.plan import trusted
from planfirst.plan.files import StoreError
from planfirst.plan.model import (
    MAX_PLAN_STEPS,
    FileModification,
    Plan,
    PlanBody,
    PlanStatus,
    RunOutcome,
    Step,
    StepRun,
    StepStatus,
    ValidationResult,
)
from planfirst.plan.store import PlanStore
from tests.support.plan_fixtures import make_plan

ROOT = Path(__file__).resolve().parent.parent

# Peak memory of listing the plans of a workspace with one hostile 60 MB plan.json, over what the
# process held before. The file's bytes and its text are 120 MB of it; before the fix this was
# about 1.5 GB.
MAX_PEAK_MB = 400

# measured in a child process: ru_maxrss is the peak of the whole process
_CHILD = """
import json, resource, sys
from pathlib import Path
from planfirst.plan.store import PlanStore
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
plans, problems = PlanStore(Path(sys.argv[1])).list()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
json.dump({"mb": (peak - before) / 1024, "plans": [p.id for p in plans],
           "problems": {p.plan_id: p.error for p in problems}}, sys.stdout)
"""


def _ship_hostile(ws: Path, pid: str, unit: str, size: int = 60 << 20) -> Path:
    """A plan.json of `size` bytes: a JSON array of `unit` repeated (written in pieces)."""
    d = ws / ".planfirst" / "plans" / pid
    d.mkdir(parents=True)
    path = d / "plan.json"
    piece = (unit + ",") * (1 << 20 // len(unit))
    with path.open("w") as f:
        f.write("[")
        written = 1
        while written + len(piece) < size:
            f.write(piece)
            written += len(piece)
        f.write(unit + "]")
    return path


def _list_in_child(ws: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT)])}
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ws)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    out: dict[str, Any] = json.loads(res.stdout)
    return out


@pytest.mark.timeout(300)
@pytest.mark.parametrize("unit", ['{"a":0}', "[]"], ids=["tiny-objects", "empty-arrays"])
def test_a_hostile_60_mb_plan_json_is_refused_within_bounded_memory(
    tmp_path: Path, unit: str
) -> None:
    st = PlanStore(tmp_path)
    good = make_plan("good-0a1b2c")
    st.save(good)
    st.settle()
    path = _ship_hostile(tmp_path, "hostile-0a1b2c", unit)
    got = _list_in_child(tmp_path)
    assert got["mb"] < MAX_PEAK_MB, got  # 1.5 GB before
    assert got["plans"] == ["good-0a1b2c"]  # the other plans are listed
    error = got["problems"]["hostile-0a1b2c"]
    assert str(path) in error and "JSON values" in error, error


def _code(lines: int) -> str:
    """File text full of what a JSON value count must not count: separators in strings,
    escaped quotes and backslashes (a string ending in a backslash too)."""
    row = 'x = {"a": [1, 2], "b": {"c": "\\\\"}, \'d\': (3, [4, {5: 6}])}, f(a, b)[0]:\n'
    return "".join(f"{i}: {row}" for i in range(lines)) + "tail \\"


def _largest_legit_plan() -> Plan:
    """The largest plan planfirst writes: 1,000 steps, each run three times with two checks and
    the before/after texts of three files; one run holds a file of 20,000 lines."""
    n = MAX_PLAN_STEPS
    files = [f"src/m{i}.py" for i in range(3)]
    body = PlanBody(
        summary="Big.",
        files_to_modify=[FileModification(path=p, changes="edit") for p in files],
        steps=[
            Step(
                order=i,
                description=f"Edit the modules, part {i}: `f(a, b)[0]` and `{{x: [y]}}`.",
                files_to_modify=files,
                validation=["pytest -q tests/test_m.py", "ruff check src"],
            )
            for i in range(1, n + 1)
        ],
        test_criteria=["`pytest -q` passes"],
    )
    plan = Plan(id="largest-0a1b2c", title="Largest", task="x", body=body)
    plan.status = PlanStatus.EXECUTING
    text = _code(20)
    for st in plan.steps:
        st.status = StepStatus.DONE
        st.runs = [
            StepRun(
                attempt=a,
                execution_attempt=a,
                model="claude",
                prompt_hash="0" * 64,
                proposed_diff="--- a\n+++ b\n" + text,
                outcome=RunOutcome.APPLIED if a == 3 else RunOutcome.REJECTED,
                validation=[
                    ValidationResult(command=c, exit_code=0, passed=True, output=text[:400])
                    for c in body.steps[0].validation
                ],
                before={p: text for p in files},
                after={p: text + "y = [1, 2]\n" for p in files},
                sent={p: "whole" for p in files},
            )
            for a in (1, 2, 3)
        ]
    plan.steps[0].runs[0].after[files[0]] = _code(20_000)
    return plan


@pytest.mark.timeout(300)
def test_the_largest_legitimate_plan_still_loads(tmp_path: Path) -> None:
    plan = _largest_legit_plan()
    st = PlanStore(tmp_path)
    st.save(plan)
    st.save_revision(plan)
    st.settle()
    raw = st.plan_json(plan.id).read_text()
    assert len(raw) > 8 << 20  # megabytes of file texts
    # far more separators in its strings than the bound: strings must be skipped to load it
    assert sum(raw.count(c) for c in "[{,:") > trusted.max_plan_values()
    assert trusted.count_values(raw, trusted.max_plan_values()) < trusted.max_plan_values() // 4
    fresh = PlanStore(tmp_path)
    loaded = fresh.load(plan.id)
    assert loaded == plan  # trusted: not made a foreign draft
    assert fresh.load_revision(plan.id, plan.revision).steps == plan.steps
    assert [p.id for p in fresh.list()[0]] == [plan.id]


def test_a_hostile_revision_file_is_refused_by_its_value_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trusted, "MAX_PLAN_STEPS", 3)  # a bound of a few thousand values
    st = PlanStore(tmp_path)
    plan = make_plan()
    st.save(plan)
    st.save_revision(plan)
    st.settle()
    path = tmp_path / ".planfirst" / "plans" / plan.id / "revisions" / f"{plan.revision}.json"
    path.write_text(path.read_text().replace("{", '{"x": [' + "[]," * 20_000 + "[]],", 1))
    with pytest.raises(StoreError, match="JSON values") as e:
        PlanStore(tmp_path).load_revision(plan.id, plan.revision)
    assert str(path) in str(e.value)
    assert PlanStore(tmp_path).load(plan.id) == plan  # plan.json itself is fine


def _values(data: object) -> int:
    """What json.loads made: every value, and every key of an object."""
    if isinstance(data, dict):
        return 1 + sum(1 + _values(v) for v in data.values())
    if isinstance(data, list):
        return 1 + sum(_values(v) for v in data)
    return 1


SAMPLES = [
    "0",
    "[]",
    "{}",
    '"a,b:[{"',
    '["\\\\", [], [], {"k": [1, 2.5e3, true, null]}]',  # a string ending in a backslash
    '["\\"],[", {"a\\\\": "\\\\\\"", "b": []}]',  # escaped quotes before separators
    '{"a": {"b": {"c": [[[{}]]]}}, "d": "\\u005c", "e": ","}',
    "  [ 1 , 2 ,\n 3 ]  ",
    json.dumps({"x": ["a", {"b": [None, 1, "c"]}], "y": "[" * 50}, indent=2),
]


@pytest.mark.parametrize("raw", SAMPLES)
def test_the_count_bounds_the_values_json_makes_and_skips_strings(raw: str) -> None:
    made = _values(json.loads(raw))
    counted = trusted.count_values(raw, 10**6)
    assert made <= counted <= made + 1 + raw.count("[") + raw.count("{")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "raw",
    [
        '["abc, [], [], []',  # an unterminated string
        '["a\\", [], [], []',  # the quote is escaped: the string never ends
        '["' + '\\"' * 200_000,  # escaped quotes to the end: no rescan from each of them
    ],
)
def test_a_string_that_never_ends_hides_nothing(raw: str) -> None:
    # json.loads stops there, having made nothing after it: what follows need not be counted
    with pytest.raises(json.JSONDecodeError, match="Unterminated string"):
        json.loads(raw)
    assert trusted.count_values(raw, 10**6) == 2  # the document and its `[`
