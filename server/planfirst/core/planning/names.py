"""Plan review of misleading file names (docs/reliability.md case 34).

A path in a plan is flagged when it hides characters (bidi controls such as U+202E, zero-width
characters), uses letters of another script that look Latin (`pаy.py` with a Cyrillic `а`) or
compatibility forms (fullwidth letters), or differs only in case from a file that exists or from
another path in the same plan (one file on a case-insensitive disk, two look-alike files on the
others). The rule `misleading-name` cannot be turned off by `planfirst.lint.disabled`: it protects
the reviewer, and a workspace can set that list.
"""

from __future__ import annotations

import os

from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.plan.model import Finding, PlanBody
from planfirst.plan.visible import encode, name_problems

RULE = "misleading-name"


def _plan_paths(body: PlanBody) -> list[tuple[str, int | None, str]]:
    """(path, first step touching it, section) for every path the plan names, in order."""
    first: dict[str, int] = {}
    for s in sorted(body.steps, key=lambda s: s.order):
        for p in s.files:
            first.setdefault(p, s.order)
    out: list[tuple[str, int | None, str]] = []
    seen: set[str] = set()
    for p, section in [
        *((f.path, "files_to_modify") for f in body.files_to_modify),
        *((f.path, "files_to_create") for f in body.files_to_create),
        *((p, "steps") for p in first),
    ]:
        if p not in seen:
            seen.add(p)
            out.append((p, first.get(p), section))
    return out


def _case_twins(path: str, root: str) -> list[str]:
    """Existing entries that spell a component of `path` with other letter case."""
    cur = root
    twins: list[str] = []
    for part in path.split("/"):
        try:
            names = os.listdir(cur)
        except OSError:
            break
        rel = os.path.relpath(cur, root)
        prefix = "" if rel == "." else rel + "/"
        twins += [prefix + n for n in names if n != part and n.casefold() == part.casefold()]
        if part not in names:
            break
        cur = os.path.join(cur, part)
    return twins


def misleading_names(body: PlanBody, guard: WorkspaceGuard | None) -> list[Finding]:
    """A `misleading-name` finding for each path a reader could take for another."""
    out: list[Finding] = []
    paths = _plan_paths(body)
    by_fold: dict[str, str] = {}
    for p, step, section in paths:
        shown = encode(p)
        for why in name_problems(p):
            out.append(
                Finding(
                    rule=RULE,
                    severity="error" if "invisible" in why else "warning",
                    message=f"{shown!r} {why}; check the name before approving",
                    step=step,
                    section=section,
                )
            )
        other = by_fold.setdefault(p.casefold(), p)
        if other != p:
            out.append(
                Finding(
                    rule=RULE,
                    severity="warning",
                    step=step,
                    section=section,
                    message=f"{shown!r} and {encode(other)!r} differ only in letter case; "
                    "on a case-insensitive disk they are one file",
                )
            )
        if guard is not None:
            for twin in _case_twins(p, str(guard.root)):
                out.append(
                    Finding(
                        rule=RULE,
                        severity="warning",
                        step=step,
                        section=section,
                        message=f"{shown!r} differs only in letter case from the existing "
                        f"{encode(twin)!r}; on a case-insensitive disk it is that file",
                    )
                )
    return out
