"""Plan files that can be committed and reviewed in a pull request (#18).

`plan.md` is rendered deterministically with LF line endings; `plan.json` holds workspace-relative
paths only. Machine-specific paths reach a plan through command output (a test runner prints its
root directory, a traceback the absolute path of a file), error and refusal messages, review
findings and the diagnosis of failing output: before a plan is written (and rendered), the
workspace root in them becomes a relative path and the home directory `~`, so no absolute path or
user name lands in a file you commit. The recorded file texts (`before` and `after`, used by undo)
are never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

from planfirst.plan.model import Plan


def _prefixes(root: Path) -> list[tuple[str, str]]:
    roots = {str(root), os.path.realpath(root)}
    out: list[tuple[str, str]] = []
    for r in sorted(roots, key=len, reverse=True):
        out += [(r + "/", ""), (r, ".")]
    home = os.path.expanduser("~")
    if home not in ("~", "/", ""):
        for h in sorted({home, os.path.realpath(home)}, key=len, reverse=True):
            out.append((h + "/", "~/"))
    return out


def scrub_text(text: str, root: Path, prefixes: list[tuple[str, str]] | None = None) -> str:
    """`text` with the workspace root made relative and the home directory written as `~`
    (`prefixes`: `_prefixes(root)` computed once for many texts)."""
    for old, new in prefixes if prefixes is not None else _prefixes(root):
        if old in text:
            text = text.replace(old, new)
    return text


def scrub(plan: Plan, root: Path) -> None:
    """Remove the machine-specific paths from a plan's command output and errors, in place
    (called by the store before every write, so the plan in memory matches the file)."""
    pre = _prefixes(root)  # resolving the root and home once per save, not per text (#32)
    results = [v for st in plan.steps for run in st.runs for v in run.validation]
    for v in [*results, *plan.final_validation]:
        v.output = scrub_text(v.output, root, pre)
        if v.refused:
            v.refused = scrub_text(v.refused, root, pre)
    for st in plan.steps:
        for run in st.runs:
            if run.error:
                run.error = scrub_text(run.error, root, pre)
    for f in plan.findings:
        f.message = scrub_text(f.message, root, pre)
    d = plan.diagnosis
    if d is not None:  # the model's reading of the failing output may quote its paths
        d.broken_assumption = scrub_text(d.broken_assumption, root, pre)
        d.explanation = scrub_text(d.explanation, root, pre)
        d.suggested_fix = scrub_text(d.suggested_fix, root, pre)
