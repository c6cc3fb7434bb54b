"""QA (orders users really do things in, against today's fixes): sequences driven end to end
through the Session with the fake host and the real SDK against the scripted loopback server;
after each, plan.json, plan.md and the files on disk must agree with what really happened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planfirst.plan.model import PlanStatus, StepStatus
from tests.reliability.test_step_edge_cases import done, edit, plan_turn, step
from tests.test_qa4_orders import SLUG, Start, plan_md, start  # noqa: F401  (the fixture)

CHECK = "python -c \"import textkit.slug as m; assert '(one)' in m.__doc__\""
S1 = step(1, ["textkit/slug.py"], what="Say `(one)` in slug.py.", check=CHECK)
DIAGNOSIS = {
    "tool": "submit_diagnosis",
    "input": {
        "suspect_step": 1,
        "broken_assumption": "tests/test_missing.py exists",
        "explanation": "pytest found no such file",
        "suggested_fix": "name an existing test file",
    },
}


def _failing_criteria(turn: dict[str, Any]) -> dict[str, Any]:
    turn["input"]["test_criteria"] = ["`pytest -q tests/test_missing.py` passes"]
    return turn


async def test_retry_after_a_hand_fix_validates_though_the_model_strayed_outside_the_step(
    start: Start,  # noqa: F811
) -> None:
    """Step 1 fails its validation; the user fixes slug.py by hand and runs Retry. The model
    first tries to touch tests/test_slug.py (outside the step: refused, as always), then sees
    the docstring is right and proposes nothing. The step failed at once with "the edit of
    tests/test_slug.py was refused: … a name the step gives may now be a link to it": a
    refusal of the model's own stray write was taken for the workspace being in the way, and
    the validation (which passes) never ran."""
    stray = edit("tests/test_slug.py", "import", "import  ")
    s, _ = start(
        [
            plan_turn([S1]),
            edit("textkit/slug.py", SLUG, '"""URL slugs (on)."""\n'),
            done(),
            stray,
            {"text": "The docstring already says (one); nothing to change."},
        ]
    )
    s.settings.execution.max_attempts = 1
    plan = await s.generate("say (one)")
    await s.approve(plan.id)
    assert (await s.execute_next(plan.id)).status.value == "failed"
    path = s.root / "textkit/slug.py"
    path.write_text(path.read_text(encoding="utf-8").replace("(on)", "(one)"), encoding="utf-8")
    out = await s.retry(plan.id, None)
    assert out.status.value == "done", out.message
    now = s.load(plan.id)
    assert now.state(1).status == StepStatus.DONE
    assert "[x] done" in plan_md(s, plan.id)


async def test_undo_out_of_a_plan_whose_criteria_failed_drops_their_diagnosis(
    start: Start,  # noqa: F811
) -> None:
    """The step is done, the test criteria fail and the planning model diagnoses them. The user
    undoes the step: the results are dropped (they ran on code no longer on disk), but plan.md
    still showed "## Diagnosis: Suspect step 1 … pytest found no such file" — an explanation
    of results it no longer lists, about a step that is now undone."""
    s, _ = start(
        [
            _failing_criteria(plan_turn([S1])),
            edit("textkit/slug.py", SLUG, '"""URL slugs (one)."""\n'),
            done(),
            DIAGNOSIS,
        ]
    )
    plan = await s.generate("say (one)")
    await s.approve(plan.id)
    await s.execute_next(plan.id)
    failed = s.load(plan.id)
    assert failed.status == PlanStatus.FAILED and failed.diagnosis is not None
    assert "## Diagnosis" in plan_md(s, plan.id)
    await s.undo(plan.id, None)
    now = s.load(plan.id)
    assert now.state(1).status == StepStatus.UNDONE and now.final_validation == []
    assert now.diagnosis is None
    assert "## Diagnosis" not in plan_md(s, plan.id)


async def test_a_hand_edit_reload_of_a_plan_whose_criteria_failed_drops_their_diagnosis(
    start: Start,  # noqa: F811
) -> None:
    """Criteria failed and diagnosed; the user edits plan.md by hand (fixes the test criteria as
    the diagnosis suggests) and reloads: the results are dropped (carry_over) but the diagnosis
    of them stayed in plan.md, now next to the corrected criteria it no longer explains."""
    s, _ = start(
        [
            _failing_criteria(plan_turn([S1])),
            edit("textkit/slug.py", SLUG, '"""URL slugs (one)."""\n'),
            done(),
            DIAGNOSIS,
        ]
    )
    plan = await s.generate("say (one)")
    await s.approve(plan.id)
    await s.execute_next(plan.id)
    md: Path = s.store.plan_md(plan.id)
    s.store.settle()
    text = md.read_text(encoding="utf-8")
    assert "tests/test_missing.py" in text
    md.write_text(
        text.replace(
            "`pytest -q tests/test_missing.py` passes", "`pytest -q tests/test_slug.py` passes", 1
        ),
        encoding="utf-8",
    )
    new = s.reload(plan.id)
    assert new.revision == plan.revision + 1
    assert new.final_validation == [] and new.diagnosis is None
    assert "## Diagnosis" not in plan_md(s, plan.id)
