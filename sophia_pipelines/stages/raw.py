"""Land raw payloads untouched: one row per API item, keyed by (source, batch, position)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from resources.payloads import PayloadBatch
from resources.warehouse import MergeCounts, WarehouseSession
from sophia_pipelines.domain.documents import sha256_hex
from sophia_pipelines.domain.tables import TableSpec


@dataclass(frozen=True, slots=True)
class RawLoadResult:
    batches: int
    items: int
    counts: MergeCounts
    total_rows: int

    @property
    def unchanged(self) -> int:
        return self.items - self.counts.changed


def raw_record_id(source: str, batch_id: str, item_index: int) -> str:
    return sha256_hex(f"{source}\x1f{batch_id}\x1f{item_index}")[:32]


def raw_frame(source: str, batches: Iterable[PayloadBatch]) -> tuple[pd.DataFrame, int]:
    """Rows for the raw table (payload serialised as JSON text, key order kept) and the batch count."""
    rows: list[tuple] = []
    n_batches = 0
    for batch in batches:
        n_batches += 1
        for index, item in enumerate(batch.items):
            payload = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
            rows.append(
                (
                    raw_record_id(source, batch.batch_id, index),
                    source,
                    batch.batch_id,
                    index,
                    payload,
                    sha256_hex(payload),
                    batch.fetched_at,
                    None,
                )
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "record_id",
            "source",
            "batch_id",
            "item_index",
            "payload",
            "payload_hash",
            "fetched_at",
            "normalized_hash",
        ],
    )
    frame["normalized_hash"] = frame["normalized_hash"].astype("string")
    frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True)
    return frame, n_batches


def land_raw(session: WarehouseSession, spec: TableSpec, source: str, batches: Iterable[PayloadBatch]) -> RawLoadResult:
    """Upsert a stream's batches: new items insert, items whose payload changed update (and re-normalize)."""
    session.ensure_table(spec)
    frame, n_batches = raw_frame(source, batches)
    counts = session.merge(spec, frame, compare=["payload_hash"])
    return RawLoadResult(n_batches, len(frame), counts, session.row_count(spec))
