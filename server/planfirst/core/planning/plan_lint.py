"""Plan quality rules: flag the vague, unvalidated or risky parts of a plan before approval.

Each rule has a stable id, a severity and a message that names the fix. `settings.lint.disabled`
turns rules off by id. The model invariants (plan/model.py) already reject broken plans; these
rules judge plans that are valid but not yet good.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from planfirst.core.planning.names import misleading_names
from planfirst.core.planning.plan_facts import (
    ENV_ASSIGN,
    ERROR,
    INFO,
    INTERPRETERS,
    RUNS_FILE,
    SHELL_TOKENS,
    WARNING,
    confidence,
    is_checkable,
    is_specific,
    program_found,
    protected_reason,
    split_argv,
)
from planfirst.core.workspace.path_syntax import PathError
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.plan.model import Finding, PlanBody, Step
from planfirst.settings import Settings

__all__ = ["RULES", "USER_ONLY_RULES", "confidence", "is_checkable", "is_specific", "lint_plan"]

RULES: dict[str, tuple[str, str]] = {
    "step-no-validation": (
        WARNING,
        "A step has no validation command, so nothing checks it on its own.",
    ),
    "step-vague": (WARNING, "A step's description names no file, function, class or symbol."),
    "step-too-many-files": (
        WARNING,
        "A step touches more files than planfirst.lint.maxFilesPerStep.",
    ),
    "modify-missing-file": (ERROR, "A file to modify does not exist in the workspace."),
    "create-existing-file": (WARNING, "A file to create already exists in the workspace."),
    "file-not-in-steps": (WARNING, "A file the plan lists is touched by no step."),
    "protected-file": (
        WARNING,
        "The plan edits a file that configures tools, CI, the editor or holds secrets.",
    ),
    "edits-validation-script": (
        INFO,
        "A step edits a file that one of its own validation commands runs.",
    ),
    "validation-unparseable": (ERROR, "A validation command cannot be split into arguments."),
    "validation-shell-syntax": (
        WARNING,
        "A validation command relies on a shell; commands run without one.",
    ),
    "validation-not-installed": (
        WARNING,
        "A validation command's program is not on PATH or in the workspace.",
    ),
    "validation-not-allowed": (
        WARNING,
        "A validation command's program is not on planfirst.validation.allow.",
    ),
    "criteria-not-checkable": (
        WARNING,
        "A test criterion has no command and no observable condition.",
    ),
    "depends-on-order": (
        WARNING,
        "depends_on does not match the order in which steps touch the files.",
    ),
    "dependency-no-version": (WARNING, "A package change has no version or range."),
    "duplicate-steps": (WARNING, "Two steps have (nearly) the same description."),
    "no-risks": (INFO, "A plan touching several files lists no risks."),
    "no-assumptions": (INFO, "A plan touching several files lists no assumptions."),
    "misleading-name": (
        WARNING,
        "A file name hides characters, uses look-alike letters or differs from another only in case "
        "(an error for invisible characters; cannot be disabled).",
    ),
}


def _norm_desc(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def lint_plan(
    body: PlanBody,
    guard: WorkspaceGuard | None,
    settings: Settings,
    *,
    allow: Iterable[str] | None = None,
) -> list[Finding]:
    """Every finding for the plan, rule by rule, minus the rules disabled in settings."""
    disabled = set(settings.lint.disabled)
    allowed = set(settings.validation.allow if allow is None else allow)
    out: list[Finding] = []

    def add(
        rule: str,
        message: str,
        step: int | None = None,
        section: str | None = None,
        severity: str | None = None,
    ) -> None:
        if rule not in disabled:
            out.append(
                Finding(
                    rule=rule,
                    severity=severity or RULES[rule][0],
                    message=message,
                    step=step,
                    section=section,
                )
            )

    steps = sorted(body.steps, key=lambda s: s.order)
    first_step: dict[str, int] = {}
    for s in steps:
        for p in s.files:
            first_step.setdefault(p, s.order)

    for s in steps:
        _lint_step(s, guard, settings, allowed, add)

    # Files: existence, steps that touch them, protection.
    modify = [f.path for f in body.files_to_modify]
    create = [f.path for f in body.files_to_create]
    for p in modify:
        where = first_step.get(p)
        if guard is not None:
            try:
                exists = guard.resolve(p).is_file()
                problem = None if exists else "does not exist in the workspace"
            except PathError as e:
                exists, problem = False, str(e)
            if not exists:
                add(
                    "modify-missing-file",
                    f"{p!r} is listed to modify but {problem}; fix the path or move it to files_to_create",
                    where,
                    "files_to_modify",
                )
    for p in create:
        if guard is not None:
            try:
                exists = guard.resolve(p).exists()
            except PathError:
                exists = (
                    False  # outside paths are reported by the model invariants and the executor
                )
            if exists:
                add(
                    "create-existing-file",
                    f"{p!r} is listed to create but already exists; move it to files_to_modify "
                    "or pick a new name",
                    first_step.get(p),
                    "files_to_create",
                )
    for p, section in [
        *((m, "files_to_modify") for m in modify),
        *((c, "files_to_create") for c in create),
    ]:
        if p not in first_step:
            add(
                "file-not-in-steps",
                f"{p!r} is in {section} but no step touches it; add it to a step or drop it",
                None,
                section,
            )
        why = protected_reason(p, guard)
        if why:
            add(
                "protected-file",
                f"{p!r} {why}; the edit will need its own confirmation — make sure the plan really needs it",
                first_step.get(p),
                section,
            )

    # depends_on against the step order (the hard case is also a model invariant).
    for f in body.files_to_modify:
        for d in f.depends_on:
            fs, ds = first_step.get(f.path), first_step.get(d)
            if ds is None:
                add(
                    "depends-on-order",
                    f"{f.path!r} depends on {d!r}, but no step touches {d!r}; add a step for it "
                    "or remove the dependency",
                    fs,
                    "files_to_modify",
                )
            elif fs is not None and ds > fs:
                out_rule = "depends-on-order"
                if out_rule not in disabled:
                    out.append(
                        Finding(
                            rule=out_rule,
                            severity=ERROR,
                            message=f"{f.path!r} depends on {d!r}, but step {fs} changes it before step {ds} "
                            f"handles {d!r}; reorder the steps",
                            step=fs,
                            section="steps",
                        )
                    )
            elif fs is not None and ds == fs and d != f.path:
                add(
                    "depends-on-order",
                    f"{f.path!r} depends on {d!r} and both first change in step {fs}; say in that step "
                    f"that {d!r} changes first, or split it so {d!r} has its own earlier step",
                    fs,
                    "steps",
                    # a module and its tests in one step is normal: worth knowing, not a fault
                    severity="info",
                )

    # Test criteria.
    for i, c in enumerate(body.test_criteria):
        if not is_checkable(c):
            add(
                "criteria-not-checkable",
                f"test criterion {i + 1} ({_short(c)}) cannot be checked; give a command in backticks "
                "or an observable result (what returns, prints, passes or raises)",
                None,
                "test_criteria",
            )

    # Dependencies.
    for pkg in body.dependency_changes.packages:
        if not pkg.version.strip():
            add(
                "dependency-no-version",
                f"package {pkg.name!r} ({pkg.manager}) has no version; pin a version or range such as '>=2.1,<3'",
                None,
                "dependency_changes",
            )

    # Duplicated steps.
    norm = [(s.order, _norm_desc(s.description)) for s in steps]
    for i, (oa, a) in enumerate(norm):
        for ob, b in norm[i + 1 :]:
            if a and b and (a == b or difflib.SequenceMatcher(None, a, b).ratio() >= 0.9):
                add(
                    "duplicate-steps",
                    f"steps {oa} and {ob} describe nearly the same change; merge them or say how they differ",
                    ob,
                    "steps",
                )
                break

    # Risks and assumptions on a plan that touches several files.
    touched = set(modify) | set(create) | set(first_step)
    if len(touched) > 1:
        if not body.risks:
            add(
                "no-risks",
                f"the plan touches {len(touched)} files but lists no risks; name what could break",
                None,
                "risks",
            )
        if not body.assumptions:
            add(
                "no-assumptions",
                f"the plan touches {len(touched)} files but lists no assumptions; state what it takes for granted",
                None,
                "assumptions",
            )
    out.extend(misleading_names(body, guard))  # never disabled: it protects the review (case 34)
    return out


def _lint_step(
    s: Step,
    guard: WorkspaceGuard | None,
    settings: Settings,
    allowed: set[str],
    add: Any,
) -> None:
    if not s.validation:
        add(
            "step-no-validation",
            f"step {s.order} has no validation command; add one that checks this step alone, "
            "e.g. 'pytest -q tests/test_x.py' or 'ruff check src/x.py'",
            s.order,
            "steps",
        )
    if not is_specific(s.description):
        add(
            "step-vague",
            f"step {s.order} ({_short(s.description)}) names no file, function or class; say which "
            "file and which function or class change, e.g. 'in `src/auth.py`, make `login()` …'",
            s.order,
            "steps",
        )
    n = len(s.files)
    if n > settings.lint.max_files_per_step:
        add(
            "step-too-many-files",
            f"step {s.order} touches {n} files (limit {settings.lint.max_files_per_step}); split it into "
            "smaller steps that can each be validated",
            s.order,
            "steps",
        )
    for cmd in s.validation:
        argv = split_argv(cmd)
        if argv is None:
            add(
                "validation-unparseable",
                f"step {s.order}: validation command {cmd!r} has unbalanced quotes; fix the quoting",
                s.order,
                "steps",
            )
            continue
        if not argv:
            continue
        shellish = [a for a in argv if a in SHELL_TOKENS or "$(" in a or "`" in a]
        if ENV_ASSIGN.match(argv[0]):
            shellish.insert(0, argv[0])
        if shellish:
            add(
                "validation-shell-syntax",
                f"step {s.order}: {cmd!r} uses shell syntax ({', '.join(shellish[:3])}) but commands run "
                "without a shell, so it would be passed as a plain argument; split it into separate commands",
                s.order,
                "steps",
            )
        prog = argv[0]
        base = prog.rpartition("/")[2]
        if not ENV_ASSIGN.match(prog) and not program_found(prog, guard):
            add(
                "validation-not-installed",
                f"step {s.order}: {base!r} (from {cmd!r}) is not installed or not on PATH; install it "
                "or use a command that exists here",
                s.order,
                "steps",
            )
        if base not in allowed and prog not in allowed:
            add(
                "validation-not-allowed",
                f"step {s.order}: {base!r} (from {cmd!r}) is not on the allow-list "
                "(planfirst.validation.allow); it will run only if you confirm it when the step runs",
                s.order,
                "steps",
            )
        runs = set(RUNS_FILE.get(base, ()))
        if "/" in prog:
            runs.add(prog.removeprefix("./"))
        if base in INTERPRETERS and len(argv) > 1 and not argv[1].startswith("-"):
            runs.add(argv[1].removeprefix("./"))
        edited = [p for p in s.files if p in runs]
        if edited:
            add(
                "edits-validation-script",
                f"step {s.order} edits {', '.join(edited)}, which its own command {cmd!r} runs; the "
                "approved command will do something new — review that edit closely",
                s.order,
                "steps",
            )


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= n else text[: n - 1] + "…")


# Findings for the person who approves, not for the planner: a plan that must edit a trust file
# cannot be "fixed" by the model, so the feedback round never sends these back.
USER_ONLY_RULES = frozenset({"protected-file"})
