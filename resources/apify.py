"""Apify as a payload source: one batch per SUCCEEDED actor run, items = the run's default dataset.

Uses apify-client 3.4: `actor(id).runs().list(status="SUCCEEDED", desc=True, limit=, started_after=)`
(`GET /v2/actors/{id}/runs`) and `dataset(id).list_items(offset=, limit=)` (`GET /v2/datasets/{id}/items`), paged
like the client's `iterate_items` (step the offset by the rows each page scanned until one scans none).
The client's own retries (429 and 5xx only, no Retry-After, no time bound) are switched off: every request, each
dataset page on its own, goes through the shared transient/permanent handling of `resources.http_retry`
(408/425/429/5xx and transport errors retried `max_retries` times; anything else fails at once).

Sensors page through SUCCEEDED runs newest first (`list_batches`: one `GET /v2/acts/{id}/runs?status=SUCCEEDED&desc=1
&offset&limit` per call; the cursor holds the newest `finishedAt` landed plus the ids seen just before it); a
partition run lands one run by id (`fetch_batch`: `GET /v2/actor-runs/{id}`, then its dataset).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import dagster as dg
from apify_client import ApifyClient
from apify_client.errors import ApifyApiError
from pydantic import Field

from resources.http_retry import Failure, PermanentSourceError, RetryPolicy, call_with_retry, is_retryable_status
from resources.payloads import BatchPage, BatchRef, PayloadBatch, PayloadSource, SourceError, dump_cursor, load_cursor

if TYPE_CHECKING:
    from apify_client._models import RunListItem

SYSTEM = "apify"
MAX_RUNS_PER_CALL = 1000
_MAX_DETAIL = 300

T = TypeVar("T")

_log = dg.get_dagster_logger("resources.apify")


def _fingerprint(run_id: str, dataset_id: str) -> str:
    """What the raw ledger stores for a landed run: its id and dataset (both fixed once the run SUCCEEDED)."""
    return f"apify-run:{run_id}:{dataset_id}"


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def classify_apify(client: ApifyClient) -> Callable[[BaseException], Failure | None]:
    """API errors by status (resources.http_retry), transport errors as the client's own HTTP layer judges them."""

    def classify(exc: BaseException) -> Failure | None:
        if isinstance(exc, ApifyApiError):
            kind = f" {exc.type}" if exc.type else ""
            detail = " ".join(str(exc.message).split())[:_MAX_DETAIL]
            return Failure(f"HTTP {exc.status_code}{kind}: {detail}", is_retryable_status(exc.status_code))
        if client.http_client.is_retryable_transport_error(exc):  # impit's timeouts and connection errors
            return Failure(f"connection error ({type(exc).__name__})", True)
        return None

    return classify


class ApifyPayloadSource(PayloadSource):
    """Reads the default datasets of recent successful runs of the actors mapped to streams."""

    token: str = Field(repr=False, description="Apify API token (APIFY_TOKEN).")
    api_url: str = "https://api.apify.com"
    actors: dict[str, str] = Field(description="stream -> actor id ('username~actor-name' or the id)")
    max_runs: int = 10
    lookback_hours: int = 72  # what the first listing (and a scan without a partition) looks back over
    max_run_hours: int = 24  # how long a run may take: later listings re-read runs started this long before the cursor
    settle_minutes: int = 30  # runs finishing up to this long before the newest one seen are re-checked by id
    dataset_chunk_size: int = 1000
    max_retries: int = 4
    min_retry_delay_seconds: float = 0.5
    max_retry_delay_seconds: float = 30.0
    max_retry_seconds: float = 300.0

    def _client(self) -> ApifyClient:
        return ApifyClient(token=self.token, api_url=self.api_url, max_retries=0)

    def _call(self, client: ApifyClient, source: str, operation: str, fn: Callable[[], T]) -> T:
        policy = RetryPolicy(
            max_attempts=self.max_retries + 1,
            base_delay=self.min_retry_delay_seconds,
            max_delay=self.max_retry_delay_seconds,
            max_elapsed=self.max_retry_seconds,
        )
        return call_with_retry(
            fn,
            source=source,
            operation=operation,
            policy=policy,
            classify=classify_apify(client),
            secrets=[self.token],
            logger=_log,
        )

    def _actor(self, stream: str) -> str:
        actor_id = self.actors.get(stream)
        if not actor_id:
            raise SourceError(f"{SYSTEM}/{stream}: no actor configured for this stream (known: {sorted(self.actors)})")
        return actor_id

    def list_batches(self, stream: str, after: str | None = None, limit: int = MAX_RUNS_PER_CALL) -> BatchPage:
        """One page of the actor's SUCCEEDED runs that finished after the cursor (newest started first).

        A pass starts at the newest run and pages back (`offset`) over runs started since the cursor's `finishedAt`
        minus `max_run_hours` (first pass: the last `lookback_hours`); when a page comes back short the pass is over
        and the cursor moves to the newest `finishedAt` seen, keeping the ids that finished within `settle_minutes`
        of it, so a run that finished while a long pass was paging is still found by the next pass.
        """
        source = f"{SYSTEM}/{stream}"
        actor_id = self._actor(stream)
        limit = max(1, min(limit, MAX_RUNS_PER_CALL))
        state = load_cursor(after)
        watermark = _parse_time(state.get("after"))
        recent: dict[str, str] = dict(state.get("recent", {}))
        scan = state.get("scan") or self._new_scan(watermark)
        client = self._client()
        runs_client = client.actor(actor_id).runs()
        operation = f"GET /v2/acts/{actor_id.replace('/', '~')}/runs (offset {scan['offset']})"
        page = self._call(
            client,
            source,
            operation,
            lambda: runs_client.list(
                status="SUCCEEDED", desc=True, limit=limit, offset=scan["offset"], started_after=scan["since"]
            ),
        )
        settle = timedelta(minutes=self.settle_minutes)
        floor = watermark - settle if watermark else None
        refs: list[BatchRef] = []
        for run in page.items:
            if run.status != "SUCCEEDED" or run.finished_at is None:
                continue
            finished = run.finished_at.astimezone(UTC)
            if (floor is None or finished > floor) and run.id not in recent:
                refs.append(BatchRef(run.id, finished.timestamp()))
            scan["found"][run.id] = finished.isoformat()
        if len(page.items) >= limit:  # more pages in this pass
            scan["offset"] += len(page.items)
            return BatchPage(tuple(refs), dump_cursor({**state, "scan": scan}), False)
        found = {**recent, **scan["found"]}
        times = [t for t in (watermark, *(_parse_time(v) for v in found.values())) if t is not None]
        if not times:  # nothing has ever finished: the next pass looks back over the lookback again
            return BatchPage(tuple(refs), None, True)
        newest = max(times)
        keep = {run_id: v for run_id, v in found.items() if _parse_time(v) > newest - settle}
        cursor = {"after": newest.isoformat(), "recent": keep}
        return BatchPage(tuple(refs), dump_cursor(cursor), True)

    def _new_scan(self, watermark: datetime | None) -> dict[str, Any]:
        if watermark is None:
            since = datetime.now(UTC) - timedelta(hours=self.lookback_hours)
        else:
            since = watermark - timedelta(hours=self.max_run_hours)
        return {"since": since.isoformat(), "offset": 0, "found": {}}

    def fetch_batch(self, stream: str, key: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch]:
        """The dataset of run `key` as one batch; nothing when that run already landed (a SUCCEEDED run's dataset
        no longer changes). A run that does not exist or has not SUCCEEDED fails at once (nothing to retry)."""
        source = f"{SYSTEM}/{stream}"
        self._actor(stream)
        if key in (known or {}):
            _log.info("%s: run %s already landed; not downloaded again", source, key)
            return
        client = self._client()
        run = self._call(client, source, f"GET /v2/actor-runs/{key}", lambda: client.run(key).get())
        if run is None:
            raise PermanentSourceError(f"{source}: run {key} does not exist")
        if run.status != "SUCCEEDED":
            raise PermanentSourceError(f"{source}: run {key} is {run.status}; only SUCCEEDED runs land")
        items = self._dataset_items(client, source, run)
        _log.info("%s: run %s dataset %s: %d items", source, run.id, run.default_dataset_id, len(items))
        yield PayloadBatch(
            SYSTEM, stream, run.id, items, datetime.now(UTC), _fingerprint(run.id, run.default_dataset_id)
        )

    def fetch_batches(self, stream: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch]:
        """Yield one batch per SUCCEEDED run started within the lookback (oldest first), batch_id = run id.

        A SUCCEEDED run's dataset no longer changes, so runs already landed (`known`) are not downloaded again.
        """
        known = known or {}
        source = f"{SYSTEM}/{stream}"
        actor_id = self._actor(stream)
        if not 1 <= self.max_runs <= MAX_RUNS_PER_CALL:
            raise SourceError(f"{source}: max_runs must be between 1 and {MAX_RUNS_PER_CALL}")
        client = self._client()
        for run in reversed(self._recent_runs(client, source, actor_id)):
            fingerprint = _fingerprint(run.id, run.default_dataset_id)
            if known.get(run.id) == fingerprint:
                _log.info("%s: run %s already landed; not downloaded again", source, run.id)
                continue
            items = self._dataset_items(client, source, run)
            _log.info("%s: run %s dataset %s: %d items", source, run.id, run.default_dataset_id, len(items))
            yield PayloadBatch(SYSTEM, stream, run.id, items, datetime.now(UTC), fingerprint)

    def _recent_runs(self, client: ApifyClient, source: str, actor_id: str) -> list[RunListItem]:
        """SUCCEEDED runs started after now - lookback, newest first (re-checked client-side)."""
        cutoff = datetime.now(UTC) - timedelta(hours=self.lookback_hours)
        operation = f"GET /v2/actors/{actor_id.replace('/', '~')}/runs"
        runs_client = client.actor(actor_id).runs()
        page = self._call(
            client,
            source,
            operation,
            lambda: runs_client.list(status="SUCCEEDED", desc=True, limit=self.max_runs, started_after=cutoff),
        )
        runs = [run for run in page.items if run.status == "SUCCEEDED" and run.started_at >= cutoff]
        if len(runs) < len(page.items):
            _log.warning("%s: ignored %d runs outside the filter", source, len(page.items) - len(runs))
        return runs[: self.max_runs]

    def _dataset_items(self, client: ApifyClient, source: str, run: RunListItem) -> list[Any]:
        """Every item of the run's dataset, page by page (each page retried on its own)."""
        dataset = client.dataset(run.default_dataset_id)
        operation = f"GET /v2/datasets/{run.default_dataset_id}/items (run {run.id})"
        items: list[Any] = []
        offset = 0
        while True:
            page = self._call(
                client,
                source,
                operation,
                lambda offset=offset: dataset.list_items(offset=offset, limit=self.dataset_chunk_size),
            )
            items.extend(page.items)
            if not page.count:  # rows scanned, not items returned: the client's own stop rule
                return items
            offset += page.count
