"""`planfirst serve` with the bench's phase timers installed (see _instrument.py).

Each executeNextStep appends one JSON line of phase totals (ms) to $PLANFIRST_BENCH_TIMINGS.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _instrument import install

from planfirst.cli import main

if __name__ == "__main__":
    install(lsp=True)
    raise SystemExit(main(["serve"]))
