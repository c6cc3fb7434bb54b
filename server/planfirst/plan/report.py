"""A plan's closing report: per step its attempts, tokens, cost and time (what the terminal's
summary table prints), and every file the plan changed with its text when the plan started, so an
editor can show "all changes" of the plan as one multi-file diff."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from planfirst.plan.model import Plan, RunOutcome, StepRun

# runs whose edit reached the files (an undo's inverse edit too): their `before` is a real text
_LANDED = {RunOutcome.APPLIED, RunOutcome.APPLIED_UNDONE, RunOutcome.UNDONE}
TITLE_CHARS = 100
MAX_FILES = 500  # "all changes" lists at most this many files
MAX_TEXT = 2_000_000  # characters of one side of a file: larger files are counted, not sent


def _asked_model(run: StepRun) -> bool:
    """Did this run ask the model? Not an undo's inverse edit, nor a discarded edit offered again
    (no prompt, no call): those are not attempts."""
    return run.outcome is not RunOutcome.UNDONE and (bool(run.prompt_hash) or run.usage.calls > 0)


def _title(description: str) -> str:
    first = (description.strip().splitlines() or [""])[0]
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1].rstrip() + "…"


def _seconds(run: StepRun) -> float:
    if not run.finished_at:
        return 0.0
    try:
        delta = datetime.fromisoformat(run.finished_at) - datetime.fromisoformat(run.started_at)
    except ValueError:
        return 0.0
    return max(0.0, delta.total_seconds())


def _validation(run: StepRun | None) -> str:
    if run is None or not run.validation:
        return ""
    ok = sum(1 for v in run.validation if v.passed)
    return f"{ok}/{len(run.validation)} passed"


def step_reports(plan: Plan) -> list[dict[str, Any]]:
    """Each step: status, attempts (runs that asked the model), tokens in/out, cost, seconds,
    validation."""
    titles = {s.order: _title(s.description) for s in plan.body.steps}
    out = []
    for st in plan.steps:
        runs = [r for r in st.runs if _asked_model(r)]
        out.append(
            {
                "order": st.order,
                "title": titles.get(st.order, ""),
                "status": st.status.value,
                "attempts": len(runs),
                "inputTokens": sum(
                    r.usage.input_tokens
                    + r.usage.cache_read_input_tokens
                    + r.usage.cache_creation_input_tokens
                    for r in runs
                ),
                "outputTokens": sum(r.usage.output_tokens for r in runs),
                "costUsd": round(sum(r.usage.cost_usd for r in runs), 6),
                "seconds": round(sum(_seconds(r) for r in st.runs), 1),
                "validation": _validation(st.last_run),
            }
        )
    return out


def start_texts(plan: Plan) -> dict[str, str | None]:
    """Every file an edit of the plan reached, with its text before the first such edit (None: it
    did not exist), in the order the plan first touched them."""
    runs = sorted(
        (r for st in plan.steps for r in st.runs if r.outcome in _LANDED),
        key=lambda r: r.started_at,
    )
    start: dict[str, str | None] = {}
    for r in runs:
        for path, text in r.before.items():
            start.setdefault(path, text)
    return start


def plan_report(
    plan: Plan, read: Callable[[str], str | None], uri: Callable[[str], str | None]
) -> dict[str, Any]:
    """The planReport result: `read(rel)` gives a file's text now (None: absent), `uri(rel)` its
    URI, or None for a path that must not be shown (outside the workspace, excluded, a secret: a
    plan.json from elsewhere can name anything). Files whose text is back to where it started are
    left out; files not shown are counted in `omitted`."""
    steps = step_reports(plan)
    files: list[dict[str, Any]] = []
    omitted = 0
    for path, before in start_texts(plan).items():
        where = uri(path)
        if where is None or len(files) >= MAX_FILES:
            omitted += 1
            continue
        after = read(path)
        if after == before:
            continue
        if len(before or "") > MAX_TEXT or len(after or "") > MAX_TEXT:
            omitted += 1
            continue
        files.append({"path": path, "uri": where, "before": before, "after": after})
    return {
        "planId": plan.id,
        "title": plan.title,
        "status": plan.status.value,
        "steps": steps,
        "costUsd": round(plan.usage.cost_usd, 6),
        "seconds": round(sum(s["seconds"] for s in steps), 1),
        "files": files,
        "omitted": omitted,
    }
