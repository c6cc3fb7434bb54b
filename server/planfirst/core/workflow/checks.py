"""Running checks: the command environment, a step's validation commands, the plan's test
criteria after the last step, and their problems published as diagnostics."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from planfirst.core.commands.argv_rules import Workspace
from planfirst.core.commands.redact import Redactor
from planfirst.core.commands.validate import (
    CommandPolicy,
    Runner,
    is_secret_name,
    refusal_advice,
    run_validation,
)
from planfirst.core.problems.board import ProblemsBoard
from planfirst.core.problems.parse import Problem, parse_off_loop
from planfirst.core.workflow.contracts import (
    Host,
    Progress,
    StepOutcome,
    StepResult,
    WorkspaceAccess,
)
from planfirst.core.workflow.diagnoser import diagnose, format_failures
from planfirst.llm.model import ModelError
from planfirst.plan.criteria import criteria_commands
from planfirst.plan.model import Plan, PlanStatus, Step, StepRun, ValidationResult

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session


def command_env(root: Path) -> dict[str, str]:
    """The environment validation runs in (scrubbed by validate.py): the workspace's own
    virtualenv first on PATH, then the interpreter planfirst runs on, then the absolute entries
    of planfirst's own PATH."""
    env = dict(os.environ)
    extra = [str(Path(sys.executable).parent)]
    for venv in (".venv", "venv"):
        bindir = root / venv / "bin"
        if bindir.is_dir():
            extra.insert(0, str(bindir))
    # only absolute entries: an empty entry or `.` (a trailing colon, PATH unset) means the
    # working directory — the workspace root for the command, planfirst's own elsewhere for the
    # policy that looks the program up — so a repository's `./tox` would run as the tool
    given = [p for p in env.get("PATH", "").split(os.pathsep) if os.path.isabs(p)]
    env["PATH"] = os.pathsep.join([*extra, *given])
    return env


async def failure_problems(results: list[ValidationResult], root: Path) -> dict[str, list[Problem]]:
    """The problems in the output of the failed commands, by path (parsed off the event loop
    with a deadline: docs/reliability.md case 29)."""
    problems: dict[str, list[Problem]] = {}
    for r in results:
        if not r.passed:
            for pr in await parse_off_loop(r.output, root, r.command):
                problems.setdefault(pr.path, []).append(pr)
    return problems


def publish(board: ProblemsBoard, problems: dict[str, list[Problem]]) -> None:
    """Show these problems; clear the ones published before that are gone."""
    board.show(problems)


def problem_count(board: ProblemsBoard) -> int:
    """How many problems are published now."""
    return board.count()


async def run_commands(
    ws: WorkspaceAccess, commands: list[str], progress: Progress, what: str
) -> list[ValidationResult]:
    """Run commands under the validation policy, streaming output to the log and progress."""
    env = command_env(ws.root)
    # programs, scripts and modules resolve against the workspace (case 27)
    policy = CommandPolicy(ws.settings.validation.allow, Workspace(ws.root, env))

    async def confirm(cmd: str, reason: str) -> bool | None:
        # None: the editor cannot ask (validate.py then says how to allow the command instead)
        return await ws.host.confirm(f"{what} wants to run `{cmd}`: {reason}. Run it this time?")

    # say what runs: "step 1: running `pytest -q` (2 more)", then its latest output line
    running = f"{what}: running `{commands[0]}`" + (
        f" (+{len(commands) - 1} more)" if len(commands) > 1 else ""
    )

    def on_output(chunk: str) -> None:
        text = chunk.rstrip("\n")
        ws.host.log(text)
        last = text.strip().splitlines()[-1] if text.strip() else ""
        if last:
            progress.report(f"{running}: {last[:80]}")

    progress.report(running)
    return await run_validation(
        commands,
        ws.root,
        policy,
        timeout_s=ws.settings.validation.timeout_s,
        output_cap=ws.settings.validation.output_cap,
        confirm=confirm,
        on_output=on_output,
        env=env,
        redact=Redactor.for_commands(ws.root, env, is_secret_name),  # case 32
        runner=_runner(ws.host),
    )


def _runner(host: Host) -> Runner | None:
    """The face's way to run a command (a client's terminal), if it has one."""
    own = getattr(host, "command_runner", None)
    return own() if callable(own) else None


async def validate_run(
    s: Session, plan: Plan, step: Step, run: StepRun, progress: Progress
) -> str | None:
    """Validate an applied step; None when it passed, else the errors for the model."""
    results = await run_commands(
        s, step.validation, progress, f"step {step.order}/{len(plan.steps)}"
    )
    run.validation = results
    publish(s.problems, await failure_problems(results, s.root))
    refused = [r for r in results if r.refused]
    if refused:
        run.error = f"`{refused[0].command}` was not run: {refused[0].refused}. {refusal_advice(refused[0].refused or '')}"
        s.save(plan)
        return run.error
    if all(r.passed for r in results):
        return None  # the caller records the step as done in its next save
    s.save(plan, durable=False)  # the next attempt or `fail` follows (fail is durable)
    return format_failures(results)


async def final_checks(s: Session, plan: Plan, progress: Progress) -> StepOutcome:
    """After the last step: run the plan's test criteria; diagnose failures against the plan."""
    commands = criteria_commands(plan.body.test_criteria)  # only unmistakable commands (case 28)
    results = await run_commands(s, commands, progress, "test criteria") if commands else []
    plan.final_validation = results
    if all(r.passed for r in results):
        plan.status = PlanStatus.DONE
        plan.diagnosis = None
        s.save(plan)
        msg = f"all {len(plan.steps)} steps done" + (
            f"; test criteria passed ({len(results)} command(s))" if results else ""
        )
        s.host.notify(f"Plan '{plan.title}': {msg}.", "info")
        return StepOutcome(plan.id, None, StepResult.DONE, message=msg)
    problems = await failure_problems(results, s.root)
    publish(s.problems, problems)
    plan.status = PlanStatus.FAILED
    progress.report("test criteria failed: diagnosing against the plan")
    try:
        plan.diagnosis = await diagnose(s.models.planning(), plan, results)
    except ModelError as e:
        if e.usage is not None:  # what its answered requests cost is never lost
            plan.usage.add(e.usage)
        s.host.log(f"diagnosis failed: {e.message}")
    s.save(plan)
    msg = "test criteria failed" + (
        f"; diagnosis: step {plan.diagnosis.suspect_step}: {plan.diagnosis.broken_assumption}"
        if plan.diagnosis and plan.diagnosis.suspect_step
        else ""
    )
    s.host.notify(f"Plan '{plan.title}': {msg}", "warning")
    return StepOutcome(
        plan.id,
        None,
        StepResult.FAILED,
        problems=sum(len(v) for v in problems.values()),
        message=msg,
    )
