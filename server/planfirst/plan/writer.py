"""Writes that need not hold up the step: done on one background thread, in order (#32).

The store hands over a write whose result nobody waits for — a step's "running" record while
the model is asked, the step history after a step — and the thread does the file work (seal,
temp file, rename) while the event loop waits on the network. Every later access to the same
file waits for it first (`settle`), so readers and the next write see the files in the order
they were written, and a failed write raises there, in the operation that comes next. A killed
process loses at most the writes still queued: the same as being killed just before them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:  # one thread for every store: writes stay in the order given
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="planfirst-write")
        return _pool


class Writer:
    """Queued writes by key (a plan id, or a file name); `settle(key)` waits for them."""

    def __init__(self) -> None:
        self._pending: dict[str, Future[object]] = {}

    def later(self, key: str, job: Callable[[], object]) -> None:
        """Run `job` after every write queued before it (on the background thread)."""
        self.settle(key)  # its previous write's error belongs to the caller, now
        self._pending[key] = _executor().submit(job)

    def then(self, key: str, job: Callable[[], object], *, as_key: str | None = None) -> None:
        """Run `job` after the writes queued for `key`, without waiting for them here; when
        one of them fails, `job` does not run and `settle(key)` raises that failure. `as_key`:
        queue it under that key instead (its own settle), leaving `key`'s to settle alone; a
        failure of `key`'s writes is then raised by `settle(key)` only."""
        prev = self._pending.get(key)
        if as_key is not None:
            self.settle(as_key)  # its previous job's error belongs to the caller, now

        def run() -> object:
            if prev is not None:
                if as_key is not None and prev.exception() is not None:
                    # done already (one thread, in order): its failure is settle(key)'s to
                    # raise, once; raised here too it came back as a second error (a save
                    # that failed said again as "cannot write plan.md")
                    return None
                prev.result()  # done already (one thread, in order); re-raises its failure
            return job()

        self._pending[as_key or key] = _executor().submit(run)

    def pending(self, key: str) -> bool:
        """Whether a write queued under `key` was not settled yet (it may have run)."""
        return key in self._pending

    def settle(self, key: str | None = None) -> None:
        """Wait for the queued writes of `key` (None: all); re-raise the first that failed."""
        keys = [key] if key is not None else list(self._pending)
        for k in keys:
            fut = self._pending.pop(k, None)
            if fut is not None:
                fut.result()


def drain() -> None:
    """Finish every queued write (the process is about to end without its interpreter's
    teardown, cli._end_process)."""
    with _pool_lock:
        pool = _pool
    if pool is not None:
        pool.shutdown(wait=True)
