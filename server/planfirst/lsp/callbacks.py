"""Callbacks that run from timers and notifications, where nobody else would see an exception.

Its own module so that server.py and preview.py both use it without importing each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("planfirst")


def logged(what: str, action: Callable[[], Any]) -> None:
    """Run one part of a refresh or notification; a failure is logged with its traceback and the
    caller goes on (these run from timers and callbacks: nobody else would see the exception)."""
    try:
        action()
    except Exception:
        log.exception("planfirst: %s failed", what)
