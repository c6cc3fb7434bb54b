"""The one way tests wait for something to happen: poll a predicate until it holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:  # noqa: ASYNC109 (polls a predicate; nothing to wrap in asyncio.timeout)
    """Return as soon as `predicate()` is true; fail naming `what` after `timeout` seconds.

    The timeout only bounds a hang (generous: the suite runs on loaded machines); a test never
    depends on how long something takes, only on the order in which things happen.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)
