"""Transient vs permanent faults, and bounded retries of the transient ones, for every client of an HTTP service.

One classification for all clients (payload sources, TEI, Pinecone; see `is_retryable_status`):
- transient: HTTP 408, 425, 429 and every 5xx, timeouts, dropped or refused connections. Retried with exponential
  backoff and jitter, honouring `Retry-After`, bounded in attempts AND in total time (`RetryPolicy`).
- permanent: every other 4xx, replies that cannot be parsed, requests that cannot be sent (bad URL, bad header).
  Never retried: the call fails at once with a `PermanentError` (a `dg.Failure(allow_retries=False)`, so Dagster
  skips the step's RetryPolicy too), while a transient fault that outlived its retries raises the plain error
  type and the step may be retried later.

Messages name the source and the call, e.g.
"phantombuster/linkedin-search-export: GET /containers/fetch-all failed after 5 attempts: HTTP 503", and pass
through `redact`, so an API key never ends up in a log line or an exception. `SOPHIA_RETRY_DELAY_SCALE`
(default 1) multiplies every wait, client-side and step-level; local runs against stand-ins and tests set it small.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import dagster as dg
import httpx

from resources.payloads import SourceError

T = TypeVar("T")

_log = dg.get_dagster_logger("resources.http_retry")

_MAX_DETAIL_CHARS = 300
DELAY_SCALE_ENV = "SOPHIA_RETRY_DELAY_SCALE"
TRANSIENT_STATUSES = frozenset({408, 425, 429})  # plus every 5xx

# Looked up per call, so tests can swap them.
default_sleep: Callable[[float], None] = time.sleep
default_clock: Callable[[], float] = time.monotonic


class PermanentError(dg.Failure):
    """Mixin for errors that retrying cannot fix; Dagster fails the step without applying its RetryPolicy.

    Put it first among the bases (`class PermanentX(PermanentError, XError)`) so its `__init__` runs.
    """

    def __init__(self, message: str) -> None:
        super().__init__(description=message, allow_retries=False)


class PermanentSourceError(PermanentError, SourceError):
    """A payload source failed in a way a retry cannot fix (bad credentials, bad request, unparsable reply)."""


def delay_scale() -> float:
    """`SOPHIA_RETRY_DELAY_SCALE` (default 1; 0 disables waiting): the factor applied to every retry wait."""
    raw = os.environ.get(DELAY_SCALE_ENV, "").strip()
    try:
        scale = float(raw) if raw else 1.0
    except ValueError:
        raise ValueError(f"{DELAY_SCALE_ENV} must be a number, got {raw!r}") from None
    if scale < 0:
        raise ValueError(f"{DELAY_SCALE_ENV} must not be negative, got {raw!r}")
    return scale


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry: `base_delay * 2**(n-1)` plus up to `jitter` of it, capped at `max_delay`.

    `max_attempts` counts the first call. `max_elapsed` bounds the whole call: no retry is started whose wait
    would end more than `max_elapsed` seconds after the first attempt began (None: attempts alone bound it).
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.5
    max_elapsed: float | None = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.jitter < 0:
            raise ValueError("delays and jitter must not be negative")
        if self.max_elapsed is not None and self.max_elapsed < 0:
            raise ValueError("max_elapsed must not be negative")

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        delay = self.base_delay * (2 ** (retry - 1)) * (1 + self.jitter * rand())
        return min(delay, self.max_delay)

    def delay(self, retry: int, retry_after: float | None, rand: Callable[[], float] = random.random) -> float:
        """The backoff, raised to the server's `Retry-After` when it asks for longer; never above `max_delay`."""
        wait = self.backoff(retry, rand)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.max_delay)


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt: what happened (no secrets), whether a retry may help, and the server's wish."""

    description: str
    retryable: bool
    retry_after: float | None = None


def is_retryable_status(status: int, also: Iterable[int] = ()) -> bool:
    """408, 425, 429 and every 5xx are transient (plus a service's documented extras in `also`)."""
    return status in TRANSIENT_STATUSES or 500 <= status <= 599 or status in also


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date); None when absent or unparsable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def describe_status(status: int, body: str = "", also: Iterable[int] = ()) -> str:
    """'HTTP 503', plus a short server message for permanent errors (which are not retried)."""
    text = f"HTTP {status}"
    detail = " ".join(body.split())[:_MAX_DETAIL_CHARS]
    if detail and not is_retryable_status(status, also):
        text += f": {detail}"
    return text


def classify_status(
    status: int, detail: str = "", retry_after: float | None = None, also: Iterable[int] = ()
) -> Failure:
    """An HTTP error status, classified (for clients whose SDK turns responses into its own exceptions)."""
    also = tuple(also)
    return Failure(describe_status(status, detail, also), is_retryable_status(status, also), retry_after)


# httpx errors raised before anything reached the server and that a retry cannot fix.
_PERMANENT_TRANSPORT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError)


def classify_httpx(exc: BaseException, also: Iterable[int] = ()) -> Failure | None:
    """Describe an httpx failure; None for anything that is not an httpx transport/status error (permanent)."""
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return classify_status(
            response.status_code, response.text, parse_retry_after(response.headers.get("Retry-After")), also
        )
    if isinstance(exc, httpx.TimeoutException):
        return Failure(f"timeout ({type(exc).__name__})", True)
    if isinstance(exc, _PERMANENT_TRANSPORT):
        return Failure(f"request not sent ({type(exc).__name__})", False)
    if isinstance(exc, httpx.TransportError):
        return Failure(f"connection error ({type(exc).__name__})", True)
    return None


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret with `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def call_with_retry(
    fn: Callable[[], T],
    *,
    source: str,
    operation: str,
    policy: RetryPolicy | None = None,
    classify: Callable[[BaseException], Failure | None] = classify_httpx,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    secrets: Iterable[str] = (),
    logger: logging.Logger | None = None,
    error: type[Exception] = SourceError,
    permanent_error: type[Exception] = PermanentSourceError,
) -> T:
    """Call `fn` until it succeeds; on a permanent fault raise `permanent_error`, when retries run out `error`.

    `source` names the system ("system/stream", "tei", "pinecone"), `operation` the call ("GET /containers/fetch-all").
    Exceptions `classify` does not recognise are permanent; an `error` raised by `fn` itself passes through
    untouched. `sleep` and `clock` default to `default_sleep` / `default_clock`. The original exception is not
    chained (it may carry request headers).
    """
    policy = policy or RetryPolicy()
    sleep = sleep or default_sleep
    clock = clock or default_clock
    secrets = tuple(secrets)
    log = logger or _log
    started = clock()
    attempt = 1
    while True:
        try:
            return fn()
        except error:
            raise
        except Exception as exc:
            failure = classify(exc) or Failure(f"{type(exc).__name__}: {exc}", False)
            description = redact(failure.description, secrets)
            if not failure.retryable:
                raise permanent_error(f"{source}: {operation} failed: {description}") from None
            if attempt >= policy.max_attempts:
                raise error(f"{source}: {operation} failed after {attempt} attempts: {description}") from None
            wait = policy.delay(attempt, failure.retry_after) * delay_scale()
            elapsed = clock() - started
            if policy.max_elapsed is not None and elapsed + wait > policy.max_elapsed:
                raise error(
                    f"{source}: {operation} failed after {attempt} attempts in {elapsed:.1f}s "
                    f"(retry time limit {policy.max_elapsed:g}s): {description}"
                ) from None
            log.warning(
                "%s: %s attempt %d/%d failed (%s); retrying in %.1fs",
                source,
                operation,
                attempt,
                policy.max_attempts,
                description,
                wait,
            )
            sleep(wait)
            attempt += 1
