"""3. Minimal edits: a 10,000-line file with a few changed lines (whole-file rewrite and
str_replace calls through the Overlay), and a 20,000-line near-total rewrite, with plain
difflib for comparison (run in a subprocess under a time cap).

Run: .venv/bin/python bench/bench_edits.py
"""

from __future__ import annotations

import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import ED, Section, finish, ms, pct

from planfirst.core.editing.edits import apply_edits, minimal_edits
from planfirst.core.editing.overlay import Overlay

DIFFLIB_CAP_S = 20.0


def make_file(n: int, seed: int) -> list[str]:
    """A Python-looking file of `n` lines with the usual repeated lines (blank, pass, return)."""
    rnd = random.Random(seed)
    lines: list[str] = []
    while len(lines) < n:
        name = f"func_{len(lines)}_{rnd.randrange(10**6)}"
        lines += [
            f"def {name}(x, y):\n",
            f'    """Compute {name}."""\n',
            f"    value = x * {rnd.randrange(1000)} + y\n",
            "    if value > 10:\n",
            "        return value\n",
            "    return None\n",
            "\n",
        ]
    return lines[:n]


def timeit(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall times in ms."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def edit_size(edits: list, new: str) -> tuple[int, int, int]:
    """(edits, old lines replaced, characters of new text) against the whole-file size."""
    lines = sum(e.end_line - e.start_line + (1 if e.end_char else 0) for e in edits)
    return len(edits), lines, sum(len(e.new_text) for e in edits)


def difflib_time(old_path: Path, new_path: Path) -> str:
    """Plain difflib (unified_diff over lines, what most tools do) in a subprocess, capped."""
    code = (
        "import difflib,sys,time\n"
        "a=open(sys.argv[1]).read().splitlines(True); b=open(sys.argv[2]).read().splitlines(True)\n"
        "t=time.perf_counter(); list(difflib.unified_diff(a,b)); print((time.perf_counter()-t)*1000)\n"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code, str(old_path), str(new_path)],
            capture_output=True,
            text=True,
            timeout=DIFFLIB_CAP_S,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return f"> {DIFFLIB_CAP_S:.0f} s (stopped)"
    return f"{float(out.stdout.strip()):,.0f} ms"


async def overlay_edit(old: str, calls: list[dict[str, str]]) -> str:
    """Apply str_replace calls through the Overlay; the new text."""
    ov = Overlay(lambda p: old if p == "big.py" else None, allowed=["big.py"], may_create=[])
    for c in calls:
        res = await ov.handle(ED, {"command": "str_replace", "path": "big.py", **c})
        assert not res.is_error, res.text
    return ov.changes()["big.py"][1]


def main() -> None:
    """Measure and print."""
    t_start = time.perf_counter()
    sec = Section("edits", "3. Minimal edits")
    rows = []

    base = make_file(10_000, 1)
    old = "".join(base)
    changed = list(base)
    for i in (120, 5_005, 9_100):
        changed[i] = changed[i].rstrip("\n") + "  # changed\n"
    new = "".join(changed)
    edits = minimal_edits(old, new)
    assert apply_edits(old, edits) == new
    t = timeit(lambda: minimal_edits(old, new), 30)
    n_e, n_l, n_c = edit_size(edits, new)
    rows.append(
        [
            "10,000 lines, 3 lines changed (whole-file rewrite)",
            ms(statistics.median(t)),
            ms(pct(t, 95)),
            f"{n_e} edits, {n_l} lines, {n_c} chars (file: {len(new):,} chars)",
        ]
    )
    m_small = statistics.median(t)

    calls = [
        {"old_str": base[i], "new_str": base[i].rstrip("\n") + "  # changed\n"}
        for i in (120, 5_005, 9_100)
    ]
    via = asyncio.run(overlay_edit(old, calls))
    assert via == new

    # asyncio.run costs ~0.3 ms of its own; time the tool calls with one loop instead
    async def many() -> list[float]:
        out = []
        for _ in range(30):
            t0 = time.perf_counter()
            text = await overlay_edit(old, calls)
            minimal_edits(old, text)
            out.append((time.perf_counter() - t0) * 1000)
        return out

    t = asyncio.run(many())
    edits2 = minimal_edits(old, via)
    n_e, n_l, n_c = edit_size(edits2, via)
    rows.append(
        [
            "10,000 lines, 3 str_replace calls through the Overlay + minimal edits",
            ms(statistics.median(t)),
            ms(pct(t, 95)),
            f"{n_e} edits, {n_l} lines, {n_c} chars",
        ]
    )
    m_overlay = statistics.median(t)

    base20 = make_file(20_000, 2)
    old20 = "".join(base20)
    rnd = random.Random(3)
    rewritten = [
        line
        if (line.strip() in ("", "return None", "if value > 10:") or rnd.random() < 0.03)
        else line.replace("value", "result").replace("x", "xx")
        for line in base20
    ]
    new20 = "".join(rewritten)
    edits = minimal_edits(old20, new20)
    assert apply_edits(old20, edits) == new20
    t = timeit(lambda: minimal_edits(old20, new20), 15)
    n_e, n_l, n_c = edit_size(edits, new20)
    m_big = statistics.median(t)
    other = "".join(make_file(20_000, 4)).replace("def ", "async def ")
    edits_o = minimal_edits(old20, other)
    assert apply_edits(old20, edits_o) == other
    t_o = timeit(lambda: minimal_edits(old20, other), 15)
    m_other = statistics.median(t_o)
    with tempfile.TemporaryDirectory() as d:
        a, b, c = Path(d) / "a.py", Path(d) / "b.py", Path(d) / "c.py"
        a.write_text(old20)
        b.write_text(new20)
        c.write_text(other)
        dl_near = difflib_time(a, b)
        dl_other = difflib_time(a, c)
    rows.append(
        [
            "20,000 lines, near-total rewrite",
            ms(m_big),
            ms(pct(t, 95)),
            f"{n_e} edits, {n_l} lines; plain difflib: {dl_near}",
        ]
    )
    rows.append(
        [
            "20,000 lines, total rewrite (a different file)",
            ms(m_other),
            ms(pct(t_o, 95)),
            f"{len(edits_o)} edits; plain difflib: {dl_other}",
        ]
    )
    sec.table("minimal_edits (ms)", ["case", "median", "p95", "edit size"], rows)
    sec.verdict(
        "10,000-line file, few changed lines < 10 ms",
        f"{ms(m_small)} ms whole-file, {ms(m_overlay)} ms via str_replace",
        max(m_small, m_overlay) < 10,
    )
    sec.verdict(
        "20,000-line near-total rewrite < 100 ms",
        f"{ms(m_big)} ms (total rewrite of a different file: {ms(m_other)} ms)",
        max(m_big, m_other) < 100,
    )
    sec.notes.append(
        "Edit size counts the old lines each edit replaces and the characters it inserts; only changed lines are sent."
    )
    sec.notes.append(
        f"difflib: `difflib.unified_diff` over lines in a fresh process, stopped after {DIFFLIB_CAP_S:.0f} s."
    )
    sec.seconds = time.perf_counter() - t_start
    finish(sec)


if __name__ == "__main__":
    main()
