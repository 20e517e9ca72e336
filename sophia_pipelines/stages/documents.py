"""Normalize raw records that are new or changed into `documents`; quarantine what can't be normalized."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pandas as pd

from resources.tables import TableSpec
from resources.warehouse import MergeCounts, WarehouseSession
from sophia_pipelines.domain.documents import (
    DOCUMENT_COLUMNS,
    Document,
    RawRecord,
    Rejection,
    sha256_hex,
)
from sophia_pipelines.domain.normalize import Normalizer, catalogue_normalizers, normalize_records
from sophia_pipelines.domain.tables import DOCUMENT_REJECTS, DOCUMENTS
from sophia_pipelines.stages.scope import EVERYTHING, Condition, SourceRunScope, batches_condition


@dataclass(slots=True)
class DocumentsResult:
    records_processed: int = 0
    documents_seen: int = 0
    counts: MergeCounts = field(default_factory=MergeCounts)
    rejected: int = 0
    rejects_by_reason: Counter[str] = field(default_factory=Counter)
    documents_by_source: dict[str, int] = field(default_factory=dict)
    total_documents: int = 0
    total_rejects: int = 0

    @property
    def reject_rate(self) -> float:
        outcomes = self.documents_seen + self.rejected
        return self.rejected / outcomes if outcomes else 0.0


PENDING = "normalized_hash IS NULL OR normalized_hash <> payload_hash"
NORMALIZE_BATCH_RECORDS = 2_000  # raw records held (parsed) at once, at most: bounds the stage's memory at any size
# ... and about this much payload text per batch: items differ ~10x in size between streams (a Tavily item is a whole
# search response, ~13 KB; 2,000 of them ran out of a 256 MB DuckDB memory_limit in the read alone). A stream's first
# batch is FIRST_BATCH_RECORDS; each next one is sized from the mean payload of the batch before it.
NORMALIZE_BATCH_CHARS = 12_000_000
FIRST_BATCH_RECORDS = 100


def parse_payload(text: str | None) -> Any:
    """A stored payload back as JSON values (orjson; the stdlib parser for what orjson refuses, e.g. huge ints)."""
    if not isinstance(text, str):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


@dataclass(frozen=True, slots=True)
class PendingBatch:
    records: list[RawRecord]
    payload_chars: int  # characters of payload text the batch read


def next_batch_records(batch: PendingBatch, most: int) -> int:
    """Records for the next batch: as many as NORMALIZE_BATCH_CHARS holds at `batch`'s mean payload, 1 to `most`."""
    if not batch.records or not batch.payload_chars:
        return most
    mean = batch.payload_chars / len(batch.records)
    return max(1, min(most, int(NORMALIZE_BATCH_CHARS // mean)))


def pending_raw_records(
    session: WarehouseSession, spec: TableSpec, limit: int, within: Condition = EVERYTHING
) -> PendingBatch:
    """Up to `limit` raw rows never normalized, or whose payload changed since they were (oldest fetch first),
    with the characters of payload text they hold; only rows `within` holds for (e.g. a run's source runs)."""
    # The top-N picks keys only, then the payloads of just those rows are read: a top-N that carried every
    # pending payload took ~20 s per batch at 118k documents and ran out of DuckDB's memory_limit.
    order = "fetched_at, batch_id, item_index"
    df = session.query(
        f"SELECT record_id, source, batch_id, item_index, TO_JSON(payload) AS payload, fetched_at "
        f"FROM {spec.name} WHERE record_id IN "
        f"(SELECT record_id FROM {spec.name} WHERE ({PENDING}) AND {within.sql} ORDER BY {order} LIMIT ?) "
        f"ORDER BY {order}",
        [*within.params, limit],
    )
    chars = int(df["payload"].str.len().sum()) if len(df) else 0
    fetched = [t.to_pydatetime() for t in pd.to_datetime(df["fetched_at"], utc=True)]
    records = [
        RawRecord(
            record_id=record_id,
            source=source,
            batch_id=batch_id,
            item_index=int(item_index),
            payload=parse_payload(payload),
            fetched_at=fetched_at,
        )
        for record_id, source, batch_id, item_index, payload, fetched_at in zip(
            df["record_id"], df["source"], df["batch_id"], df["item_index"], df["payload"], fetched, strict=True
        )
    ]
    return PendingBatch(records, chars)


def documents_frame(documents: Sequence[Document]) -> pd.DataFrame:
    """One row per document_id: the latest fetch wins; among equal fetches, the last one processed."""
    frame = pd.DataFrame([d.as_tuple() for d in documents], columns=list(DOCUMENT_COLUMNS))
    frame = frame.sort_values("fetched_at", kind="stable")  # tz-aware datetimes (normalizers guarantee UTC)
    return frame.drop_duplicates("document_id", keep="last").reset_index(drop=True)


def rejects_frame(rejections: Sequence[Rejection], now: datetime) -> pd.DataFrame:
    rows = []
    for r in rejections:
        payload = json.dumps(r.payload, ensure_ascii=False, separators=(",", ":"), default=str)
        rows.append(
            {
                "reject_id": sha256_hex(f"{r.raw_record_id}\x1f{r.reason}\x1f{payload}")[:32],
                "source": r.source,
                "raw_record_id": r.raw_record_id,
                "reason": r.reason,
                "payload": payload,
                "rejected_at": now,
            }
        )
    frame = pd.DataFrame(rows, columns=DOCUMENT_REJECTS.column_names)
    return frame.drop_duplicates("reject_id").reset_index(drop=True)


def mark_normalized(session: WarehouseSession, spec: TableSpec, record_ids: Sequence[str]) -> None:
    if not record_ids:
        return
    with session.key_table(record_ids) as keys:
        session.execute_count(
            f"UPDATE {spec.name} SET normalized_hash = payload_hash WHERE record_id IN (SELECT k FROM {keys})"
        )


def normalize_batch(
    session: WarehouseSession,
    spec: TableSpec,
    records: list[RawRecord],
    result: DocumentsResult,
    normalizers: Mapping[str, Normalizer],
) -> None:
    """Normalize one batch of raw records, upsert documents and rejects, and mark the records normalized."""
    normalized = normalize_records(records, normalizers)
    result.records_processed += len(records)
    result.documents_seen += len(normalized.documents)
    result.rejected += len(normalized.rejections)
    result.rejects_by_reason.update(r.reason for r in normalized.rejections)
    # A document follows its latest fetch (content and provenance); an older fetch never overwrites a newer one.
    # On equal fetch times the record processed last wins, as within one batch, so batching never changes results.
    counts = session.merge(
        DOCUMENTS,
        documents_frame(normalized.documents),
        compare=["content_hash", "fetched_at", "raw_record_id"],
        guard="src.fetched_at >= tgt.fetched_at",
    )
    result.counts = MergeCounts(result.counts.inserted + counts.inserted, result.counts.updated + counts.updated)
    session.merge(DOCUMENT_REJECTS, rejects_frame(normalized.rejections, datetime.now(UTC)), compare=["reason"])
    mark_normalized(session, spec, [r.record_id for r in records])


def normalize_pending(
    session: WarehouseSession,
    raw_specs: Sequence[TableSpec],
    batch_size: int = NORMALIZE_BATCH_RECORDS,
    normalizers: Mapping[str, Normalizer] | None = None,
    scope: SourceRunScope | None = None,
) -> DocumentsResult:
    """Normalize every pending raw record of `raw_specs` in batches of at most `batch_size` records and about
    NORMALIZE_BATCH_CHARS of payload, and upsert the results.

    `normalizers` routes each record by its source id (`streams.normalizers(streams)`; default: the catalogue's).
    `scope`: only the records of these source runs (default: every pending record).
    """
    routes = catalogue_normalizers() if normalizers is None else normalizers
    if scope is not None:
        scope.check(raw_specs)
    session.ensure_tables([*raw_specs, DOCUMENTS, DOCUMENT_REJECTS])
    result = DocumentsResult()
    for spec in raw_specs:
        within = batches_condition(scope, spec)  # FALSE for a table out of scope: nothing pending there
        remaining = int(
            session.scalar(f"SELECT COUNT(*) FROM {spec.name} WHERE ({PENDING}) AND {within.sql}", within.params)
        )
        limit = min(batch_size, FIRST_BATCH_RECORDS)
        while remaining > 0:  # bounded: each batch marks at least one record normalized, or the loop ends
            batch = pending_raw_records(session, spec, limit, within)
            if not batch.records:
                break
            normalize_batch(session, spec, batch.records, result, routes)
            session.commit_progress()  # a batch's documents, rejects and marks are complete together
            remaining -= len(batch.records)
            limit = next_batch_records(batch, batch_size)

    by_source = session.query("SELECT source, COUNT(*) AS n FROM documents GROUP BY source ORDER BY source")
    result.documents_by_source = {r.source: int(r.n) for r in by_source.itertuples(index=False)}
    result.total_documents = session.row_count(DOCUMENTS)
    result.total_rejects = session.row_count(DOCUMENT_REJECTS)
    return result
