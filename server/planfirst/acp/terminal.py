"""A step's validation commands in the client's terminal (ACP `terminal/*`, #30 item 7).

When the client offers `terminal`, each command planfirst allowed runs through
`terminal/create`, and the terminal is embedded in the step's validation tool call, so the
editor (Zed) shows its live output. planfirst still decides what runs (the same policy and
confirmation) and how: the client starts `python -I -m planfirst.core.commands.exec_child SPEC`, which
execs the argv (no shell) with planfirst's scrubbed environment read from a private file — the
client's environment and shell never shape the command. Whatever goes wrong with the client's
terminal (no such method, an error), planfirst runs the command itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from acp import Client

from planfirst.core.commands.process import (
    CommandResult,
    OutputSink,
    call_sink,
    run_command,
    scrubbed_env,
)

log = logging.getLogger("planfirst.acp")

SAFE = re.compile(r"[A-Za-z0-9_./:=@%+,-]+")  # means the same to any shell, quoted or not


class ClientTerminal:
    """Runs commands in one ACP session's client terminal (a core validate.Runner)."""

    def __init__(self, conn: Client, session_id: str, attach: Callable[[str], None]) -> None:
        self.conn = conn
        self.session_id = session_id
        self.attach = attach  # shows a started terminal in the step's validation tool call
        self.broken = False  # the client failed terminal/create once: run commands ourselves

    async def run(
        self,
        argv: list[str],
        cwd: Path,
        *,
        timeout_s: float,
        output_cap: int,
        on_output: OutputSink | None = None,
        env: Mapping[str, str] | None = None,
        cancel_event: asyncio.Event | None = None,
    ) -> CommandResult:
        """Run argv in the client's terminal; planfirst's own runner when that cannot be."""
        launcher = [sys.executable, "-I", "-m", "planfirst.core.commands.exec_child"]
        own = dict(
            timeout_s=timeout_s,
            output_cap=output_cap,
            on_output=on_output,
            env=env,
            cancel_event=cancel_event,
        )
        if self.broken or not all(SAFE.fullmatch(a) for a in launcher):
            return await run_command(argv, cwd, **own)  # type: ignore[arg-type]
        fd, spec = tempfile.mkstemp(prefix="planfirst-run-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp: 0600, ours alone
            json.dump({"argv": argv, "cwd": str(cwd), "env": scrubbed_env(env)}, f)
        if not SAFE.fullmatch(spec):
            os.unlink(spec)
            return await run_command(argv, cwd, **own)  # type: ignore[arg-type]
        conn, sid = self.conn, self.session_id
        started = time.monotonic()
        try:
            created = await conn.create_terminal(
                sid,
                launcher[0],
                args=[*launcher[1:], spec],
                cwd=str(cwd),
                output_byte_limit=output_cap,
            )
        except asyncio.CancelledError:
            os.unlink(spec)
            raise
        except Exception as e:
            log.warning("terminal/create failed (%s); validation runs in planfirst", e)
            self.broken = True
            with contextlib.suppress(OSError):
                os.unlink(spec)
            return await run_command(argv, cwd, **own)  # type: ignore[arg-type]
        tid = created.terminal_id
        self.attach(tid)
        timed_out = cancelled = False
        try:
            waiting = asyncio.ensure_future(conn.wait_for_terminal_exit(sid, tid))
            stop = asyncio.ensure_future(cancel_event.wait()) if cancel_event else None
            done, _ = await asyncio.wait(
                [waiting, *([stop] if stop else [])],
                timeout=timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if waiting not in done:
                timed_out = stop is None or stop not in done
                cancelled = not timed_out
                with contextlib.suppress(Exception):
                    await conn.kill_terminal(sid, tid)
                waiting.cancel()
            if stop is not None:
                stop.cancel()
            out = await conn.terminal_output(sid, tid)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(conn.kill_terminal(sid, tid))
            raise
        except Exception as e:  # the client failed mid-run: what ran is unknown
            return CommandResult(argv, None, f"the editor's terminal failed: {e}", 0.0)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(conn.release_terminal(sid, tid))
            with contextlib.suppress(OSError):
                os.unlink(spec)  # the child deletes it; not when it never started
        text = _without_banner(out.output)
        if on_output is not None and text:
            call_sink(on_output, text)
        status = out.exit_status
        code = status.exit_code if status is not None else None
        if status is not None and code is None and status.signal:
            code = -1
        return CommandResult(
            argv,
            None if (timed_out or cancelled) else code,
            text[-output_cap:],
            time.monotonic() - started,
            timed_out=timed_out,
            cancelled=cancelled,
            truncated=bool(out.truncated),
        )


def _without_banner(output: str) -> str:
    """The output without exec_child's `$ command` line (planfirst prints its own)."""
    first, nl, rest = output.partition("\n")
    return rest if first.startswith("$ ") and nl else output
