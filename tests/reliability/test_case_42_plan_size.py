"""docs/reliability.md case 42: nothing a repository ships makes planfirst's work super-linear in
its size. A shipped active plan of 6,000 steps (under 1 MB) used to block the server right after
`initialized` (rendering looked every step up in a list, per step), 20,000 took minutes, and
`planfirst diff` hung the same way. Now a plan over 1,000 steps is refused with a message that
says so, and rendering, parsing, comparing and storing are linear: 20,000 steps (allowed here by
raising the limit) finish well inside the test's timeout."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.core.workflow.revisions import review_diff
from planfirst.plan import model, trusted
from planfirst.plan.model import Plan, PlanBody, RevisionChanges, StepChange
from planfirst.plan.render import parse_markdown, render
from planfirst.plan.store import PlanStore
from tests.reliability.conftest import Invariants, serve
from tests.reliability.test_untrusted_model import one_step_plan
from tests.support.lsp_harness import command


def _body(n: int) -> dict[str, Any]:
    body = one_step_plan(["pytest -q"])
    step = body["steps"][0]
    body["steps"] = [
        {**step, "order": i, "description": f"Edit `README.md`, part {i}."} for i in range(1, n + 1)
    ]
    return body


def _ship(ws: Path, pid: str, n: int, *, active: bool = False) -> None:
    """A plan file as a repository would ship it (never through planfirst)."""
    small = Plan(id=pid, title=f"{n} steps", task="x", body=PlanBody.model_validate(_body(1)))
    data = json.loads(small.model_dump_json())
    data["body"]["steps"] = _body(n)["steps"]
    data["steps"] = [{"order": i} for i in range(1, n + 1)]
    d = ws / ".planfirst" / "plans" / pid
    d.mkdir(parents=True)
    (d / "plan.json").write_text(json.dumps(data))
    if active:
        (ws / ".planfirst" / "active").write_text(pid + "\n")


@pytest.mark.timeout(180)
async def test_case_42_a_shipped_huge_plan_is_refused_and_the_server_answers(
    ws: Path, inv: Invariants
) -> None:
    _ship(ws, "six-thousand-0a1b2c", 6_000, active=True)
    _ship(ws, "twenty-thousand-0a1b2c", 20_000)
    for pid in ("six-thousand-0a1b2c", "twenty-thousand-0a1b2c"):
        inv.broken.add(ws / ".planfirst" / "plans" / pid / "plan.json")
    async with serve(inv, ws, inv.scripted_server([])) as (client, _e, _l):
        assert await command(client, "planfirst.listPlans", {}) == []
        shown = " ".join(m.message for m in client.messages)
        assert "20000 steps, over planfirst's limit of 1000 steps" in shown, shown
        assert "6000 steps, over planfirst's limit of 1000 steps" in shown, shown


@pytest.mark.timeout(180)
def test_case_42_planfirst_diff_refuses_a_huge_plan(ws: Path, inv: Invariants) -> None:
    _ship(ws, "twenty-thousand-0a1b2c", 20_000)
    inv.broken.add(ws / ".planfirst" / "plans" / "twenty-thousand-0a1b2c" / "plan.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    res = subprocess.run(
        [
            sys.executable,
            "-I",
            "-m",
            "planfirst",
            "diff",
            "--plan",
            "twenty-thousand-0a1b2c",
            "--workspace",
            str(ws),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert res.returncode == 2 and "over planfirst's limit of 1000 steps" in res.stderr, res


@pytest.mark.timeout(240)
@pytest.mark.parametrize("n", [6_000, 20_000])
def test_case_42_rendering_and_comparing_are_linear(
    ws: Path, inv: Invariants, monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    """With the limit lifted, a plan of n steps whose revision changed every third step is
    rendered, parsed back, compared with its previous revision, saved and loaded."""
    monkeypatch.setattr(model, "MAX_PLAN_STEPS", 10**6, raising=False)
    monkeypatch.setattr(trusted, "MAX_PLAN_STEPS", 10**6, raising=False)
    old = Plan(id="big-0a1b2c", title="Big", task="x", body=PlanBody.model_validate(_body(n)))
    new = old.model_copy(deep=True)
    new.revision = 2
    changed = new.body.steps[::3]
    for s in changed:
        s.description += " (reworded)"
    new.changes = RevisionChanges(
        from_revision=1,
        steps=[
            StepChange(
                id=s.id, before=s.order, after=s.order, kinds=["reworded"], title=s.description
            )
            for s in changed
        ],
        dependent=[s.id for s in new.body.steps[1::3]],
    )
    for f in range(0, n, 5):
        new.findings.append(
            model.Finding(rule="step-vague", severity="warning", message="vague", step=f + 1)
        )
    text = render(new).text
    assert text.count("### Step ") == n
    assert "> Changed in revision 2: reworded" in text
    _task, back = parse_markdown(text)
    assert len(back.steps) == n
    diff = review_diff(old, new)
    assert diff.count("\n+") >= len(changed)
    s = PlanStore(ws)
    s.save(new)
    assert len(s.load(new.id).body.steps) == n
    inv.broken.add(ws / ".planfirst" / "plans" / new.id / "plan.json")  # over the real limit


# Runs of 1, 2, 3, ... backticks, each run of a length of its own: a line of a plan.md that the
# old backtracking code-span regex took seconds on at 3 KB and many minutes at 20 KB.
BACKTICK_RUNS = "".join("`" * i + "x" for i in range(1, 200))


@pytest.mark.timeout(120)
def test_case_42_backtick_runs_in_plan_md_parse_in_linear_time() -> None:
    plan = Plan(id="runs-0a1b2c", title="t", task="x", body=PlanBody.model_validate(_body(1)))
    text = render(plan).text.replace(
        "- Modify: `README.md`", "- Modify: `README.md` " + BACKTICK_RUNS
    )
    started = time.monotonic()
    _task, back = parse_markdown(text)
    assert time.monotonic() - started < 10
    assert back.steps[0].files_to_modify[0] == "README.md"


@pytest.mark.timeout(120)
async def test_case_42_reload_of_a_shipped_plan_md_keeps_the_server_answering(
    ws: Path, inv: Invariants
) -> None:
    """A repository ships a plan whose plan.md has a line of backtick runs; the user reloads it
    (as the untrusted-origin finding suggests): the reload answers, the server stays up."""
    _ship(ws, "runs-0a1b2c", 1)
    md = ws / ".planfirst" / "plans" / "runs-0a1b2c" / "plan.md"
    shipped = Plan(
        id="runs-0a1b2c", title="1 steps", task="x", body=PlanBody.model_validate(_body(1))
    )
    md.write_text(
        render(shipped).text.replace(
            "- Modify: `README.md`", "- Modify: `README.md` " + BACKTICK_RUNS
        )
    )
    inv.broken.add(md)
    async with serve(inv, ws, inv.scripted_server([])) as (client, _e, _l):
        started = time.monotonic()
        with contextlib.suppress(JsonRpcException):
            await command(client, "planfirst.reloadPlan", {"planId": "runs-0a1b2c"})
        assert time.monotonic() - started < 30
        assert [p["id"] for p in await command(client, "planfirst.listPlans", {})] == [
            "runs-0a1b2c"
        ]
