"""Run a step's validation commands: argv without a shell, allow-listed, time-boxed, capped, scrubbed.

docs/reliability.md cases 3, 5, 11 and 17 live here. Nothing in this module ever goes through a shell:
a command string is split with `shlex` and the pieces are handed to `exec` as they are, so `;`,
`|`, `&&`, `$(…)` and backticks reach the program as plain arguments.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import posixpath
import re
import shlex
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planfirst.core.argv_rules import Workspace, flag_risk, node_script_ok
from planfirst.core.redact import RedactingSink, Redactor
from planfirst.plan.model import ValidationResult

# Seconds between SIGTERM and SIGKILL when a command is stopped: long enough for a test runner to
# flush, short enough that a cancel feels immediate.
KILL_GRACE_S = 1.0
# After the program itself exits, how long its leftover children may keep the pipe open before
# the process group is killed (a forgotten `server &` must not hold validation hostage).
DRAIN_GRACE_S = 0.5
_READ_CHUNK = 64 * 1024
_REAP_LIMIT_S = 5.0  # after SIGKILL the leader's exit status arrives within milliseconds
_POLL_S = 0.05  # how often the leader's exit is checked while its output is being read

OutputSink = Callable[[str], None]
Confirm = Callable[[str, str], Awaitable[bool | None]]  # None: the editor cannot ask

NO_WAY_TO_ASK = "no way to ask for confirmation"


# ---------------------------------------------------------------- splitting and policy


def split_command(cmd: str) -> list[str]:
    """Split `cmd` into argv the POSIX-shell way, without ever running a shell.

    Shell operators and substitutions are not interpreted: `a; b` gives `["a;", "b"]`.
    Raises ValueError with a readable message for an empty or unparseable command.
    """
    if not isinstance(cmd, str) or not cmd.strip():
        raise ValueError("the validation command is empty")
    if "\x00" in cmd:
        raise ValueError(f"the validation command {cmd!r} contains a NUL byte")
    try:
        argv = shlex.split(cmd, comments=False, posix=True)
    except ValueError as e:
        raise ValueError(f"cannot split the validation command {cmd!r}: {e}") from None
    if not argv or not argv[0]:
        raise ValueError(f"the validation command {cmd!r} names no program")
    return argv


@dataclass(frozen=True)
class PolicyDecision:
    """Whether a command may run without asking, the argv it runs as, and why."""

    argv: list[str]
    allowed: bool
    reason: str


_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Interpreter flags that change nothing about *what* runs; anything else before `-m` (notably
# `-c`) makes a python command need confirmation.
_PY_PLAIN_FLAGS = {"-B", "-E", "-I", "-O", "-OO", "-P", "-q", "-s", "-S", "-u", "-b", "-bb", "-v"}
_PY_FLAGS_WITH_VALUE = {"-W", "-X"}
_PYTHON = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?$")
_NODE_SCRIPT_EXT = re.compile(r"\.(c|m)?js$")
# Package-manager subcommands that only run a project's own test script.
_TEST_SCRIPT_NAMES = {"test", "t", "tst"}


class CommandPolicy:
    """Decides which validation commands run without asking: an allow-list of program names.

    Rule (docs/reliability.md cases 3 and 27):
    - The program is identified by the basename of argv[0], so `.venv/bin/pytest` and
      `./node_modules/.bin/eslint` count as `pytest` and `eslint`. A relative program path must
      stay inside the workspace (no `..`).
    - Launchers do not allow everything they can launch. `python`/`python3` (also `python3.12`,
      `pypy3`) is allowed only as `python [harmless flags] -m MODULE` with MODULE allowed;
      `python -c …` and `python script.py` always need confirmation. `node` is allowed only for a
      script whose basename without `.js` is an allowed tool. `npm`/`yarn`/`pnpm` are allowed for
      `test` and for `run NAME` / `exec NAME` with NAME allowed; `npx NAME` with NAME allowed.
      A launcher is itself still subject to the list: remove `python` and no `python -m` runs.
    - `VAR=value cmd` is never allowed: there is no shell to interpret it.
    """

    def __init__(self, allow: Iterable[str], workspace: Workspace | None = None) -> None:
        self.allow: frozenset[str] = frozenset(a.strip() for a in allow if a and a.strip())
        self.workspace = workspace  # where programs, scripts and modules resolve (case 27)

    def decide(self, cmd: str) -> PolicyDecision:
        """Split `cmd` and decide whether it may run without confirmation."""
        try:
            argv = split_command(cmd)
        except ValueError as e:
            return PolicyDecision([], False, str(e))
        allowed, reason = self._decide_argv(argv)
        return PolicyDecision(argv, allowed, reason)

    def _ok(self, name: str) -> bool:
        return name in self.allow

    def _not_listed(self, name: str) -> str:
        return f"'{name}' is not on planfirst.validation.allow"

    def _decide_argv(self, argv: list[str]) -> tuple[bool, str]:
        prog = argv[0]
        if _ENV_ASSIGN.match(prog):
            return False, (
                f"'{prog}' is an environment assignment; planfirst runs commands without a shell, "
                "so set variables outside planfirst"
            )
        if "/" in prog:
            norm = posixpath.normpath(prog)
            if not prog.startswith("/") and (norm == ".." or norm.startswith("../")):
                return False, f"program path '{prog}' points outside the workspace"
        name = posixpath.basename(prog.rstrip("/"))
        if not name:
            return False, f"'{prog}' names no program"
        if not self._ok(name):
            return False, self._not_listed(name)
        rest = argv[1:]
        risk = flag_risk(name, rest) or (
            self.workspace.program_risk(prog) if self.workspace is not None else None
        )
        if risk:
            return False, risk
        if _PYTHON.match(name):
            return self._python(name, rest)
        if name == "node":
            return self._node(rest)
        if name in ("npm", "yarn", "pnpm"):
            return self._package_manager(name, rest)
        if name == "npx":
            return self._npx(rest)
        return True, f"'{name}' is on planfirst.validation.allow"

    def _python(self, name: str, rest: list[str]) -> tuple[bool, str]:
        i = 0
        while i < len(rest):
            arg = rest[i]
            if arg == "-m":
                if i + 1 >= len(rest):
                    return False, f"'{name} -m' names no module"
                module = rest[i + 1]
                top = module.split(".")[0]
                if self._ok(module) or self._ok(top):
                    isolated = any(f in ("-I", "-P") for f in rest[:i])
                    risk = (
                        self.workspace.module_risk(name, module, isolated)
                        if self.workspace is not None
                        else None
                    )
                    if risk:
                        return False, risk
                    return True, f"'{name} -m {module}': '{top}' is on planfirst.validation.allow"
                return False, f"'{name} -m {module}': " + self._not_listed(top)
            if arg.startswith("-m") and len(arg) > 2:
                return self._python(name, [*rest[:i], "-m", arg[2:], *rest[i + 1 :]])
            if arg in _PY_PLAIN_FLAGS:
                i += 1
                continue
            if arg in _PY_FLAGS_WITH_VALUE:
                i += 2
                continue
            if arg[:2] in _PY_FLAGS_WITH_VALUE:
                i += 1
                continue
            if arg == "-c" or arg.startswith("-c"):
                return False, f"'{name} -c' runs inline code; it always needs confirmation"
            if arg.startswith("-"):
                return False, f"'{name} {arg}' is not a flag planfirst recognises as harmless"
            return False, (
                f"'{name} {arg}' runs a script; only '{name} -m <allowed tool>' runs without confirmation"
            )
        return False, f"'{name}' without '-m <allowed tool>' needs confirmation"

    def _node(self, rest: list[str]) -> tuple[bool, str]:
        # Only `node path/to/<tool>[.js] …`: any node flag (e.g. -e, --require) could run other code.
        if not rest or rest[0].startswith("-"):
            return (
                False,
                "'node' runs only a script named after an allowed tool without confirmation",
            )
        tool = _NODE_SCRIPT_EXT.sub("", posixpath.basename(rest[0]))
        if self._ok(tool):
            if self.workspace is not None:
                risk = self.workspace.script_risk("node", rest[0])
                if risk:
                    return False, risk
            elif not node_script_ok(rest[0]):
                return False, f"'node {rest[0]}' runs a script that is not an installed tool's"
            return True, f"'node {rest[0]}': '{tool}' is on planfirst.validation.allow"
        return False, f"'node {rest[0]}': " + self._not_listed(tool)

    def _package_manager(self, pm: str, rest: list[str]) -> tuple[bool, str]:
        if not rest:
            return False, f"'{pm}' with no subcommand needs confirmation (it may install packages)"
        sub = rest[0]
        if sub in _TEST_SCRIPT_NAMES:
            return True, f"'{pm} {sub}' runs the project's test script"
        if sub in ("run", "run-script", "exec") and len(rest) >= 2:
            target = rest[1]
            if target in _TEST_SCRIPT_NAMES or self._ok(target):
                return True, f"'{pm} {sub} {target}': '{target}' is allowed"
            return False, f"'{pm} {sub} {target}': " + self._not_listed(target)
        return (
            False,
            f"'{pm} {sub}' needs confirmation; only test, run/exec <allowed tool> are allowed",
        )

    def _npx(self, rest: list[str]) -> tuple[bool, str]:
        i = 0
        while i < len(rest) and rest[i] in ("--no-install", "--no", "--offline", "--quiet", "-q"):
            i += 1
        if i >= len(rest) or rest[i].startswith("-"):
            return False, "'npx' runs only an allowed tool without confirmation"
        tool = rest[i]
        if self._ok(tool):
            return True, f"'npx {tool}': '{tool}' is on planfirst.validation.allow"
        return False, f"'npx {tool}': " + self._not_listed(tool)


# ---------------------------------------------------------------- environment

# A deny-list over variable NAMES: over-dropping costs a rerun, leaking costs a key.
_SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
_SECRET_PREFIX = ("ANTHROPIC_",)


def is_secret_name(name: str) -> bool:
    """True when an environment variable's name suggests it holds a credential."""
    return bool(_SECRET_NAME.search(name)) or name.upper().startswith(_SECRET_PREFIX)


def scrubbed_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default: this process's environment) without credential-like variables.

    Drops names matching *KEY*, *SECRET*, *TOKEN*, *PASSWORD*, *PASSWD*, *CREDENTIAL*, *AUTH*
    (case-insensitive, so SSH_AUTH_SOCK goes too) and every ANTHROPIC_* variable; PATH, HOME,
    LANG, VIRTUAL_ENV and the rest are kept so tools still work.
    """
    src = os.environ if base is None else base
    return {k: v for k, v in src.items() if not is_secret_name(k)}


# ---------------------------------------------------------------- running one command


@dataclass
class CommandResult:
    """What one command did: exit code (None if it never ran), capped output, how it ended."""

    argv: list[str]
    exit_code: int | None
    output: str
    duration_s: float
    timed_out: bool = False
    cancelled: bool = False
    truncated: bool = False


@dataclass
class _CappedOutput:
    """Keeps the head and the tail of a stream within `cap` characters while it streams."""

    cap: int
    sink: OutputSink | None = None
    head: list[str] = field(default_factory=list)
    head_len: int = 0
    tail: str = ""
    dropped: int = 0
    _announced: bool = False

    def __post_init__(self) -> None:
        self.cap = max(self.cap, 2)
        self.head_cap = self.cap // 2
        self.tail_cap = self.cap - self.head_cap

    def feed(self, text: str) -> None:
        """Take one decoded chunk; forward what fits the head to the sink."""
        if not text:
            return
        room = self.head_cap - self.head_len
        if room > 0:
            part = text[:room]
            self.head.append(part)
            self.head_len += len(part)
            self._emit(part)
            text = text[room:]
            if not text:
                return
        self.tail += text
        if len(self.tail) > self.tail_cap:
            cut = len(self.tail) - self.tail_cap
            self.dropped += cut
            self.tail = self.tail[cut:]
        if not self._announced:
            self._announced = True
            self._emit(
                f"\n[planfirst: output beyond {self.head_cap} characters is held back; "
                "the tail follows when the command ends]\n"
            )

    def finish(self) -> None:
        """Forward the held-back tail once the command has ended."""
        if self._announced and self.tail:
            if self.dropped:
                self._emit(f"[planfirst: {self.dropped} characters dropped]\n")
            self._emit(self.tail)

    def _emit(self, text: str) -> None:
        if self.sink is not None and text:
            # A broken sink (e.g. a closed output channel) must not kill the command or leak it.
            with contextlib.suppress(Exception):
                self.sink(text)

    @property
    def truncated(self) -> bool:
        """True when characters were dropped from the middle."""
        return self.dropped > 0

    def text(self) -> str:
        """Head, a marker where the middle was dropped, and the tail."""
        head = "".join(self.head)
        if self.dropped:
            return f"{head}\n[... {self.dropped} characters of output dropped ...]\n{self.tail}"
        return head + self.tail


def _close_transport(proc: asyncio.subprocess.Process) -> None:
    # asyncio offers no public way to let go of a pipe someone else still holds open.
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.close()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _stop_group(
    proc: asyncio.subprocess.Process, reader: asyncio.Task[None], grace: float = KILL_GRACE_S
) -> None:
    """SIGTERM the whole process group, give it `grace` seconds, SIGKILL whatever is left, reap.

    Runs after every command, not only on timeout: a validation command must not leave a
    background process behind (docs/reliability.md cases 11, 17, 22).
    """
    # The child was started with start_new_session, so its pid is its process-group id; the group
    # outlives the leader while any grandchild lives, so killpg reaches stragglers too.
    pgid = proc.pid
    try:
        _signal_group(pgid, signal.SIGTERM)
        # Done when the leader has exited and nobody holds the pipe any more.
        end = time.monotonic() + grace
        while time.monotonic() < end and not (proc.returncode is not None and reader.done()):
            await asyncio.wait({reader}, timeout=_POLL_S)
    finally:
        # Also runs if we are cancelled during the grace period: nothing may survive.
        _signal_group(pgid, signal.SIGKILL)
    # Not proc.wait(): a waiter made before the exit is only woken when the pipe closes, which a
    # process that left the group (setsid) could hold open forever. SIGKILL makes this quick.
    end = time.monotonic() + _REAP_LIMIT_S
    while proc.returncode is None and time.monotonic() < end:  # noqa: ASYNC110
        await asyncio.sleep(_POLL_S)


async def _pump(stream: asyncio.StreamReader, out: _CappedOutput) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        chunk = await stream.read(_READ_CHUNK)
        if not chunk:
            out.feed(decoder.decode(b"", final=True))
            return
        out.feed(decoder.decode(chunk))


def _not_found_message(argv: list[str], cwd: Path) -> str:
    prog = argv[0]
    if "/" in prog:
        return f"program '{prog}' not found (relative paths are resolved from {cwd})"
    return f"program '{prog}' not found on PATH"


def _load_prctl() -> Any:
    # resolved once in the parent: the child, between fork and exec, must not import or load
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:
        return None


_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGKILL it if planfirst itself dies (a SIGKILLed
    server cannot run its clean-up). Best effort; elsewhere a no-op."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


async def run_command(
    argv: list[str],
    cwd: Path,
    *,
    timeout_s: float,
    output_cap: int,
    on_output: OutputSink | None = None,
    env: Mapping[str, str] | None = None,
    cancel_event: asyncio.Event | None = None,
) -> CommandResult:
    """Run argv (no shell) in cwd with a timeout, a streaming output cap and a scrubbed environment.

    stdin is /dev/null, stderr is merged into stdout, output is decoded as UTF-8 with replacement
    and handed to `on_output` as it arrives (within the cap). On timeout, on `cancel_event`, or
    when the program exits leaving children behind, the whole process group is killed. On asyncio
    cancellation the group is killed and CancelledError re-raised. `env` is the base environment
    (default: this process's); it is always scrubbed of credentials.
    """
    if not argv:
        raise ValueError("argv is empty")
    started = time.monotonic()
    out = _CappedOutput(output_cap, on_output)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=str(cwd),
            env=scrubbed_env(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    except FileNotFoundError:
        # exec reports a missing cwd the same way as a missing program; tell them apart.
        missing_cwd = not os.path.isdir(cwd)  # one stat, only after a failed spawn
        msg = (
            f"working directory {cwd} does not exist"
            if missing_cwd
            else _not_found_message(argv, cwd)
        )
        out.feed(msg + "\n")
        return CommandResult(list(argv), None, msg, time.monotonic() - started)
    except PermissionError:
        msg = f"program '{argv[0]}' is not executable"
        out.feed(msg + "\n")
        return CommandResult(list(argv), None, msg, time.monotonic() - started)
    except OSError as e:
        msg = f"cannot start '{argv[0]}': {e.strerror or e}"
        out.feed(msg + "\n")
        return CommandResult(list(argv), None, msg, time.monotonic() - started)

    assert proc.stdout is not None
    reader = asyncio.create_task(_pump(proc.stdout, out))
    stopper = asyncio.create_task(cancel_event.wait()) if cancel_event is not None else None
    watched: set[asyncio.Future[Any]] = {reader} if stopper is None else {reader, stopper}
    timed_out = cancelled = False
    deadline = started + timeout_s
    try:
        # asyncio's proc.wait() only returns once the pipe closes, which a leftover grandchild can
        # delay forever; proc.returncode is set as soon as the leader exits, so poll that.
        while proc.returncode is None or not reader.done():
            if stopper is not None and stopper.done():
                cancelled = True
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            if proc.returncode is not None:
                # The program exited but something it started still holds the pipe.
                await asyncio.wait({reader}, timeout=min(DRAIN_GRACE_S, remaining))
                break
            await asyncio.wait(
                watched, timeout=min(_POLL_S, remaining), return_when=asyncio.FIRST_COMPLETED
            )
        await _stop_group(proc, reader)
        # The group is dead, so the pipe reaches EOF promptly, unless a process escaped the group.
        await asyncio.wait({reader}, timeout=KILL_GRACE_S)
        if not reader.done():
            out.feed(
                "\n[planfirst: a process that left the process group still holds the output open]\n"
            )
            _close_transport(proc)
    except asyncio.CancelledError:
        await _stop_group(proc, reader, grace=KILL_GRACE_S)
        raise
    finally:
        for t in (reader, stopper):
            if t is not None and not t.done():
                t.cancel()
    if timed_out:
        out.feed(f"\n[planfirst: timed out after {timeout_s:g} s; the process group was killed]\n")
    elif cancelled:
        out.feed("\n[planfirst: cancelled; the process group was killed]\n")
    out.finish()
    return CommandResult(
        argv=list(argv),
        exit_code=proc.returncode,
        output=out.text(),
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
        cancelled=cancelled,
        truncated=out.truncated,
    )


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
            with contextlib.suppress(Exception):
                on_output(f"$ {cmd}\n")
        sink = RedactingSink(on_output, redact) if on_output and redact else on_output
        try:
            res = await run_command(
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
                with contextlib.suppress(Exception):
                    sink.flush()
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


def refusal_advice(refused: str) -> str:
    """What the user can do about a command that was not run (`refused` is its reason)."""
    if NO_WAY_TO_ASK in refused:
        if "always needs confirmation" in refused or "runs a script" in refused:
            return (
                "This editor cannot answer planfirst's questions (window/showMessageRequest), and this "
                "command always needs an answer: revise the plan so the step validates with an allowed "
                "tool (e.g. `python -m pytest ...`), then retry the step."
            )
        return (
            "This editor cannot answer planfirst's questions (window/showMessageRequest): add the "
            "program to planfirst.validation.allow in your user or editor settings (workspace files "
            "cannot change it), or revise the plan to use an allowed tool, then retry the step."
        )
    return "Add its program to planfirst.validation.allow or confirm it, then retry the step."
