"""Failed Messages calls, classified: what went wrong, whether to retry, what the user can do.

The SDK's own retry rules (`x-should-retry` first; then 408, 409, 429, 5xx/529, timeouts,
connection errors, error events inside a stream and streams cut midway); spend limits by the
SDK's stable `error_code`, never retried. Used by the one retry layer in llm/anthropic.py.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import anthropic
import httpx2

KEY_HELP = (
    "set the ANTHROPIC_API_KEY environment variable for the editor (or the shell running "
    "planfirst), or the planfirst.anthropic.apiKey setting in your editor's user settings"
)


class StreamCut(Exception):
    """The SSE stream ended before `message_stop`."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class Failure:
    """One failed attempt, classified."""

    def __init__(
        self,
        kind: str,
        summary: str,
        retryable: bool,
        detail: str = "",
        retry_after: float | None = None,
        hint: str = "",
        request_id: str | None = None,
    ) -> None:
        self.kind = kind
        self.summary = summary  # e.g. "overloaded (529)"
        self.retryable = retryable
        self.detail = detail  # the API's own message, if any
        self.retry_after = retry_after
        self.hint = hint  # what the user can do
        self.request_id = request_id  # the API's request-id, for support


# Spend limits, by the stable `error.details.error_code` the SDK exposes as `error_code` (the
# message wording changes; never match on it). Waiting does not lift them: never retried.
SPEND_LIMIT_CODES = {
    "enforced_spend_limit_reached": "the organization reached the monthly usage limit of its API tier",
    "contract_spend_limit_reached": "the organization reached its contract spend limit",
    "linked_organization_spend_limit_reached": (
        "the linked organization reached a spend limit it set, or lacks credit"
    ),
}


def retry_after_s(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify(exc: BaseException) -> Failure:
    """Turn an SDK or transport exception into a classified failure (the SDK's retry rules:
    `x-should-retry` first, then 408, 409, 429 and 5xx; spend limits by error code, never)."""
    if isinstance(exc, StreamCut):
        return Failure(
            "connection", "response stream cut midway", True, str(exc), request_id=exc.request_id
        )
    if isinstance(exc, anthropic.APIStatusError):
        failure = status_failure(exc)
        failure.request_id = exc.request_id
        headers = getattr(exc.response, "headers", None)
        should = (headers.get("x-should-retry") if headers is not None else None) or ""
        if failure.kind != "spend_limit" and should.lower() in ("true", "false"):
            # The API's own verdict overrides the status code (the SDK obeys it first).
            wanted = should.lower() == "true"
            if wanted != failure.retryable:
                failure.retryable = wanted
                failure.summary += (
                    "; the API asked to retry" if wanted else "; the API said not to retry"
                )
        return failure
    if isinstance(exc, anthropic.APITimeoutError):
        return Failure(
            "timeout", "timed out", True, "no answer within planfirst.anthropic.requestTimeout"
        )
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, httpx2.RemoteProtocolError | httpx2.ReadError):
            return Failure("connection", "response stream cut midway", True, str(cause))
        return Failure(
            "connection", "could not be reached (connection error)", True, str(cause or exc)
        )
    if isinstance(exc, httpx2.TransportError):
        return Failure(
            "connection", "response stream cut midway", True, f"{type(exc).__name__}: {exc}"
        )
    return Failure("error", f"call failed unexpectedly ({type(exc).__name__})", False, str(exc))


def status_failure(exc: Any) -> Failure:
    """A status error by code and status, before `x-should-retry` is applied."""
    status = exc.status_code
    etype = exc.type or ""
    detail = exc.api_message or ""
    code = exc.error_code or ""
    ra = retry_after_s(getattr(exc.response, "headers", None))
    if code in SPEND_LIMIT_CODES:
        return Failure(
            "spend_limit",
            f"spend limit reached ({status} {code}): {SPEND_LIMIT_CODES[code]}",
            False,
            detail,
            hint="raise the limit or add credit in the Anthropic console; waiting does not help",
        )
    if status < 400:
        # An `event: error` inside a stream that began with HTTP 200.
        if etype == "overloaded_error":
            return Failure("overloaded", "overloaded (error event in the stream)", True, detail)
        if etype in ("api_error", "rate_limit_error", "timeout_error"):
            return Failure("server", f"{etype} (error event in the stream)", True, detail)
        return Failure("server", f"{etype or 'error'} (error event in the stream)", False, detail)
    if status == 429:
        return Failure("rate_limit", "rate limited (429)", True, detail, ra)
    if status == 529 or etype == "overloaded_error":
        return Failure("overloaded", f"overloaded ({status})", True, detail, ra)
    if status == 408:
        return Failure("timeout", "request timeout (408)", True, detail, ra)
    if status == 409:
        return Failure("conflict", "conflict (409)", True, detail, ra)
    if status >= 500:
        return Failure("server", f"server error ({status})", True, detail, ra)
    if status == 401:
        return Failure(
            "auth", "rejected the API key (401)", False, detail, hint=f"check the key: {KEY_HELP}"
        )
    if status == 403:
        return Failure(
            "auth",
            "refused permission (403)",
            False,
            detail,
            hint="check the key's workspace and permissions",
        )
    if status == 402:
        # a billing problem (no credit, a payment method refused), not a rate limit: waiting
        # does not help
        return Failure(
            "billing",
            "refused the request: a billing problem (402 payment required)",
            False,
            detail,
            hint="add credit or fix the payment method in the Anthropic console (Billing)",
        )
    if status == 404:
        return Failure(
            "bad_request",
            "does not know this model or endpoint (404)",
            False,
            detail,
            hint="check planfirst.planningModel / planfirst.executionModel and planfirst.anthropic.baseUrl",
        )
    if status == 413:
        return Failure(
            "bad_request",
            "refused a request that is too large (413)",
            False,
            detail,
            hint="reduce planfirst.context.tokenBudget",
        )
    if status == 400 and "prompt is too long" in detail:
        return Failure(
            "too_big",
            "refused a prompt longer than the model's context window (400)",
            False,
            detail,
            hint="lower planfirst.context.tokenBudget or narrow the step's files",
        )
    return Failure("bad_request", f"rejected the request ({status})", False, detail)


def rid(request_id: str | None) -> str:
    """` [request-id req_...]` for a user-facing error, or nothing."""
    return f" [request-id {request_id}]" if request_id else ""
