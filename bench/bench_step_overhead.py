"""1. Per-step overhead, excluding model and validation time, on 100 / 2,000 / 10,000 files.

In-process: a Session driven by a fake Host that applies edits instantly (it computes the
minimal edits an editor would get, then writes the files like an editor that saves), the real
SDK against the scripted loopback model with zero latency, validation `true`. Each phase is
timed by wrapping planfirst's functions (bench/_instrument.py).

End to end: the real language server (stdio, VS Code capabilities and clientInfo, the e2e
harness's client answering applyEdit and saving). planfirst's overhead is the server's time from
reading the executeNextStep request to writing its response (dispatch and JSON included) minus
the model call, the validation and the editor's answers to the server's requests, all measured
in the instrumented server. The client's wall time for the same step is shown beside it: it adds
the pipe and the bench's own client process (pytest-lsp, scheduled on the same cores).

Ratios: the overhead against the step's model call in the same run — its two SDK round trips to
the zero-latency scripted server, measured by the same instrumented process. Durable writes:
every os.fsync of a regular file during the step (each durable write also fsyncs its directory).

`--stress N` runs the whole measurement with `stress --cpu N` beside it (N busy-loop processes when
`stress` is not installed; tests/stress.py) and reports it as its own section.

Run: .venv/bin/python bench/bench_step_overhead.py [--quick] [--stress 2] [--sizes 100,10000]
(PLANFIRST_BENCH_PROFILE=/tmp/step.prof: cProfile of the language server's steps, for pstats)
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
    allow_with_true,
    finish,
    make_workspace,
    modules_with_tests,
    plan_input,
    planning_turns,
    step_turns,
)
from _instrument import TIMER, install

from tests.stress import load
from tests.support.fake_host import FakeHost, ScriptedModels

SIZES = [100, 2_000, 10_000]
STEPS = 12  # per workspace; the first WARMUP are dropped (imports, SDK client creation)
WARMUP = 2
WORKSPACE_AGE_S = 2.1  # older than redact.RACY_NS when the first step runs
TASK = "Add a describe helper to each listed module"


def script(modules: list[int]) -> list[dict[str, Any]]:
    """Planning turn, then two turns per step."""
    turns = planning_turns(plan_input(modules, ["true"]))
    for i in modules:
        turns += step_turns(i)
    return turns


class InstantHost(FakeHost):
    """The tests' in-process editor (tests/support/fake_host.py) that also times the applyEdit
    round trip, computing the minimal edits the LSP face would send, and leaves the saving to
    planfirst (an editor that does not save on planfirst/saveDocuments)."""

    async def apply_change(self, change: Any, label: str, description: str) -> Any:
        from planfirst.core.editing import edits

        TIMER.enter("applyEdit round trip")
        try:
            for f in change.files:
                if f.old is not None and f.new is not None:
                    edits.minimal_edits(f.old, f.new, "utf-16")  # what the LSP face sends
            return await super().apply_change(change, label, description)
        finally:
            TIMER.leave()

    def saves_documents(self) -> bool:
        return False


def settings() -> Any:
    """Default settings, plus `true` on the validation allow-list."""
    from planfirst.settings import load_settings

    s, problems = load_settings(
        {"validation": {"allow": allow_with_true()}, "critique": {"model": "off"}}
    )
    assert not problems, problems
    return s


async def in_process(root: Path, modules: list[int]) -> list[dict[str, float]]:
    """Per-step phase totals (ms), in-process."""
    from planfirst.core.workflow.session import Session
    from planfirst.llm.scripted.server import ScriptedServer

    rows = []
    with ScriptedServer(script(modules)) as srv:
        st = settings()
        models = ScriptedModels(st, srv.base_url)
        session = Session(root, st, models, InstantHost(root))
        plan = await session.generate(TASK)
        await session.approve(plan.id, force=True)
        for _ in modules:
            TIMER.reset()
            t0 = time.perf_counter()
            TIMER.enter("other")
            out = await session.execute_next(plan.id)
            TIMER.leave()
            row = TIMER.ms()
            row["total"] = (time.perf_counter() - t0) * 1000
            assert out.status == "done", out
            rows.append(row)
        await models.aclose()
        assert not srv.failures, srv.failures
    return rows


async def end_to_end(root: Path, modules: list[int], tmp: Path) -> list[dict[str, float]]:
    """Per-step client wall time and the server's phase totals (ms), through LSP."""
    from _lsp import bench_session, command

    sc = tmp / "script.json"
    sc.write_text(json.dumps({"turns": script(modules)}))
    timings = tmp / "timings.jsonl"
    timings.write_text("")
    rows = []
    async with bench_session(
        root,
        sc,
        timed=True,
        init_options={"validation": {"allow": allow_with_true()}},
        env={"PLANFIRST_BENCH_TIMINGS": str(timings), "PLANFIRST_LOG_LEVEL": "WARNING"},
    ) as (client, _editor, _startup):
        res = await command(client, "planfirst.generatePlan", {"task": TASK})
        pid = res["planId"]
        await command(client, "planfirst.approvePlan", {"planId": pid, "force": True})
        for _ in modules:
            t0 = time.perf_counter()
            out = await command(client, "planfirst.executeNextStep", {"planId": pid})
            wall = (time.perf_counter() - t0) * 1000
            assert out["status"] == "done", out
            row = await _timing_row(timings, len(rows) + 1)
            row["wall"] = wall
            rows.append(row)
    return rows


async def _timing_row(path: Path, n: int) -> dict[str, float]:
    """The server's row for step `n` (it is written once the response is on its way)."""
    for _ in range(200):
        lines = path.read_text().strip().splitlines()
        if len(lines) >= n:
            return dict(json.loads(lines[n - 1]))
        await asyncio.sleep(0.01)
    raise RuntimeError(f"the server wrote no timings for step {n}")


def main() -> None:
    """Run both variants on every size and print the tables (`--stress N`: with N busy CPUs)."""
    from _step_report import report

    quick = "--quick" in sys.argv
    cpus = int(sys.argv[sys.argv.index("--stress") + 1]) if "--stress" in sys.argv else 0
    sizes = [100, 2_000] if quick else SIZES
    if (
        "--sizes" in sys.argv
    ):  # e.g. --sizes 10000 (with PLANFIRST_BENCH_PROFILE=out.prof: a profile)
        sizes = [int(x) for x in sys.argv[sys.argv.index("--sizes") + 1].split(",")]
    install(lsp=False)
    t_start = time.perf_counter()
    runs: dict[int, tuple[list[dict[str, float]], list[dict[str, float]]]] = {}
    with load(cpus) as what:
        for n in sizes:
            with tempfile.TemporaryDirectory(prefix=f"pf-bench-{n}-") as d:
                tmp = Path(d)
                modules = modules_with_tests(STEPS)
                ws_a, ws_b = make_workspace(tmp / "a", n), make_workspace(tmp / "b", n)
                # a real workspace was not written the second before its first step: what was
                # made within the last two seconds is listed again by the caches that trust
                # timestamps only outside that window (core/commands/redact.py)
                time.sleep(WORKSPACE_AGE_S)
                rows = asyncio.run(in_process(ws_a, modules))
                e2e = asyncio.run(end_to_end(ws_b, modules, tmp))
            runs[n] = rows[WARMUP:], e2e[WARMUP:]
    sec = report(runs, cpus, what, STEPS, WARMUP)
    sec.seconds = time.perf_counter() - t_start
    finish(sec)


if __name__ == "__main__":
    main()
