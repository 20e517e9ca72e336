"""Tavily search as a payload source: one batch per configured query, items = [the full response].

Uses tavily-python's `TavilyClient(api_key, api_base_url=...).search(...)` (`POST /search`, Bearer auth).
The client does not retry, so every search goes through `resources.http_retry` (transient: 408/425/429/5xx,
timeouts, connection errors; anything else fails at once); the `Retry-After` of the last response is read through
a requests response hook. Volatile response fields (request_id, response_time, usage) are not part of the
payload fingerprint: see sophia_pipelines/domain/volatile.py.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

import dagster as dg
import requests
from pydantic import Field
from tavily import TavilyClient
from tavily import errors as tavily_errors

from resources.http_retry import Failure, RetryPolicy, call_with_retry, classify_status, parse_retry_after
from resources.payloads import PayloadBatch, PayloadSource, SourceError

SYSTEM = "tavily"
STREAM = "search"
MAX_QUERY_CHARS = 400
MAX_SLUG_CHARS = 80

_log = dg.get_dagster_logger("resources.tavily")


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

    def fetch_batches(self, stream: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch]:
        """Yield one batch per query (in order): batch_id = slugify(query), items = [response].

        Every search is fresh, so batches carry no fingerprint and `known` is ignored.
        """
        source = f"{SYSTEM}/{stream}"
        if stream != STREAM:
            raise SourceError(f"{source}: unknown stream; Tavily only has {STREAM!r}")
        slugs = self._slugs(source)
        if not slugs:
            _log.warning("%s: no queries configured", source)
        policy = RetryPolicy(
            max_attempts=self.max_attempts,
            base_delay=self.retry_base_delay_seconds,
            max_delay=self.retry_max_delay_seconds,
            max_elapsed=self.max_retry_seconds,
        )
        tracker = _LastResponse()
        with TavilyClient(api_key=self.api_key, api_base_url=self.api_base_url) as client:
            client.session.hooks["response"].append(tracker)
            for query, slug in zip(self.queries, slugs, strict=True):

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
                yield PayloadBatch(SYSTEM, stream, slug, [response], datetime.now(UTC))
