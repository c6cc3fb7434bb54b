"""`make demo`: plan and execute a real change on a copy of examples/workspace, offline.

The model is SCRIPTED (examples/scripts/demo.json) and served by planfirst's loopback Messages
API server; the real Anthropic SDK talks to it over HTTP. Everything else is the real product:
the language server, context gathering, the plan, previewed edits, validation, retries.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASK = (
    "Add a `--top N` option to `textkit count` that prints only the N most frequent words "
    "(ties in alphabetical order), with a `top_words(counts, n)` helper in textkit/wordcount.py, "
    "tests, and a README line."
)


def main() -> int:
    """Copy the example, run `planfirst run --yes` on it, check its tests, print where it is."""
    ws = Path(tempfile.mkdtemp(prefix="planfirst-demo-")) / "textkit"
    shutil.copytree(
        HERE / "workspace",
        ws,
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".planfirst"),
    )
    print("=" * 78)
    print("planfirst demo — SCRIPTED model (offline: no API key, no network)")
    print(f"workspace: {ws}")
    print("=" * 78, flush=True)
    started = time.monotonic()
    cmd = [
        sys.executable,
        "-I",
        "-m",
        "planfirst",
        "run",
        TASK,
        "--workspace",
        str(ws),
        "--yes",
        "--script",
        str(HERE / "scripts" / "demo.json"),
    ]
    code = subprocess.call(cmd)
    if code != 0:
        print(f"\nplanfirst run failed with exit code {code}", file=sys.stderr)
        return code
    print("\n" + "=" * 78)
    print("Checking the result with the example's own tests: pytest -q")
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=ws,
        capture_output=True,
        text=True,
    )
    print(tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else tests.stderr)
    if tests.returncode != 0:
        print(tests.stdout + tests.stderr, file=sys.stderr)
        return 1
    print(f"Demo finished in {time.monotonic() - started:.1f} s.")
    print(f"Inspect the result in {ws}")
    print(f"  the plan:  {ws}/.planfirst/plans/*/plan.md   (and plan.json with every step run)")
    print(f"  list plans: {sys.executable} -m planfirst plans --workspace {ws}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
