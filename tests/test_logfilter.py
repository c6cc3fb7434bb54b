"""An error answer to a request is one INFO line in the server log, not an ERROR traceback."""

from __future__ import annotations

import logging
import sys

import pytest
from pygls.exceptions import JsonRpcException

from planfirst.lsp import logfilter


def _record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    return logging.LogRecord(
        logfilter.PYGLS_RPC_LOGGER,
        logging.ERROR,
        "json_rpc.py",
        309,
        'Exception occurred for message "%s"',
        ("12",),
        info,
    )


def test_an_answered_error_becomes_one_info_line() -> None:
    rec = _record(JsonRpcException(message="planfirst: planfirst.executeNextStep was cancelled"))
    assert logfilter.AnsweredErrors().filter(rec)
    assert rec.levelno == logging.INFO and rec.exc_info is None
    text = logging.Formatter("%(levelname)s %(message)s").format(rec)
    assert (
        text
        == "INFO request 12 answered with an error: planfirst: planfirst.executeNextStep was cancelled"
    )
    assert "Traceback" not in text


def test_any_other_exception_keeps_its_error_and_traceback() -> None:
    rec = _record(RuntimeError("boom"))
    assert logfilter.AnsweredErrors().filter(rec)
    text = logging.Formatter("%(levelname)s %(message)s").format(rec)
    assert rec.levelno == logging.ERROR and "Traceback" in text and "RuntimeError: boom" in text


def test_install_adds_the_filter_once(caplog: pytest.LogCaptureFixture) -> None:
    logfilter.install()
    logfilter.install()
    logger = logging.getLogger(logfilter.PYGLS_RPC_LOGGER)
    assert sum(isinstance(f, logfilter.AnsweredErrors) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger=logfilter.PYGLS_RPC_LOGGER):
        try:
            raise JsonRpcException(message="planfirst: no plan")
        except JsonRpcException:
            logger.exception('Exception occurred for message "%s"', 7)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "request 7 answered with an error: planfirst: no plan")
    ]
