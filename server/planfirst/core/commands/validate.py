"""Run a step's validation commands: argv without a shell, allow-listed, time-boxed, capped, scrubbed.

docs/reliability.md cases 3, 5, 11 and 17 live here. Nothing in this module ever goes through a shell:
a command string is split with `shlex` and the pieces are handed to `exec` as they are, so `;`,
`|`, `&&`, `$(…)` and backticks reach the program as plain arguments.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from planfirst.core.commands.command_policy import (
    NO_WAY_TO_ASK,
    CommandPolicy,
    PolicyDecision,
    refusal_advice,
    split_command,
)
from planfirst.core.commands.process import (
    KILL_GRACE_S,
    CommandResult,
    OutputSink,
    call_sink,
    is_secret_name,
    run_command,
    scrubbed_env,
)
from planfirst.core.commands.redact import RedactingSink, Redactor
from planfirst.plan.model import ValidationResult

__all__ = [
    "KILL_GRACE_S",
    "NO_WAY_TO_ASK",
    "CommandPolicy",
    "CommandResult",
    "Confirm",
    "PolicyDecision",
    "is_secret_name",
    "refusal_advice",
    "run_command",
    "run_validation",
    "scrubbed_env",
    "split_command",
]

log = logging.getLogger("planfirst")

Confirm = Callable[[str, str], Awaitable[bool | None]]  # None: the editor cannot ask
# runs one allowed command (run_command's signature): planfirst's own runner, or a client's
# terminal (acp/terminal.py) — what may run is decided here either way
Runner = Callable[..., Awaitable[CommandResult]]


# ---------------------------------------------------------------- a step's commands


async def run_validation(
    commands: list[str],
    cwd: Path,
    policy: CommandPolicy,
    *,
    timeout_s: float,
    output_cap: int,
    confirm: Confirm | None,
    on_output: OutputSink | None = None,
    env: Mapping[str, str] | None = None,
    cancel_event: asyncio.Event | None = None,
    redact: Redactor | None = None,
    runner: Runner | None = None,
) -> list[ValidationResult]:
    """Run each command under the policy and return one ValidationResult per command, in order.

    A command off the allow-list runs only if `confirm(cmd, reason)` returns True (no `confirm`:
    refused). Every command runs even after a failure, so the model sees every error; after a
    timeout or a cancellation the remaining commands are recorded as not run. With `redact`,
    known secret values are replaced in the streamed and the recorded output (case 32).
    """
    results: list[ValidationResult] = []
    stop_reason: str | None = None
    for cmd in commands:
        if stop_reason is not None:
            results.append(ValidationResult(command=cmd, refused=stop_reason))
            continue
        decision = policy.decide(cmd)
        if not decision.argv:
            results.append(ValidationResult(command=cmd, refused=decision.reason))
            continue
        if not decision.allowed:
            answer = await confirm(cmd, decision.reason) if confirm is not None else None
            if answer is not True:
                why = "not confirmed" if answer is False else NO_WAY_TO_ASK
                results.append(ValidationResult(command=cmd, refused=f"{decision.reason} ({why})"))
                continue
        if on_output is not None:
            call_sink(on_output, f"$ {cmd}\n")
        sink = RedactingSink(on_output, redact) if on_output and redact else on_output
        try:
            res = await (runner or run_command)(
                decision.argv,
                cwd,
                timeout_s=timeout_s,
                output_cap=output_cap,
                on_output=sink,
                env=env,
                cancel_event=cancel_event,
            )
        finally:
            if isinstance(sink, RedactingSink):
                try:
                    sink.flush()
                except Exception:
                    log.warning("planfirst: the validation output sink failed", exc_info=True)
        if redact is not None:
            res.output = redact(res.output)
        results.append(
            ValidationResult(
                command=cmd,
                exit_code=res.exit_code,
                passed=res.exit_code == 0 and not res.timed_out and not res.cancelled,
                duration_s=round(res.duration_s, 3),
                output=res.output,
                timed_out=res.timed_out,
                cancelled=res.cancelled,
            )
        )
        if res.timed_out:
            stop_reason = f"not run: '{cmd}' timed out before it"
        elif res.cancelled:
            stop_reason = "not run: validation was cancelled"
    return results
