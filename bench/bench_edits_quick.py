"""Quick timings for minimal edits: prints medians for the cases named in the speed goals.

Run: .venv/bin/python bench/bench_edits_quick.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from planfirst.core.edits import apply_edits, minimal_edits


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


def timeit(fn: Callable[[], object], repeat: int = 15) -> tuple[float, float]:
    """Median and max wall time in milliseconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    """Print the timings."""
    base = make_file(10_000, 1)
    old = "".join(base)
    changed = list(base)
    for i in (120, 5_000, 9_100):
        changed[i] = changed[i].rstrip("\n") + "  # changed\n"
    new = "".join(changed)
    edits = minimal_edits(old, new)
    assert apply_edits(old, edits) == new
    med, worst = timeit(lambda: minimal_edits(old, new))
    print(
        f"10,000 lines, 3 changed lines: median {med:.2f} ms, max {worst:.2f} ms, "
        f"{len(edits)} edits on lines {[e.start_line for e in edits]} (goal < 10 ms)"
    )

    base = make_file(20_000, 2)
    old = "".join(base)
    rnd = random.Random(3)
    # Near-total rewrite: every non-trivial line changes, a few unique ones survive.
    rewritten = [
        line
        if (line.strip() in ("", "return None", "if value > 10:") or rnd.random() < 0.03)
        else line.replace("value", "result").replace("x", "xx") + ""
        for line in base
    ]
    new = "".join(rewritten)
    edits = minimal_edits(old, new)
    assert apply_edits(old, edits) == new
    med, worst = timeit(lambda: minimal_edits(old, new), repeat=7)
    print(
        f"20,000 lines, near-total rewrite: median {med:.2f} ms, max {worst:.2f} ms, "
        f"{len(edits)} edits (goal < 100 ms)"
    )

    other = "".join(make_file(20_000, 4)).replace("def ", "async def ")
    edits = minimal_edits(old, other)
    assert apply_edits(old, edits) == other
    med, worst = timeit(lambda: minimal_edits(old, other), repeat=7)
    print(
        f"20,000 lines, total rewrite (different file): median {med:.2f} ms, max {worst:.2f} ms, "
        f"{len(edits)} edits (goal < 100 ms)"
    )


if __name__ == "__main__":
    main()
