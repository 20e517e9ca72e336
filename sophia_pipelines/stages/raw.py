"""Land raw payloads untouched: one row per API item, keyed by (source, batch, position)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from resources.payloads import BadPayload, PayloadBatch, PayloadSource
from resources.tables import TableSpec
from resources.warehouse import MergeCounts, WarehouseSession
from sophia_pipelines.domain.documents import sha256_hex
from sophia_pipelines.domain.tables import RAW_BATCHES, RAW_COLUMN_NAMES, RAW_FILE_QUARANTINE
from sophia_pipelines.domain.volatile import stable_payload_hash
from sophia_pipelines.stages.file_quarantine import update_quarantine


@dataclass(frozen=True, slots=True)
class RawLoadResult:
    batches: int
    items: int
    counts: MergeCounts
    total_rows: int
    quarantined: tuple[BadPayload, ...] = ()  # files skipped in this run (recorded in raw_file_quarantine)
    released: tuple[str, ...] = ()  # paths that left the quarantine in this run

    @property
    def unchanged(self) -> int:
        return self.items - self.counts.changed

    @property
    def files_quarantined(self) -> int:
        return len(self.quarantined)


def raw_record_id(source: str, batch_id: str, item_index: int) -> str:
    return sha256_hex(f"{source}\x1f{batch_id}\x1f{item_index}")[:32]


def raw_frame(source: str, batches: Iterable[PayloadBatch]) -> pd.DataFrame:
    """Rows for the raw table (payload serialised as JSON text, key order kept)."""
    rows: list[tuple] = []
    for batch in batches:
        for index, item in enumerate(batch.items):
            payload = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
            rows.append(
                (
                    raw_record_id(source, batch.batch_id, index),
                    source,
                    batch.batch_id,
                    index,
                    payload,
                    stable_payload_hash(source, item, payload),  # volatile fields excluded (domain/volatile.py)
                    batch.fetched_at,
                    None,
                )
            )
    frame = pd.DataFrame(rows, columns=RAW_COLUMN_NAMES)
    frame["normalized_hash"] = frame["normalized_hash"].astype("string")
    return frame


def known_fingerprints(session: WarehouseSession, source: str) -> dict[str, str]:
    """{batch_id: fingerprint} of the batches of `source` already landed."""
    df = session.query(f"SELECT batch_id, fingerprint FROM {RAW_BATCHES.name} WHERE source = ?", [source])
    return dict(zip(df["batch_id"], df["fingerprint"], strict=True))


def batches_frame(source: str, batches: Sequence[PayloadBatch]) -> pd.DataFrame:
    now = datetime.now(UTC)
    rows = [(source, b.batch_id, b.fingerprint, len(b.items), now) for b in batches if b.fingerprint]
    return pd.DataFrame(rows, columns=RAW_BATCHES.column_names)


def land_raw(
    session: WarehouseSession,
    spec: TableSpec,
    source: str,
    payloads: PayloadSource,
    stream: str,
    flush_items: int = 10_000,
) -> RawLoadResult:
    """Upsert a stream's new batches: new items insert, items whose payload changed update (and re-normalize).

    Batches already landed with the same fingerprint are skipped by the source (not downloaded, not parsed).
    Batches are merged in groups of about `flush_items` items, so memory stays bounded for large runs.
    Files the source cannot use are quarantined (stages/file_quarantine.py) and the rest of the stream lands.
    """
    session.ensure_tables([spec, RAW_BATCHES, RAW_FILE_QUARANTINE])
    known = known_fingerprints(session, source)
    n_batches = n_items = inserted = updated = pending_items = 0
    pending: list[PayloadBatch] = []
    bad: list[BadPayload] = []

    def flush() -> None:
        nonlocal n_items, inserted, updated, pending_items
        frame = raw_frame(source, pending)
        counts = session.merge(spec, frame, compare=["payload_hash"])
        session.merge(RAW_BATCHES, batches_frame(source, pending), compare=["fingerprint"])
        n_items, inserted, updated = n_items + len(frame), inserted + counts.inserted, updated + counts.updated
        pending.clear()
        pending_items = 0

    for batch in payloads.fetch_batches(stream, known):
        if isinstance(batch, BadPayload):
            bad.append(batch)
            continue
        n_batches += 1
        pending.append(batch)
        pending_items += len(batch.items)
        if pending_items >= flush_items:
            flush()
    if pending:
        flush()
    released = update_quarantine(session, source, bad)
    counts = MergeCounts(inserted, updated)
    return RawLoadResult(n_batches, n_items, counts, session.row_count(spec), tuple(bad), tuple(released))
