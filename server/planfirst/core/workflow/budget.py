"""Budget caps and live usage: a Meter consulted before and after every model request.

Caps (planfirst.budget.*, user settings only): `maxCostPerStep` (everything a step's attempts
have cost), `maxCostPerPlan` (everything executing the plan has cost) and `maxCostPlanning` (one
planning operation: generate or revise, with whatever it asks the model, a critique included).
A cap of 0 means nothing may be spent: the first request is not sent.
Before each request, and before each retry of it (the whole prompt is sent again), the meter
prices the request's real worst case — the whole prompt at the cache write price plus every
output token of the `max_tokens` it is sent with — and, when that could cross a cap, lowers
max_tokens to what the cap has left, or stops when not even the smallest answer (1,024 tokens)
fits (docs/reliability.md case 41). What a cut stream had cost is counted too. Nothing of the
stopped request is sent; the step is
left as a model error leaves it (pending, or failed after an applied attempt), and raising the
cap and executing again (`planfirst resume`) continues it.

The meter is installed for an operation with `metered()` (a context variable, so concurrent
operations never share one); llm/ calls it from inside the model's tool loop (llm/model.METER).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planfirst.core.planning import cost
from planfirst.core.workflow.contracts import WorkspaceAccess
from planfirst.core.workflow.fsio import read_current
from planfirst.core.workflow.models import check_model_name
from planfirst.llm import catalog
from planfirst.llm.catalog import lookup, newest_models
from planfirst.llm.model import METER, BudgetStop, Meter, RequestQuote
from planfirst.plan.cost import CostEstimate, usd, usd_range
from planfirst.plan.model import Plan, PlanStatus, StepStatus, Usage, now_iso

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session


@dataclass(frozen=True)
class Cap:
    """One limit: its setting's name, the dollars allowed, what was spent before this operation."""

    setting: str
    limit: float
    spent_before: float
    what: str  # "step 2", "plan x", "planning"


class Budget:
    """A Meter: checks the caps before each request and adds up what the answers cost."""

    def __init__(
        self,
        caps: list[Cap],
        prices: dict[str, dict[str, float]],
        *,
        next_cost: str = "",
        on_usage: Callable[[Usage], None] | None = None,
    ) -> None:
        self.caps = caps
        self.prices = prices
        self.next_cost = next_cost  # what the work would cost, for the stop message
        self.on_usage = on_usage
        self.spent = Usage()  # this operation's answered requests

    def worst_case(self, quote: RequestQuote, max_tokens: int | None = None) -> float:
        """The most the request can cost: its whole prompt at the dearer of input and cache
        write, and every output token it may produce (`max_tokens` as sent, thinking included)."""
        info = lookup(quote.model, self.prices)
        out = quote.max_tokens if max_tokens is None else max_tokens
        return catalog.worst_case(info, quote.prompt_tokens, out)

    def before_request(self, quote: RequestQuote) -> int | None:
        """Stop (BudgetStop) when this request could take a cap past its limit even at its
        smallest max_tokens; else return the max_tokens that keeps its worst case within every
        cap (None: the requested one fits)."""
        room = min(
            (cap.limit - cap.spent_before - self.spent.cost_usd for cap in self.caps),
            default=None,
        )
        if room is None or self.worst_case(quote) <= room:
            return None
        info = lookup(quote.model, self.prices)
        rate = info.rates(quote.prompt_tokens).output
        prompt_cost = self.worst_case(quote, 0)
        fit = int((room - prompt_cost) * 1_000_000 / rate) if rate > 0 else quote.max_tokens
        if fit >= quote.min_tokens:
            return min(fit, quote.max_tokens)
        worst = self.worst_case(quote, quote.min_tokens)
        for cap in self.caps:
            if cap.limit <= 0:  # zero means zero: never "no cap" (#29)
                raise BudgetStop(
                    f"{cap.setting} is $0: nothing may be spent on {cap.what}, so the "
                    f"{quote.purpose} request to {quote.model} was not sent. Set {cap.setting} "
                    "above 0 to go on, or clear it for no cap"
                )
            spent = cap.spent_before + self.spent.cost_usd
            if spent + worst > cap.limit:
                raise BudgetStop(
                    f"{cap.setting} ({usd(cap.limit)}) would be crossed: {cap.what} has spent "
                    f"{usd(spent)} and the next {quote.purpose} request to {quote.model} could "
                    f"cost up to {usd(worst)} (its prompt and {quote.min_tokens:,} output "
                    "tokens), so it was not sent"
                    + (f"; {self.next_cost}" if self.next_cost else "")
                    + f". Raise {cap.setting} to go on (then execute again, or 'planfirst resume')"
                )
        return quote.min_tokens  # pragma: no cover - the loop above always raises here

    def after_response(self, model: str, usage: Usage) -> None:
        """Count an answered request; tell the face (live usage)."""
        self.spent.add(usage)
        if self.on_usage is not None:
            self.on_usage(self.spent)


@contextlib.contextmanager
def metered(meter: Meter | None) -> Iterator[None]:
    """Consult `meter` around every model request made inside the block."""
    token = METER.set(meter)
    try:
        yield
    finally:
        METER.reset(token)


# ---------------------------------------------------------------------------- spending so far


def step_spent(plan: Plan, order: int) -> float:
    """What every attempt at step `order` has cost."""
    return round(sum(r.usage.cost_usd for r in plan.state(order).runs), 6)


def execution_spent(plan: Plan) -> float:
    """What executing the plan has cost: every step's attempts, and its diagnoses and revisions
    since approval (refused ones included; `Plan.extra_spent`)."""
    steps = sum(r.usage.cost_usd for st in plan.steps for r in st.runs)
    return round(steps + plan.extra_spent, 6)


def count_extra(s: Session, plan_id: str, meter: Budget) -> None:
    """Add what an operation on an approved plan (a diagnosis, a revision) cost to the plan's
    spending, whatever its outcome, so the plan cap counts it (docs/reliability.md case 41)."""
    if meter.spent.cost_usd <= 0:
        return
    try:
        plan = s.load(plan_id)
    except Exception:  # a plan that cannot be loaded now is reported by the operation itself
        return
    plan.extra_spent = round(plan.extra_spent + meter.spent.cost_usd, 6)
    s.save(plan)


def for_revision(ws: WorkspaceAccess, plan: Plan) -> Budget:
    """The meter of a revision: the planning cap, and the plan cap once it was approved."""
    meter = for_planning(ws)
    if plan.status != PlanStatus.DRAFT:
        meter.caps.extend(_plan_cap(ws.settings.budget.max_cost_per_plan, plan))
    return meter


def _progress_text(order: int, total: int, spent: float, est: CostEstimate | None) -> str:
    sc = est.step(order) if est is not None else None
    of = f" of {usd_range(sc.low, sc.high)} estimated" if sc is not None else ""
    return f"step {order}/{total}: {usd(spent)} spent{of}"


def for_step(ws: WorkspaceAccess, plan: Plan, order: int, report: Callable[[str], None]) -> Budget:
    """The meter of one Execute / Retry of step `order`: the step and plan caps, live usage."""
    b = ws.settings.budget
    before_step = step_spent(plan, order)
    caps = []
    if b.max_cost_per_step is not None:
        caps.append(
            Cap(
                "planfirst.budget.maxCostPerStep", b.max_cost_per_step, before_step, f"step {order}"
            )
        )
    caps.extend(_plan_cap(b.max_cost_per_plan, plan))
    est = plan.estimate
    sc = est.step(order) if est is not None else None
    nxt = f"step {order} is estimated at {usd_range(sc.low, sc.high)}" if sc is not None else ""
    total = len(plan.steps)

    def on_usage(u: Usage) -> None:
        report(_progress_text(order, total, before_step + u.cost_usd, est))

    return Budget(caps, ws.settings.prices, next_cost=nxt, on_usage=on_usage)


def _plan_cap(limit: float | None, plan: Plan) -> list[Cap]:
    """The plan cap over what the plan's execution has spent (none when no cap is set)."""
    if limit is None:
        return []
    return [Cap("planfirst.budget.maxCostPerPlan", limit, execution_spent(plan), f"plan {plan.id}")]


def for_plan(ws: WorkspaceAccess, plan: Plan) -> Budget:
    """The meter of the plan's final checks (a diagnosis): the plan cap."""
    b = ws.settings.budget
    return Budget(_plan_cap(b.max_cost_per_plan, plan), ws.settings.prices)


def for_planning(ws: WorkspaceAccess) -> Budget:
    """The meter of one planning operation (generate or revise, a critique included)."""
    b = ws.settings.budget
    caps = []
    if b.max_cost_planning is not None:
        caps.append(Cap("planfirst.budget.maxCostPlanning", b.max_cost_planning, 0.0, "planning"))
    return Budget(caps, ws.settings.prices)


# ---------------------------------------------------------------------------- estimate, history


def attempts(ws: WorkspaceAccess) -> cost.Attempts:
    """The expected attempts per step for this workspace."""
    rows = ws.store.step_history()
    seen = [int(r["attempts"]) for r in rows if isinstance(r.get("attempts"), int)]
    return cost.expected_attempts(ws.settings, seen)


def refresh_estimate(ws: WorkspaceAccess, plan: Plan, model: str | None = None) -> CostEstimate:
    """Estimate the plan's remaining steps (on `model`, else its chosen or the set model) and
    keep the estimate on the plan (the caller saves it)."""

    def read(rel: str) -> str | None:
        return read_current(ws.host, ws.guard, rel)

    plan.estimate = cost.estimate(plan, read, ws.settings, model=model, attempts=attempts(ws))
    return plan.estimate


def record_step(ws: WorkspaceAccess, plan: Plan, order: int, attempts_made: int) -> None:
    """Remember what a finished (done or failed) step needed and cost, for later estimates."""
    st = plan.state(order)
    if st.status not in (StepStatus.DONE, StepStatus.FAILED) or attempts_made < 1:
        return
    sc = plan.estimate.step(order) if plan.estimate is not None else None
    row: dict[str, object] = {
        "plan": plan.id,
        "step": order,
        "status": st.status.value,
        "attempts": attempts_made,
        "model": st.last_run.model if st.last_run else "",
        "cost": step_spent(plan, order),
        "at": now_iso(),
    }
    if sc is not None:
        row["estimate"] = [sc.low, sc.high]
    ws.store.record_step(row)


def step_line(plan: Plan, order: int) -> str | None:
    """A step's cost in one line: its estimate, and what it has spent once it ran."""
    sc = plan.estimate.step(order) if plan.estimate is not None else None
    spent = step_spent(plan, order)
    est = f"est. {usd_range(sc.low, sc.high)}" if sc is not None else ""
    if spent > 0:
        return f"{usd(spent)} spent" + (f" ({est})" if est else "")
    return est or None


def cost_preview(s: Session, plan_id: str | None, model: str | None) -> dict[str, Any]:
    """What approving would cost on `model` (default: the plan's chosen or the set model),
    without approving or saving anything: {"planId", "estimate", "choices"}, the choices being
    the estimate's range on the set models and the newest of each family."""
    plan = s.load(plan_id)
    if model is not None:
        model = check_model_name(model)
    att = attempts(s)
    est = cost.estimate(plan, s.read_current, s.settings, model=model, attempts=att)
    names = [est.model, s.settings.execution_model, s.settings.planning_model, *newest_models()]
    choices = []
    for name in dict.fromkeys(names):  # once each, in that order
        c = (
            est
            if name == est.model
            else cost.estimate(plan, s.read_current, s.settings, model=name, attempts=att)
        )
        choices.append({"model": name, "low": c.low, "high": c.high})
    return {"planId": plan.id, "estimate": est.model_dump(mode="json"), "choices": choices}
