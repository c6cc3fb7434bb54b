"""6. Start-up and memory: time from process start to the `initialize` response, and peak RSS
(VmHWM) of the server on a 10,000-file workspace after generating a plan and executing a step.

Run: .venv/bin/python bench/bench_startup.py
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
from _lsp import bench_session, command, server_pid

N_FILES = 10_000
RUNS = 7


def vm(pid: int, key: str) -> int:
    """A /proc/<pid>/status field in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


async def startup(root: Path) -> float:
    """Seconds from spawning the server to its initialize response."""
    async with bench_session(root, None, env={"PLANFIRST_LOG_LEVEL": "WARNING"}) as (_c, _e, secs):
        return secs


async def memory(root: Path, tmp: Path) -> dict[str, int]:
    """Peak and current RSS (kB) at each stage."""
    modules = modules_with_tests(2)
    turns = planning_turns(plan_input(modules, ["true"]))
    for i in modules:
        turns += step_turns(i)
    sc = tmp / "script.json"
    sc.write_text(json.dumps({"turns": turns}))
    out: dict[str, int] = {}
    async with bench_session(
        root,
        sc,
        init_options={"validation": {"allow": allow_with_true()}},
        env={"PLANFIRST_LOG_LEVEL": "WARNING"},
    ) as (client, _e, _s):
        pid = server_pid(client)
        assert pid is not None
        await asyncio.sleep(0.3)  # `initialized` work (session, plan listing) settles
        out["after initialize"] = vm(pid, "VmRSS")
        res = await command(
            client,
            "planfirst.generatePlan",
            {"task": "Add a describe helper to each listed module"},
        )
        out["after generatePlan (peak so far)"] = vm(pid, "VmHWM")
        await command(client, "planfirst.approvePlan", {"planId": res["planId"], "force": True})
        for _ in modules:
            r = await command(client, "planfirst.executeNextStep", {"planId": res["planId"]})
            assert r["status"] == "done", r
        out["peak (VmHWM) after 2 steps"] = vm(pid, "VmHWM")
        out["current (VmRSS)"] = vm(pid, "VmRSS")
    return out


def floor_ms(code: str, runs: int = 5) -> float:
    """Median wall time of a fresh interpreter running `code` (ms)."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        out.append((time.perf_counter() - t0) * 1000)
    return med(out)


def main() -> None:
    """Measure and print."""
    t_start = time.perf_counter()
    sec = Section("startup", "6. Start-up and memory")
    with tempfile.TemporaryDirectory(prefix="pf-bench-start-") as d:
        root = make_workspace(Path(d) / "ws", N_FILES)
        times = [asyncio.run(startup(root)) * 1000 for _ in range(RUNS)]
        mem = asyncio.run(memory(root, Path(d)))
    bare = floor_ms("pass")
    lsp_floor = floor_ms("import pygls.lsp.server, lsprotocol.types")
    ours = floor_ms("from planfirst.lsp.app import create_server; create_server()")
    sec.table(
        f"Process start → initialize response ({RUNS} runs, 10,000-file workspace)",
        ["median", "min–max"],
        [[f"{ms(med(times))} ms", f"{ms(min(times))}–{ms(max(times))} ms"]],
    )
    sec.table(
        "Where start-up goes (fresh interpreter, median of 5)",
        [
            "python -c pass",
            "import pygls + lsprotocol (the floor of any pygls server)",
            "import planfirst's server",
        ],
        [[f"{ms(bare)} ms", f"{ms(lsp_floor)} ms", f"{ms(ours)} ms"]],
    )
    sec.table(
        "Server memory (10,000-file workspace)",
        ["stage", "RSS"],
        [[k, f"{v / 1024:.0f} MB"] for k, v in mem.items()],
    )
    peak = mem["peak (VmHWM) after 2 steps"] / 1024
    sec.verdict(
        "start → initialize response < 400 ms",
        f"{ms(med(times))} ms median",
        med(times) < 400,
        ""
        if med(times) < 400
        else f"importing pygls + lsprotocol alone takes {ms(lsp_floor)} ms here; planfirst's own modules "
        f"(lsp/app.py, lsp/server.py; the features load on `initialized`) add {ms(ours - lsp_floor)} ms",
    )
    ratio = med(times) / lsp_floor
    sec.verdict(
        "start → initialize ≤ 1.15 × importing pygls + lsprotocol (same run)",
        f"{ms(med(times))} / {ms(lsp_floor)} ms = ×{ratio:.2f}",
        ratio <= 1.15,
        ""
        if ratio <= 1.15
        else f"the initialize path still imports {ms(ours - lsp_floor)} ms of planfirst's own modules "
        "(pydantic plan models, settings) beyond pygls",
    )
    sec.verdict("peak RSS < 150 MB on 10,000 files", f"{peak:.0f} MB", peak < 150)
    sec.notes.append(
        "Start-up is measured on the client: spawn of `python -m planfirst serve` to the initialize result, with the interpreter's own start included."
    )
    sec.seconds = time.perf_counter() - t_start
    finish(sec)


if __name__ == "__main__":
    main()
