"""Run the test suite again and again on a loaded machine, to find tests that flake.

    .venv/bin/python tests/stress.py --rounds 20 --cpu 2 [--report FILE] [-- PYTEST ARGS...]

`stress --cpu N` (Debian's `stress`; a Python busy loop per CPU when it is not installed) keeps
every core busy while pytest runs the selected tests `--rounds` times, each round in a fresh
process. The run stops at the first round with a failure and names the failing tests; a run that
ends green means every selected test passed that many times in a row under load. `--report`
appends the figures (rounds, tests, failures, time per round) to a markdown file.

Make target: `make stress` (the whole suite on both cores with pytest-xdist, 20 rounds, while
`stress --cpu 2` runs; results appended to tests/STRESS.md).
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Round:
    number: int
    seconds: float
    tests: int = 0
    failed: list[str] = field(default_factory=list)
    returncode: int = 0


@contextmanager
def load(cpus: int) -> Iterator[str]:
    """Keep `cpus` cores busy for the duration of the block; yields what makes the load."""
    if cpus <= 0:
        yield "none"
        return
    exe = shutil.which("stress")
    if exe:
        procs = [
            subprocess.Popen(
                [exe, "--cpu", str(cpus)], stdout=subprocess.DEVNULL, start_new_session=True
            )
        ]
        what = f"stress --cpu {cpus}"
    else:
        code = "while True: pass"
        procs = [
            subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
            for _ in range(cpus)
        ]
        what = f"{cpus} busy-loop processes (stress is not installed)"
    try:
        yield what
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def read_junit(path: Path) -> tuple[int, list[str]]:
    """(tests run, ids of the tests that failed or errored) from a pytest junit XML file."""
    if not path.exists():
        return 0, ["<no report: pytest did not finish>"]
    tree = ET.parse(path)
    tests, failed = 0, []
    for case in tree.iter("testcase"):
        tests += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname')}::{case.get('name')}")
    return tests, failed


def run_round(number: int, pytest_args: list[str], out_dir: Path) -> Round:
    junit = out_dir / f"round-{number:02d}.xml"
    log = out_dir / f"round-{number:02d}.log"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
        *pytest_args,
    ]
    start = time.monotonic()
    with log.open("w") as fh:
        rc = subprocess.call(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    r = Round(number, time.monotonic() - start, returncode=rc)
    r.tests, r.failed = read_junit(junit)
    if rc != 0 and not r.failed:
        r.failed = [f"<pytest exited with {rc}: see {log}>"]
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--cpu", type=int, default=2, help="cores to keep busy (0: no load)")
    parser.add_argument("--out", type=Path, default=None, help="folder for junit files and logs")
    parser.add_argument("--report", type=Path, default=None, help="markdown file to append to")
    parser.add_argument("pytest_args", nargs="*", help="after --: what pytest runs")
    args = parser.parse_args(argv)
    out_dir = args.out or Path(os.environ.get("TMPDIR", "/tmp")) / f"planfirst-stress-{os.getpid()}"
    out_dir.mkdir(parents=True, exist_ok=True)
    rounds: list[Round] = []
    started = time.monotonic()
    with load(args.cpu) as what:
        print(
            f"stress: {args.rounds} rounds of pytest {' '.join(args.pytest_args) or '(all)'}"
            f" under {what}; logs in {out_dir}",
            flush=True,
        )
        for n in range(1, args.rounds + 1):
            r = run_round(n, args.pytest_args, out_dir)
            rounds.append(r)
            verdict = "ok" if not r.failed else f"FAILED: {', '.join(r.failed)}"
            print(
                f"round {n:2d}/{args.rounds}: {r.tests} tests, {r.seconds:6.0f} s, {verdict}",
                flush=True,
            )
            if r.failed:
                break
    total = time.monotonic() - started
    green = [r for r in rounds if not r.failed]
    ok = len(green) == args.rounds
    summary = (
        f"{len(green)} of {args.rounds} rounds green in a row under {what}"
        f" ({rounds[0].tests if rounds else 0} tests a round, {total / 60:.0f} min in all)"
    )
    print(("PASS: " if ok else "FAIL: ") + summary, flush=True)
    if args.report:
        when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            f"\n## {when}: pytest {' '.join(args.pytest_args) or '(all)'}\n",
            f"{'PASS' if ok else 'FAIL'}: {summary}\n",
            "| round | tests | seconds | result |",
            "|---:|---:|---:|---|",
            *[
                f"| {r.number} | {r.tests} | {r.seconds:.0f} | "
                f"{'ok' if not r.failed else 'failed: ' + ', '.join(r.failed)} |"
                for r in rounds
            ],
        ]
        with args.report.open("a") as fh:
            fh.write("\n".join(lines) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
