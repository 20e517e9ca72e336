"""Bounded retries with exponential backoff and jitter, shared by the payload sources' HTTP calls.

Retries 429, any 5xx, connection failures and timeouts; honours `Retry-After`. The final failure raises
`SourceError` whose message names the source and the operation, e.g.
"phantombuster/linkedin-search-export: GET /containers/fetch-all failed after 5 attempts: HTTP 503".
Messages pass through `redact` so an API key can never end up in a log line or an exception.
"""

from __future__ import annotations

import logging
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

default_sleep: Callable[[float], None] = time.sleep  # looked up per call, so tests can swap it


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry: `base_delay * 2**(n-1)` plus up to `jitter` of it, capped."""

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.jitter < 0:
            raise ValueError("delays and jitter must not be negative")

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


def is_retryable_status(status: int) -> bool:
    """429 and every 5xx are transient; other statuses are not worth repeating."""
    return status == 429 or 500 <= status <= 599


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


def describe_status(status: int, body: str = "") -> str:
    """'HTTP 503', plus a short server message for client errors (which are not retried)."""
    text = f"HTTP {status}"
    detail = " ".join(body.split())[:_MAX_DETAIL_CHARS]
    if detail and not is_retryable_status(status):
        text += f": {detail}"
    return text


def classify_httpx(exc: BaseException) -> Failure | None:
    """Describe an httpx failure; None for anything that is not an httpx transport/status error."""
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return Failure(
            describe_status(response.status_code, response.text),
            is_retryable_status(response.status_code),
            parse_retry_after(response.headers.get("Retry-After")),
        )
    if isinstance(exc, httpx.TimeoutException):
        return Failure(f"timeout ({type(exc).__name__})", True)
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
    secrets: Iterable[str] = (),
    logger: logging.Logger | None = None,
) -> T:
    """Call `fn` until it succeeds; raise `SourceError` on a permanent failure or when attempts run out.

    `source` is "system/stream", `operation` e.g. "GET /containers/fetch-all". Exceptions `classify` does not
    recognise are permanent. `sleep` defaults to `default_sleep`. The original exception is not chained
    (it may carry request headers).
    """
    policy = policy or RetryPolicy()
    sleep = sleep or default_sleep
    secrets = tuple(secrets)
    log = logger or _log
    attempt = 1
    while True:
        try:
            return fn()
        except SourceError:
            raise
        except Exception as exc:
            failure = classify(exc) or Failure(f"{type(exc).__name__}: {exc}", False)
            description = redact(failure.description, secrets)
            if not failure.retryable:
                raise SourceError(f"{source}: {operation} failed: {description}") from None
            if attempt >= policy.max_attempts:
                raise SourceError(f"{source}: {operation} failed after {attempt} attempts: {description}") from None
            wait = policy.delay(attempt, failure.retry_after)
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
