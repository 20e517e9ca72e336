"""Tavily search as a payload source: one batch per configured query, items = [the full response].

Uses tavily-python's `TavilyClient(api_key, api_base_url=...).search(...)` (`POST /search`, Bearer auth).
The client does not retry, so every search goes through `resources.http_retry` (transient: 408/425/429/5xx,
timeouts, connection errors; anything else fails at once); the `Retry-After` of the last response is read through
a requests response hook. Volatile response fields (request_id, response_time, usage) are not part of the
payload fingerprint: see sophia_pipelines/domain/volatile.py.

One source run is a day's searches of the configured query set: partition key `<query-set>-<YYYY-MM-DD>`
(`query_set`: the stream plus a hash of its queries), due each day at `daily_at_utc`. Landing it searches every
query once (batch id = the query's slug, fingerprint = the key), so a day that already landed is not searched again.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta

import dagster as dg
import requests
from pydantic import Field
from tavily import TavilyClient
from tavily import errors as tavily_errors

from resources.http_retry import (
    Failure,
    PermanentSourceError,
    RetryPolicy,
    call_with_retry,
    classify_status,
    parse_retry_after,
)
from resources.payloads import BatchPage, BatchRef, PayloadBatch, PayloadSource, SourceError

SYSTEM = "tavily"
STREAM = "search"
MAX_QUERY_CHARS = 400
MAX_SLUG_CHARS = 80

_log = dg.get_dagster_logger("resources.tavily")


def utc_now() -> datetime:
    """The clock the daily listing reads (tests replace it)."""
    return datetime.now(UTC)


def query_set(stream: str, queries: list[str]) -> str:
    """The name of a query set in partition keys: the stream and 8 hex chars of its queries (in order)."""
    return f"{stream}-{hashlib.sha256(chr(10).join(queries).encode('utf-8')).hexdigest()[:8]}"


def day_key(query_set_name: str, day: date) -> str:
    return f"{query_set_name}-{day.isoformat()}"


def split_day_key(key: str) -> tuple[str, date] | None:
    """(query set, day) of a partition key, None when `key` does not end in `-YYYY-MM-DD`."""
    name, sep, day = key[:-11], key[-11:-10], key[-10:]
    if not name or sep != "-":
        return None
    try:
        return name, date.fromisoformat(day)
    except ValueError:
        return None


def slugify(text: str, max_length: int = MAX_SLUG_CHARS) -> str:
    """Lowercase ASCII words joined by hyphens, at most `max_length` chars.

    A slug that had to be cut ends in 8 hex chars of the text's hash, so long queries sharing a prefix stay
    distinct; text without any letter or digit becomes "query-<hash>".
    """
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if not slug:
        return f"query-{digest}"
    if len(slug) > max_length:
        slug = f"{slug[: max_length - len(digest) - 1].rstrip('-')}-{digest}"
    return slug


class _LastResponse:
    """A requests response hook remembering the last response's status and `Retry-After` (the client drops them)."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.retry_after: float | None = None

    def __call__(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self.status = response.status_code
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))


def _classifier(tracker: _LastResponse) -> Callable[[BaseException], Failure | None]:
    """Map tavily-python / requests exceptions onto the shared classification (resources/http_retry.py).

    tavily-python raises its own errors for 400/401/403/429/432/433 and `requests.HTTPError` for every other
    status, so 408/425/5xx are judged by `is_retryable_status` like every other client's.
    """

    def classify(exc: BaseException) -> Failure | None:
        if isinstance(exc, tavily_errors.UsageLimitExceededError):
            return Failure(f"HTTP 429: {exc}".rstrip(": "), True, tracker.retry_after)
        if isinstance(exc, tavily_errors.InvalidAPIKeyError):
            return Failure("HTTP 401: invalid API key", False)
        if isinstance(exc, tavily_errors.ForbiddenError):
            return Failure(f"HTTP {tracker.status or '403/432/433'} (forbidden or plan limit): {exc}", False)
        if isinstance(exc, tavily_errors.BadRequestError):
            return Failure(f"HTTP 400: {exc}", False)
        if isinstance(exc, tavily_errors.TimeoutError | requests.Timeout):
            return Failure("timeout", True)
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            return classify_status(exc.response.status_code, exc.response.text, tracker.retry_after)
        if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return Failure(f"connection error ({type(exc).__name__})", True)
        return None  # e.g. a reply that is not JSON: permanent

    return classify


class TavilyPayloadSource(PayloadSource):
    """Runs each configured query through Tavily search."""

    api_key: str = Field(repr=False, description="Tavily API key (TAVILY_API_KEY).")
    api_base_url: str = "https://api.tavily.com"
    queries: list[str]
    search_depth: str = "advanced"
    max_results: int = 10
    include_raw_content: bool = True
    topic: str = "general"
    daily_at_utc: str = "06:00"  # when each day's searches are due (HH:MM, UTC)
    timeout_seconds: float = 60.0
    max_attempts: int = 5
    retry_base_delay_seconds: float = 1.0
    retry_max_delay_seconds: float = 60.0
    max_retry_seconds: float = 300.0

    def _slugs(self, source: str) -> list[str]:
        """Check every query before any request is sent; one unique slug per query."""
        slugs: dict[str, str] = {}
        for query in self.queries:
            shown = query if len(query) <= 60 else f"{query[:60]}…"
            if not query.strip():
                raise SourceError(f"{source}: empty query in the configured queries")
            if len(query) > MAX_QUERY_CHARS:
                raise SourceError(
                    f"{source}: query {shown!r} has {len(query)} characters; Tavily accepts at most {MAX_QUERY_CHARS}"
                )
            slug = slugify(query)
            if slug in slugs:
                raise SourceError(f"{source}: queries {slugs[slug]!r} and {shown!r} share the batch id {slug!r}")
            slugs[slug] = shown
        return list(slugs)

    def _check_stream(self, stream: str) -> str:
        source = f"{SYSTEM}/{stream}"
        if stream != STREAM:
            raise SourceError(f"{source}: unknown stream; Tavily only has {STREAM!r}")
        return source

    def due_day(self, now: datetime) -> date:
        """The latest day whose searches are due at `now`: today from `daily_at_utc` on, else yesterday."""
        at = time.fromisoformat(self.daily_at_utc)
        now = now.astimezone(UTC)
        return now.date() if now.time() >= at else now.date() - timedelta(days=1)

    def list_batches(self, stream: str, after: str | None = None, limit: int = 1) -> BatchPage:
        """The day that is due now, unless the cursor (the last key listed) already is that day's key."""
        self._check_stream(stream)
        if not self.queries:
            return BatchPage((), after, True)
        day = self.due_day(utc_now())
        key = day_key(query_set(stream, self.queries), day)
        if key == after:
            return BatchPage((), after, True)
        due = datetime.combine(day, time.fromisoformat(self.daily_at_utc), tzinfo=UTC)
        return BatchPage((BatchRef(key, due.timestamp()),), key, True)

    def fetch_batch(self, stream: str, key: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch]:
        """The searches of the day `key` (one batch per query, fingerprint = `key`); queries whose batch already
        holds this day are not searched again. A key of another query set fails at once: its queries are gone."""
        source = self._check_stream(stream)
        current = query_set(stream, self.queries)
        parsed = split_day_key(key)
        if parsed is None or parsed[0] != current:
            raise PermanentSourceError(
                f"{source}: {key!r} is not a day of the configured query set {current!r}; "
                "its searches cannot be run again"
            )
        known = known or {}
        fingerprint = f"tavily-day:{key}"
        todo = [query for query in self.queries if known.get(slugify(query)) != fingerprint]
        if len(todo) < len(self.queries):
            _log.info("%s: %d of the day's searches already landed", source, len(self.queries) - len(todo))
        yield from self._search(source, stream, todo, fingerprint)

    def fetch_batches(self, stream: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch]:
        """Yield one batch per query (in order): batch_id = slugify(query), items = [response].

        Every search is fresh, so batches carry no fingerprint and `known` is ignored.
        """
        source = self._check_stream(stream)
        if not self.queries:
            _log.warning("%s: no queries configured", source)
        yield from self._search(source, stream, self.queries, None)

    def _search(self, source: str, stream: str, queries: list[str], fingerprint: str | None) -> Iterator[PayloadBatch]:
        """One batch per query of `queries` (all of the configured ones are checked first)."""
        slugs = dict(zip(self.queries, self._slugs(source), strict=True))
        policy = RetryPolicy(
            max_attempts=self.max_attempts,
            base_delay=self.retry_base_delay_seconds,
            max_delay=self.retry_max_delay_seconds,
            max_elapsed=self.max_retry_seconds,
        )
        tracker = _LastResponse()
        with TavilyClient(api_key=self.api_key, api_base_url=self.api_base_url) as client:
            client.session.hooks["response"].append(tracker)
            for query in queries:
                slug = slugs[query]

                def search(query: str = query) -> dict:
                    return client.search(
                        query,
                        search_depth=self.search_depth,
                        topic=self.topic,
                        max_results=self.max_results,
                        include_raw_content=self.include_raw_content,
                        timeout=self.timeout_seconds,
                    )

                response = call_with_retry(
                    search,
                    source=source,
                    operation=f"POST /search (query {slug!r})",
                    policy=policy,
                    classify=_classifier(tracker),
                    secrets=[self.api_key],
                    logger=_log,
                )
                yield PayloadBatch(SYSTEM, stream, slug, [response], datetime.now(UTC), fingerprint)
