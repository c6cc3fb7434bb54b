"""What the terminal prints from the stored plan: whether planfirst wrote it, the critic's
findings before the approval, and the closing summary table (steps, attempts, tokens, cost)."""

from __future__ import annotations

import time

from planfirst.plan.origin import UNTRUSTED_RULE
from planfirst.plan.render import critique_report
from planfirst.plan.store import PlanStore, StoreError
from planfirst.plan.visible import encode, for_terminal
from planfirst.terminal import cost as costs
from planfirst.terminal.editor import TerminalEditor
from planfirst.terminal.style import BOLD, RED, RESET


def foreign(store: PlanStore, plan_id: str) -> str | None:
    """Why the plan is not one planfirst wrote on this machine, or None."""
    try:
        plan = store.load(plan_id)
    except StoreError:
        return None
    return next((f.message for f in plan.findings if f.rule == UNTRUSTED_RULE), None)


def critique(ed: TerminalEditor, store: PlanStore, plan_id: str) -> None:
    """The critic's findings (and what the tightening round fixed), before the approval."""
    try:
        plan = store.load(plan_id)
    except StoreError:
        return
    errors = any(f.source == "critique" and f.severity == "error" for f in plan.findings)
    for i, line in enumerate(critique_report(plan)):
        line = encode(line)  # the critic's words shown for what they are (case 34)
        ed.say(f"{BOLD}{line}{RESET}" if i == 0 else (f"{RED}{line}{RESET}" if errors else line))


def summary(ed: TerminalEditor, store: PlanStore, plan_id: str, started: float) -> None:
    """The closing table: steps, attempts, validations, tokens, cost, wall time."""
    try:
        plan = store.load(plan_id)
    except StoreError as e:
        ed.say(str(e))
        return
    ed.say("")
    title = for_terminal(plan.title, one_line=True)  # the summary line stays one line (case 50)
    ed.say(f"{BOLD}Summary — {title}{RESET}  ({plan.status.value})")
    ed.say(
        f"{'step':>4}  {'status':<8} {'attempts':>8}  {'validation':<22} {'tokens in/out':>15} {'cost':>9}"
        + ("  estimated" if plan.estimate else "")
    )
    for s in plan.steps:
        runs = [r for r in s.runs if r.outcome not in ("undone",)]
        last = s.last_run
        val = "-"
        if last and last.validation:
            ok = sum(1 for v in last.validation if v.passed)
            val = f"{ok}/{len(last.validation)} passed"
        tin = sum(
            r.usage.input_tokens
            + r.usage.cache_read_input_tokens
            + r.usage.cache_creation_input_tokens
            for r in runs
        )
        tout = sum(r.usage.output_tokens for r in runs)
        cost = sum(r.usage.cost_usd for r in runs)
        ed.say(
            f"{s.order:>4}  {s.status.value:<8} {len(runs):>8}  {val:<22} {f'{tin:,}/{tout:,}':>15} {f'${cost:.4f}':>9}"
            + costs.estimated(plan, s.order)
        )
        left_out, in_part = s.partly_applied()
        if left_out or in_part:  # a review applied only part of the step's edit (#33)
            what = ([f"left out {', '.join(left_out)}"] if left_out else []) + (
                [f"in part {', '.join(in_part)}"] if in_part else []
            )
            ed.say(f"{'':>4}  partly applied: {'; '.join(what)}")
    if plan.final_validation:
        ok = sum(1 for v in plan.final_validation if v.passed)
        ed.say(f"test criteria: {ok}/{len(plan.final_validation)} passed")
    crit = plan.provenance.critique
    if crit is not None and crit.usage.calls:
        c = crit.usage
        ed.say(
            f"critique: {c.calls} model calls · {c.input_tokens + c.cache_read_input_tokens + c.cache_creation_input_tokens:,}"
            f" in / {c.output_tokens:,} out · est. ${c.cost_usd:.4f} (in the total)"
        )
    u = plan.usage
    ed.say(
        f"total: {u.calls} model calls · {u.input_tokens:,} input + {u.cache_creation_input_tokens:,} cache-write + "
        f"{u.cache_read_input_tokens:,} cache-read / {u.output_tokens:,} output tokens · est. ${u.cost_usd:.4f} · "
        f"wall {time.monotonic() - started:.1f} s"
    )
    vs = costs.compared(plan)
    if vs:
        ed.say(vs)
    ed.say(f"plan: {store.plan_md(plan_id)}")
