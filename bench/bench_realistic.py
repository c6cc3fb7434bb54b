"""9. The 20-step plan with a realistic model: whole-plan wall time, the model's share, planfirst's.

The scripted server's realistic-latency mode (planfirst/llm/scripted/latency.py, `"latency": true`
in the script: each request waits the published time to first token of its model, plus the
prompt's prefill — faster for the part read from the cache — and streams its answer at the
model's output speed). The same language-server process, started like an editor starts it, makes and approves the plan
first — the planning model answers at once (`"only": [the execution model]`): planning is not
what this measures — then runs the 20 steps through LSP (VS Code capabilities, the e2e client answering applyEdit and
saving). The instrumented server (bench/_instrument.py) times each step's model calls and
validation and counts its Messages requests; planfirst's share is the rest of the wall time.

Run: .venv/bin/python bench/bench_realistic.py [--steps N] [--scale S]
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    Section,
    allow_with_true,
    finish,
    make_workspace,
    med,
    modules_with_tests,
    ms,
    plan_input,
    planning_turns,
    step_turns,
)
from _instrument import REQUESTS

STEPS = 20
TASK = "Add a describe helper to each listed module"
SHARE_GOAL = 0.02  # planfirst's share of the whole plan's wall time (#32)


async def run(root: Path, tmp: Path, modules: list[int], scale: float) -> dict[str, Any]:
    """Plan (the planning model answers at once), then execute every step at realistic latency
    (the execution model's figures), in one server; rows per step."""
    from _lsp import bench_session, command

    from planfirst.llm.catalog import DEFAULT_EXECUTION_MODEL

    turns = planning_turns(plan_input(modules, ["true"]))
    for i in modules:
        turns += step_turns(i)
    latency = {"only": [DEFAULT_EXECUTION_MODEL], "scale": scale}
    script = tmp / "script.json"
    script.write_text(json.dumps({"turns": turns, "latency": latency}))
    timings = tmp / "timings.jsonl"
    timings.write_text("")
    init = {"validation": {"allow": allow_with_true()}}
    env = {"PLANFIRST_BENCH_TIMINGS": str(timings), "PLANFIRST_LOG_LEVEL": "WARNING"}
    rows = []
    async with bench_session(root, script, timed=True, init_options=init, env=env) as (
        client,
        _e,
        _s,
    ):
        pid = (await command(client, "planfirst.generatePlan", {"task": TASK}))["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        t0 = time.perf_counter()
        for _ in modules:
            t = time.perf_counter()
            out = await command(client, "planfirst.executeNextStep", {"planId": pid})
            wall = (time.perf_counter() - t) * 1000
            assert out["status"] == "done", out
            row = json.loads(timings.read_text().strip().splitlines()[-1])
            row["wall"] = wall
            rows.append(row)
        total = (time.perf_counter() - t0) * 1000
    return {"rows": rows, "total": total}


def main() -> None:
    """Measure and print."""
    steps = int(sys.argv[sys.argv.index("--steps") + 1]) if "--steps" in sys.argv else STEPS
    scale = float(sys.argv[sys.argv.index("--scale") + 1]) if "--scale" in sys.argv else 1.0
    t_start = time.perf_counter()
    sec = Section("realistic", f"9. The {steps}-step plan with a realistic model")
    with tempfile.TemporaryDirectory(prefix="pf-bench-real-") as d:
        tmp = Path(d)
        modules = modules_with_tests(steps)
        got = asyncio.run(run(make_workspace(tmp / "ws", 2_000), tmp, modules, scale))
    rows, total = got["rows"], got["total"]
    model = sum(r.get("model call", 0.0) for r in rows)
    validation = sum(r.get("validation", 0.0) for r in rows)
    walls = sum(r["wall"] for r in rows)
    own = walls - model - validation
    between = total - walls  # the client between commands (not planfirst's, not the model's)
    requests = [int(r.get(REQUESTS, 0)) for r in rows]
    sec.table(
        "Whole plan (all steps through LSP, one executeNextStep after the other)",
        ["", "ms", "share of the wall time"],
        [
            ["wall time (first command sent → last answer)", ms(total), "100%"],
            ["model (the steps' SDK calls: waiting, streaming)", ms(model), f"{model / total:.2%}"],
            [
                "validation (`true`, one process per step)",
                ms(validation),
                f"{validation / total:.2%}",
            ],
            ["planfirst (everything else in the steps)", ms(own), f"{own / total:.2%}"],
            ["the bench's client between commands", ms(between), f"{between / total:.2%}"],
        ],
    )
    per = [r["wall"] for r in rows]
    own_per = [r["wall"] - r.get("model call", 0.0) - r.get("validation", 0.0) for r in rows]
    sec.table(
        "Per step (medians)",
        ["wall", "model", "planfirst", "model requests per step (min–max)"],
        [
            [
                ms(med(per)),
                ms(med([r.get("model call", 0.0) for r in rows])),
                ms(med(own_per)),
                f"{med([float(x) for x in requests]):g} ({min(requests)}–{max(requests)})",
            ]
        ],
    )
    share = own / total
    sec.verdict(
        f"planfirst's share of the whole plan's wall time ≤ {SHARE_GOAL:.0%}",
        f"{share:.2%} ({ms(own)} of {ms(total)} ms)",
        share <= SHARE_GOAL,
    )
    sec.notes.append(
        "Latency: the scripted server's published defaults"
        + (f" ×{scale:g}" if scale != 1 else "")
        + " for claude-sonnet-5-5 (execution model): 0.9 s to first token, 101 output tokens/s, "
        "10,000 uncached input tokens/s, cache reads 6.7× faster (sources in "
        "server/planfirst/llm/scripted/latency.py). Each step edits a module and its test in one "
        "turn, then the model's closing turn; validation is `true`."
    )
    sec.notes.append(
        "The same server made and approved the plan first, its planning model answering at once "
        "(`latency.only`); the wall time is the steps only. 'planfirst' includes the applyEdit and save round trips to the client."
    )
    sec.seconds = time.perf_counter() - t_start
    finish(sec)


if __name__ == "__main__":
    main()
