"""Phase timers for the per-step overhead bench, installed by wrapping planfirst's functions.

Nothing in the server is changed: `install()` wraps the functions a step calls with a timer
that charges *exclusive* wall time to a phase (a phase nested in another pauses its parent), so
the overlay's tool handling is not counted as model time, and so on. Used in-process by
bench_step_overhead.py and inside the language server by _timed_server.py.
"""

from __future__ import annotations

import functools
import json
import os
import stat
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

# phases charged to planfirst's overhead, in display order
OVERHEAD_PHASES = [
    "read files + staleness",
    "prompt build",
    "overlay tools",
    "minimal edits + diff",
    "applyEdit round trip",
    "disk sync + verify",
    "persistence",
    "plan load",
]
# not planfirst's time: the model, the validation commands, and the editor answering a request
# the server sent it (applying an edit, saving documents, creating a progress token; in a real
# editor that includes the user's review). Sending the request (building and serialising it)
# stays in the phase that sends it.
EXCLUDED_PHASES = ["model call", "validation", "editor answers"]


class PhaseTimer:
    """Exclusive wall time per phase, with a stack for nesting."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)  # fsync calls, durable writes
        self._stack: list[tuple[str, float]] = []

    def reset(self) -> None:
        """Forget everything (start of a step)."""
        self.totals = defaultdict(float)
        self.counts = defaultdict(int)
        self._stack = []

    def enter(self, phase: str) -> None:
        """Start a phase, pausing the one running."""
        now = time.perf_counter()
        if self._stack:
            top, since = self._stack[-1]
            self.totals[top] += now - since
        self._stack.append((phase, now))

    def leave(self) -> None:
        """End the innermost phase, resuming its parent."""
        now = time.perf_counter()
        phase, since = self._stack.pop()
        self.totals[phase] += now - since
        if self._stack:
            top, _ = self._stack[-1]
            self._stack[-1] = (top, now)

    def ms(self) -> dict[str, float]:
        """Totals in milliseconds, and the counts (under their own names)."""
        return {**{k: v * 1000 for k, v in self.totals.items()}, **self.counts}


# counted per step (not phases): every fsync, and the durable writes among them (an fsync of a
# regular file; each durable write also fsyncs its directory so the rename survives)
FSYNC_CALLS = "fsync calls"
DURABLE_WRITES = "durable writes"
FSYNC_MS = "fsync ms"  # time inside os.fsync during the step, on any thread
MESSAGES = "LSP messages sent"  # by the server during the step (each one write to stdout)
REQUESTS = "model requests"  # Messages API calls (each with its retries)


TIMER = PhaseTimer()
PROFILE_WARMUP = 2  # steps not profiled (imports, first requests)


def _profiler(out: str | None) -> Any:
    """A cProfile.Profile enabled during each executeNextStep after the warm-up (everything the
    server's thread runs meanwhile, other handlers included), written to `out` after each step
    (the server ends with os._exit); None without PLANFIRST_BENCH_PROFILE."""
    if not out:
        return None
    import cProfile

    prof = cProfile.Profile()
    prof.out = out  # type: ignore[attr-defined]
    return prof


def _wrap_sync(fn: Callable[..., Any], phase: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        TIMER.enter(phase)
        try:
            return fn(*args, **kwargs)
        finally:
            TIMER.leave()

    return wrapper


def _wrap_async(fn: Callable[..., Any], phase: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        TIMER.enter(phase)
        try:
            return await fn(*args, **kwargs)
        finally:
            TIMER.leave()

    return wrapper


def install(lsp: bool = False) -> None:
    """Wrap the functions a step calls (idempotent enough for one call per process)."""
    from planfirst.core.editing import edits, executor, overlay
    from planfirst.core.workflow import checks, fsio, session, staleness
    from planfirst.llm import anthropic
    from planfirst.plan import store

    S = session.Session
    S.read_current = _wrap_sync(S.read_current, "read files + staleness")  # type: ignore[method-assign]
    staleness.stale_files = _wrap_sync(staleness.stale_files, "read files + staleness")
    fsio.sync_disk = _wrap_async(fsio.sync_disk, "disk sync + verify")
    executor.build_request = _wrap_sync(executor.build_request, "prompt build")
    overlay.Overlay.handle = _wrap_async(overlay.Overlay.handle, "overlay tools")  # type: ignore[method-assign]
    anthropic.AnthropicModel.run = _wrap_async(anthropic.AnthropicModel.run, "model call")  # type: ignore[method-assign]
    real_call = anthropic.AnthropicModel.call

    @functools.wraps(real_call)
    async def counted_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        TIMER.counts[REQUESTS] += 1
        return await real_call(self, *args, **kwargs)

    anthropic.AnthropicModel.call = counted_call  # type: ignore[method-assign]
    checks.run_validation = _wrap_async(checks.run_validation, "validation")
    store.PlanStore.save = _wrap_sync(store.PlanStore.save, "persistence")  # type: ignore[method-assign]
    store.PlanStore.flush_md = _wrap_sync(store.PlanStore.flush_md, "persistence")  # type: ignore[method-assign]
    store.PlanStore.record_step = _wrap_sync(store.PlanStore.record_step, "persistence")  # type: ignore[method-assign]
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        TIMER.counts[FSYNC_CALLS] += 1
        if stat.S_ISREG(os.fstat(fd).st_mode):
            TIMER.counts[DURABLE_WRITES] += 1
        t0 = time.perf_counter()
        try:
            real_fsync(fd)
        finally:  # on whichever thread (the background writer's overlap other work)
            TIMER.counts[FSYNC_MS] += (time.perf_counter() - t0) * 1000

    os.fsync = fsync
    # waiting for the background writer (a step's last save waits for its record)
    store.PlanStore.settle = _wrap_sync(store.PlanStore.settle, "persistence")  # type: ignore[method-assign]
    store.PlanStore.settle_durable = _wrap_sync(store.PlanStore.settle_durable, "persistence")  # type: ignore[method-assign]
    store.PlanStore.set_active = _wrap_sync(store.PlanStore.set_active, "persistence")  # type: ignore[method-assign]
    store.PlanStore.load = _wrap_sync(store.PlanStore.load, "plan load")  # type: ignore[method-assign]
    # the unified diff recorded in the plan, and the minimal edits sent to the editor
    prop = executor.ProposedChange.diff
    executor.ProposedChange.diff = property(_wrap_sync(prop.fget, "minimal edits + diff"))  # type: ignore[arg-type, method-assign]
    edits_min = _wrap_sync(edits.minimal_edits, "minimal edits + diff")
    edits.minimal_edits = edits_min
    if lsp:
        from pygls.protocol.json_rpc import JsonRPCProtocol

        from planfirst.lsp import convert, host

        send_async = JsonRPCProtocol.send_request_async

        def send_request_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            fut = send_async(self, *args, **kwargs)  # serialised and written: the caller's phase

            async def answer() -> Any:
                TIMER.enter("editor answers")
                try:
                    return await fut
                finally:
                    TIMER.leave()

            return answer()

        JsonRPCProtocol.send_request_async = send_request_async  # type: ignore[method-assign]

        convert.minimal_edits = edits_min  # type: ignore[attr-defined]
        host.LspHost.apply_change = _wrap_async(host.LspHost.apply_change, "applyEdit round trip")  # type: ignore[method-assign]
        orig = session.Session.execute_next
        out_path = os.environ["PLANFIRST_BENCH_TIMINGS"]
        profiler = _profiler(os.environ.get("PLANFIRST_BENCH_PROFILE"))
        steps = [0]

        @functools.wraps(orig)
        async def execute_next(self: Any, *args: Any, **kwargs: Any) -> Any:
            TIMER.reset()
            steps[0] += 1
            if profiler is not None and steps[0] > PROFILE_WARMUP:
                profiler.enable()
            t0 = time.perf_counter()
            TIMER.enter("other")
            try:
                return await orig(self, *args, **kwargs)
            finally:
                TIMER.leave()
                if profiler is not None and steps[0] > PROFILE_WARMUP:
                    profiler.disable()
                    profiler.dump_stats(profiler.out)
                row = TIMER.ms()
                row["server total"] = (time.perf_counter() - t0) * 1000
                finished.append(row)

        session.Session.execute_next = execute_next  # type: ignore[method-assign]

        # The step as the server handles it: from reading the executeNextStep request off stdin
        # to writing its response (pygls dispatch and JSON included, and whatever else the
        # server's loop ran meanwhile). The client's wall time adds the pipe and the client
        # process (the bench's pytest-lsp client, scheduled on the same loaded cores).
        from planfirst.lsp.server import PlanfirstProtocol

        arrived: dict[Any, float] = {}
        finished: list[dict[str, float]] = []
        handle = JsonRPCProtocol.handle_message

        def handle_message(self: Any, message: Any) -> Any:
            params = getattr(message, "params", None)
            if getattr(params, "command", None) == "planfirst.executeNextStep":
                arrived[message.id] = time.perf_counter()
            return handle(self, message)

        JsonRPCProtocol.handle_message = handle_message  # type: ignore[method-assign]
        respond = PlanfirstProtocol._send_response

        def send_response(self: Any, msg_id: Any, *args: Any, **kwargs: Any) -> None:
            respond(self, msg_id, *args, **kwargs)
            t_in = arrived.pop(msg_id, None)
            if t_in is None or not finished:
                return
            row = finished.pop()
            row["server wall"] = (time.perf_counter() - t_in) * 1000
            with open(out_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")

        PlanfirstProtocol._send_response = send_response  # type: ignore[method-assign]
        send_data = PlanfirstProtocol._send_data

        def counted_send(self: Any, data: Any) -> None:
            TIMER.counts[MESSAGES] += 1
            if os.environ.get("PLANFIRST_BENCH_MESSAGES"):
                what = getattr(data, "method", None) or "response"
                TIMER.counts[f"sent {what}"] += 1
            send_data(self, data)

        PlanfirstProtocol._send_data = counted_send  # type: ignore[method-assign]
