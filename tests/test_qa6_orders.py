"""QA (orders users really do things in, against today's fixes): sequences driven end to end
through the Session with the fake host and the real SDK against the scripted loopback server;
after each, plan.json, plan.md and the files on disk must agree with what really happened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planfirst.core.workflow.contracts import ApplyOutcome
from planfirst.plan.model import PlanStatus, StepStatus
from tests.reliability.test_step_edge_cases import done, edit, plan_turn, step
from tests.support.plan_fixtures import DIAGNOSIS, failing_criteria
from tests.test_qa4_orders import SLUG, Start, plan_md, start  # noqa: F401  (the fixture)

CHECK = "python -c \"import textkit.slug as m; assert '(one)' in m.__doc__\""
S1 = step(1, ["textkit/slug.py"], what="Say `(one)` in slug.py.", check=CHECK)


async def _retry_after_hand_fix(begin: Start, stray: dict[str, Any]) -> tuple[Any, str]:
    """Step 1 fails its validation (the model wrote "(on)"); the user fixes slug.py by hand and
    runs Retry; the model makes `stray` (refused) and then no change: the step must end done."""
    s, _ = begin(
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
    return s, plan.id


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
    s, plan_id = await _retry_after_hand_fix(start, stray)
    assert s.load(plan_id).state(1).status == StepStatus.DONE
    assert "[x] done" in plan_md(s, plan_id)


async def test_a_step_whose_model_tried_to_create_a_folder_by_mistake_is_still_validated(
    start: Start,  # noqa: F811
) -> None:
    """As above, the model's stray write is a `create` of `textkit` (a folder, no file of the
    step): refused, then no change. The validation decides (it passes): only a folder where a
    file of the step should be fails a step without a change."""
    stray = {
        "tool": "str_replace_based_edit_tool",
        "input": {"command": "create", "path": "textkit", "file_text": "x\n"},
    }
    await _retry_after_hand_fix(start, stray)


async def test_undo_out_of_a_plan_whose_criteria_failed_drops_their_diagnosis(
    start: Start,  # noqa: F811
) -> None:
    """The step is done, the test criteria fail and the planning model diagnoses them. The user
    undoes the step: the results are dropped (they ran on code no longer on disk), but plan.md
    still showed "## Diagnosis: Suspect step 1 … pytest found no such file" — an explanation
    of results it no longer lists, about a step that is now undone."""
    s, _ = start(
        [
            failing_criteria(plan_turn([S1])),
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
            failing_criteria(plan_turn([S1])),
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


def _create(text: str) -> dict[str, Any]:
    return {
        "tool": "str_replace_based_edit_tool",
        "input": {"command": "create", "path": "textkit/extra.py", "file_text": text},
    }


async def test_a_step_run_again_after_an_undo_that_kept_its_new_file_may_edit_that_file(
    start: Start,  # noqa: F811
) -> None:
    """Step 1 creates textkit/extra.py and is done. The user undoes it with "Undo some files…"
    and keeps extra.py (VS Code's preview lets a file operation be unticked), then executes
    step 1 again. The model's create of extra.py was refused ("already exists, and this step
    was planned to create it") and the step failed naming it: the file in the way is the
    step's own, left there by the user's own choice in the step's undo."""
    chk = 'python -c "import textkit.extra as m; assert m.X == 3"'
    s1 = step(1, [], create=["textkit/extra.py"], what="Create extra.py with X.", check=chk)
    s, host = start(
        [
            plan_turn([s1], create=["textkit/extra.py"]),
            _create("X = 3\n"),
            done(),
            _create("X = 3\n"),
            done(),
        ]
    )
    plan = await s.generate("extra")
    await s.approve(plan.id, force=True)
    f = s.root / "textkit/extra.py"
    assert (await s.execute_next(plan.id)).status.value == "done"
    apply = host.apply_change

    async def keep_new_file(change: Any, label: str, description: str) -> Any:
        """The user unticks the deletion of extra.py in the undo's preview (the editor applies
        the rest and saves it; the server reads back what the disk holds)."""
        host.changes.append(change)
        for c in change.files:
            if c.new is not None:
                (s.root / c.path).write_text(c.new, encoding="utf-8")
        return ApplyOutcome(True)

    host.apply_change = keep_new_file  # type: ignore[method-assign]
    assert (await s.undo(plan.id, None)).status.value == "undone"
    host.apply_change = apply  # type: ignore[method-assign]
    assert f.read_text(encoding="utf-8") == "X = 3\n"
    assert s.load(plan.id).state(1).status == StepStatus.UNDONE
    out = await s.execute_next(plan.id)
    assert out.status.value == "done", out.message
    assert s.load(plan.id).status == PlanStatus.DONE
    assert "[x] done" in plan_md(s, plan.id)


async def test_a_done_plan_revised_only_in_its_test_criteria_runs_them_on_execute(
    start: Start,  # noqa: F811
) -> None:
    """The criteria failed (a test file that does not exist); the user revises the plan as the
    diagnosis suggests, changing only the criteria, and approves it: every step is still done,
    no results are shown, and Execute runs the new criteria (the editor must offer it: the
    status sent has no next step)."""
    s, _ = start(
        [
            failing_criteria(plan_turn([S1])),
            edit("textkit/slug.py", SLUG, '"""URL slugs (one)."""\n'),
            done(),
            DIAGNOSIS,
            plan_turn([S1]),  # the same step, the criteria fixed
        ]
    )
    plan = await s.generate("say (one)")
    await s.approve(plan.id)
    await s.execute_next(plan.id)
    assert s.load(plan.id).status == PlanStatus.FAILED
    await s.revise(plan.id, "name an existing test file")
    approved = await s.approve(plan.id)
    assert approved.status == PlanStatus.APPROVED and approved.next_step() is None
    assert approved.state(1).status == StepStatus.DONE and approved.final_validation == []
    out = await s.execute_next(plan.id)
    assert out.status.value == "done", out.message
    now = s.load(plan.id)
    assert now.status == PlanStatus.DONE and now.final_validation[0].passed
    assert "## Test criteria results" in plan_md(s, plan.id)
