"""The server log at its real level: a request answered with an error is not a server error.

pygls logs every exception a request handler raises with its traceback at ERROR, including the
JSON-RPC errors planfirst raises on purpose to answer a request ("no API key", "cancelled", "plan is
not approved"): the editor's log showed a traceback for each Cancel. Those become one INFO line;
any other exception keeps its ERROR and traceback.
"""

from __future__ import annotations

import logging

from pygls.exceptions import JsonRpcException

PYGLS_RPC_LOGGER = "pygls.protocol.json_rpc"


class AnsweredErrors(logging.Filter):
    """Rewrite "Exception occurred for message" records of JsonRpcExceptions to one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, JsonRpcException):
            record.msg = "request %s answered with an error: %s"
            record.args = (
                record.args[0] if isinstance(record.args, tuple) and record.args else "?",
                exc.message,
            )
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
        return True


def install() -> None:
    """Add the filter to pygls's JSON-RPC logger (once)."""
    logger = logging.getLogger(PYGLS_RPC_LOGGER)
    if not any(isinstance(f, AnsweredErrors) for f in logger.filters):
        logger.addFilter(AnsweredErrors())
