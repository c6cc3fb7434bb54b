"""The terminal client's cost views: the estimate before the approval question (with the choice of
execution model) and the estimate column of the closing summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from planfirst.plan.cost import CostEstimate, usd_range
from planfirst.plan.model import Plan

_NO = ("", "n", "no")


class _Client(Protocol):
    ed: Any
    args: Any

    async def cmd(self, name: str, args: dict[str, Any]) -> Any: ...


async def preview(
    client: _Client, plan_id: str, model: str | None
) -> tuple[CostEstimate, list[dict[str, Any]]]:
    """The estimate for running the plan on `model`, and on the other models one could choose,
    from approvePlan's preview."""
    res = await client.cmd(
        "planfirst.approvePlan", {"planId": plan_id, "preview": True, "executionModel": model}
    )
    return CostEstimate.model_validate(res["estimate"]), list(res.get("choices") or [])


def show(client: _Client, est: CostEstimate, choices: Sequence[dict[str, Any]] = ()) -> None:
    """Print the estimate: total, then each step, then the other models' ranges."""
    ed = client.ed
    ed.say(f"Estimated cost: {est.line()}")
    steps = ", ".join(f"{s.order}: {usd_range(s.low, s.high)}" for s in est.steps)
    if steps:
        ed.say(f"  per step — {steps}")
    others = [c for c in choices if c.get("model") != est.model]
    if others:
        ed.say(
            "  on another model — "
            + ", ".join(f"{c['model']} {usd_range(c['low'], c['high'])}" for c in others)
        )


async def choose_model(client: _Client, plan_id: str, *, always: bool) -> str | None:
    """Show the estimate and ask for approval; the answer may name another execution model
    (its estimate is shown and the question asked again). Returns the model to run the plan on,
    or None when the plan is not approved."""
    ed = client.ed
    model: str | None = getattr(client.args, "execution_model", None)
    while True:
        try:
            est, choices = await preview(client, plan_id, model)
        except Exception as e:  # a model name the server refuses: say why, ask again
            if model is None:
                raise
            ed.say(str(getattr(e, "message", e)))
            model = None
            continue
        model = est.model
        show(client, est, choices)
        question = "Approve this plan and start executing it?"
        if ed.yes and not always:
            ed.say(f"{question} [y/N] y (--yes)")
            return model
        ed.clear_progress()
        try:
            answer = (await _input(f"{question} [y/N, or a model name to estimate] ")).strip()
        except EOFError:
            return None
        if answer.lower() in ("y", "yes"):
            return model
        if answer.lower() in _NO or " " in answer:
            return None
        model = answer  # a model name: estimate it and ask again (a bad name is an error)


async def switch_model(client: _Client, plan_id: str, model: str) -> None:
    """`resume --execution-model M` on an approved plan: its remaining steps run on M (kept in
    the plan as its execution model; each step run records the model it used)."""
    res = await client.cmd("planfirst.approvePlan", {"planId": plan_id, "executionModel": model})
    chosen = res.get("executionModel") or model
    client.ed.say(f"The remaining steps run on {chosen} (--execution-model).")
    if res.get("estimate"):
        show(client, CostEstimate.model_validate(res["estimate"]))


async def _input(prompt: str) -> str:
    import asyncio

    return await asyncio.to_thread(input, prompt)


def estimated(plan: Plan, order: int) -> str:
    """The summary's estimate column for step `order` (empty without an estimate)."""
    sc = plan.estimate.step(order) if plan.estimate is not None else None
    return f"  {usd_range(sc.low, sc.high)}" if sc is not None else ""


def compared(plan: Plan) -> str | None:
    """Estimate against what the estimated steps really cost, for the closing summary."""
    est = plan.estimate
    if est is None or not est.steps:
        return None
    orders = {s.order for s in est.steps}
    actual = sum(r.usage.cost_usd for st in plan.steps if st.order in orders for r in st.runs)
    inside = "within" if est.low <= actual <= est.high else "outside"
    return (
        f"estimate before approval: {usd_range(est.low, est.high)} on {est.model}; "
        f"actual ${actual:.4f} ({inside} the range)"
    )
