"""Apify as a payload source: one batch per SUCCEEDED actor run, items = the run's default dataset.

Uses apify-client 3.4: `actor(id).runs().list(status="SUCCEEDED", desc=True, limit=, started_after=)`
(`GET /v2/actors/{id}/runs`) and `dataset(id).iterate_items(chunk_size=)` (`GET /v2/datasets/{id}/items`,
offset/limit pages). The client retries 429/5xx/network errors itself (`max_retries`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg
from apify_client import ApifyClient
from apify_client.errors import ApifyApiError
from pydantic import Field

from resources.http_retry import redact
from resources.payloads import PayloadBatch, PayloadSource, SourceError

if TYPE_CHECKING:
    from apify_client._models import RunListItem

SYSTEM = "apify"
MAX_RUNS_PER_CALL = 1000
_MAX_DETAIL = 300

_log = dg.get_dagster_logger("resources.apify")


def describe_error(exc: BaseException) -> str:
    """API errors as 'after N attempts: HTTP 503 type: message', anything else as 'Type: message'."""
    if isinstance(exc, ApifyApiError):
        attempts = f"after {exc.attempt} attempts: " if exc.attempt > 1 else ""
        kind = f" {exc.type}" if exc.type else ""
        return f"{attempts}HTTP {exc.status_code}{kind}: {' '.join(str(exc.message).split())[:_MAX_DETAIL]}"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:_MAX_DETAIL]}"


class ApifyPayloadSource(PayloadSource):
    """Reads the default datasets of recent successful runs of the actors mapped to streams."""

    token: str = Field(repr=False, description="Apify API token (APIFY_TOKEN).")
    api_url: str = "https://api.apify.com"
    actors: dict[str, str] = Field(description="stream -> actor id ('username~actor-name' or the id)")
    max_runs: int = 10
    lookback_hours: int = 72
    dataset_chunk_size: int = 1000
    max_retries: int = 4
    min_retry_delay_seconds: float = 0.5

    def _client(self) -> ApifyClient:
        return ApifyClient(
            token=self.token,
            api_url=self.api_url,
            max_retries=self.max_retries,
            min_delay_between_retries=timedelta(seconds=self.min_retry_delay_seconds),
        )

    def _fail(self, source: str, operation: str, exc: BaseException) -> SourceError:
        detail = redact(describe_error(exc), [self.token])
        return SourceError(f"{source}: {operation} failed{'' if detail.startswith('after') else ':'} {detail}")

    def fetch_batches(self, stream: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch]:
        """Yield one batch per SUCCEEDED run started within the lookback (oldest first), batch_id = run id.

        A SUCCEEDED run's dataset no longer changes, so runs already landed (`known`) are not downloaded again.
        """
        known = known or {}
        source = f"{SYSTEM}/{stream}"
        actor_id = self.actors.get(stream)
        if not actor_id:
            raise SourceError(f"{source}: no actor configured for this stream (known: {sorted(self.actors)})")
        if not 1 <= self.max_runs <= MAX_RUNS_PER_CALL:
            raise SourceError(f"{source}: max_runs must be between 1 and {MAX_RUNS_PER_CALL}")
        client = self._client()
        for run in reversed(self._recent_runs(client, source, actor_id)):
            fingerprint = f"apify-run:{run.id}:{run.default_dataset_id}"
            if known.get(run.id) == fingerprint:
                _log.info("%s: run %s already landed; not downloaded again", source, run.id)
                continue
            operation = f"GET /v2/datasets/{run.default_dataset_id}/items (run {run.id})"
            try:
                dataset = client.dataset(run.default_dataset_id)
                items: list[Any] = list(dataset.iterate_items(chunk_size=self.dataset_chunk_size))
            except Exception as exc:
                raise self._fail(source, operation, exc) from None
            _log.info("%s: run %s dataset %s: %d items", source, run.id, run.default_dataset_id, len(items))
            yield PayloadBatch(SYSTEM, stream, run.id, items, datetime.now(UTC), fingerprint)

    def _recent_runs(self, client: ApifyClient, source: str, actor_id: str) -> list[RunListItem]:
        """SUCCEEDED runs started after now - lookback, newest first (re-checked client-side)."""
        cutoff = datetime.now(UTC) - timedelta(hours=self.lookback_hours)
        operation = f"GET /v2/actors/{actor_id.replace('/', '~')}/runs"
        try:
            page = (
                client.actor(actor_id)
                .runs()
                .list(status="SUCCEEDED", desc=True, limit=self.max_runs, started_after=cutoff)
            )
        except Exception as exc:
            raise self._fail(source, operation, exc) from None
        runs = [run for run in page.items if run.status == "SUCCEEDED" and run.started_at >= cutoff]
        if len(runs) < len(page.items):
            _log.warning("%s: ignored %d runs outside the filter", source, len(page.items) - len(runs))
        return runs[: self.max_runs]
