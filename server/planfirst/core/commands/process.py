"""Run one command: argv without a shell, its own process group, time-boxed, output capped, env scrubbed.

docs/reliability.md cases 5 and 17 live here.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
log = logging.getLogger("planfirst")


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
            # A broken sink (e.g. a closed output channel) must not kill the command or leak it:
            # logged once, then the output is only recorded
            if not call_sink(self.sink, text):
                self.sink = None

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


def call_sink(sink: OutputSink, text: str) -> bool:
    """Hand `text` to an output sink (the editor's output channel); a failing sink is logged with
    its traceback and reported as False, never raised into the command that produced the text."""
    try:
        sink(text)
    except Exception:
        log.warning(
            "planfirst: the validation output sink failed; output is still recorded", exc_info=True
        )
        return False
    return True
