"""4. Context gathering on a 10,000-file tree with a .gitignore: cold and warm time, and the
token count it produces under the default budget.

Cold: a fresh process (nothing imported or cached but the OS page cache) timing its first
gather_context call; also a fresh WorkspaceGuard in a warm process. Warm: the same guard again.

Run: .venv/bin/python bench/bench_context.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, Section, finish, make_workspace, med, module_path, ms, pct, test_path

N_FILES = 10_000
MOD = 1236
TASK = (
    f"In {module_path(MOD)} make score_{MOD}_0 ignore negative values and cover it in "
    f"{test_path(MOD)}"
)

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[3])
from planfirst.core.planning.context import gather_context
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.settings import Settings
t1 = time.perf_counter()
s = Settings()
guard = WorkspaceGuard(sys.argv[1], s.context.exclude)
ctx = gather_context(guard, sys.argv[2], s.context)
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000, "tokens": ctx.tokens}))
"""


def main() -> None:
    """Measure and print."""
    from planfirst.core.planning.context import estimate_tokens, gather_context
    from planfirst.core.workspace.paths import WorkspaceGuard
    from planfirst.settings import Settings

    t_start = time.perf_counter()
    sec = Section("context", "4. Context gathering (10,000-file workspace with .gitignore)")
    with tempfile.TemporaryDirectory(prefix="pf-bench-ctx-") as d:
        root = make_workspace(Path(d) / "ws", N_FILES)
        on_disk = sum(1 for p in root.rglob("*") if p.is_file())
        s = Settings()
        cold_proc = []
        imports = []
        for _ in range(5):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(root), TASK, str(ROOT / "server")],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(out.stdout)
            cold_proc.append(row["first_ms"])
            imports.append(row["import_ms"])
        fresh_guard = []
        for _ in range(10):
            t0 = time.perf_counter()
            guard = WorkspaceGuard(root, s.context.exclude)
            ctx = gather_context(guard, TASK, s.context)
            fresh_guard.append((time.perf_counter() - t0) * 1000)
        guard = WorkspaceGuard(root, s.context.exclude)
        gather_context(guard, TASK, s.context)
        warm = []
        for _ in range(10):
            t0 = time.perf_counter()
            ctx = gather_context(guard, TASK, s.context)
            warm.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        walked = sum(1 for _ in guard.walk())
        walk_ms = (time.perf_counter() - t0) * 1000
        rendered = estimate_tokens(ctx.render())
    rows = [
        [
            "cold: fresh process, first call",
            ms(med(cold_proc)),
            f"{ms(min(cold_proc))}–{ms(max(cold_proc))}",
            f"(+ {ms(med(imports))} ms to import planfirst)",
        ],
        [
            "cold guard in a warm process",
            ms(med(fresh_guard)),
            f"{ms(min(fresh_guard))}–{ms(max(fresh_guard))}",
            f"p95 {ms(pct(fresh_guard, 95))}",
        ],
        [
            "warm (same guard)",
            ms(med(warm)),
            f"{ms(min(warm))}–{ms(max(warm))}",
            f"p95 {ms(pct(warm, 95))}",
        ],
        [
            "of which: walking the tree",
            ms(walk_ms),
            "",
            f"{walked:,} files visible of {on_disk:,} on disk",
        ],
    ]
    sec.table("gather_context (ms)", ["case", "median", "min–max", "notes"], rows)
    sec.table(
        "What it produces (default settings)",
        [
            "token budget",
            "tokens used",
            "prompt block tokens",
            "files included",
            "files cut",
            "tree entries",
        ],
        [
            [
                f"{s.context.token_budget:,}",
                f"{ctx.tokens:,}",
                f"{rendered:,}",
                ", ".join(f"{e.path} ({e.reason})" for e in ctx.included),
                len(ctx.cut),
                min(walked, s.context.tree_max_entries),
            ]
        ],
    )
    m_cold = max(med(cold_proc), med(fresh_guard))
    sec.verdict(
        "cold < 300 ms",
        f"{ms(med(cold_proc))} ms fresh process, {ms(med(fresh_guard))} ms fresh guard",
        m_cold < 300,
        "" if m_cold < 300 else "walking 10,000 files dominates",
    )
    sec.verdict(
        "within the default token budget",
        f"{ctx.tokens:,} of {s.context.token_budget:,} tokens",
        ctx.tokens <= s.context.token_budget,
    )
    sec.notes.append(
        f"Task: “{TASK}”. Cold means no planfirst caches; the OS page cache is warm (dropping it needs root)."
    )
    sec.seconds = time.perf_counter() - t_start
    finish(sec)


if __name__ == "__main__":
    main()
