"""Land raw payloads untouched: one row per API item, keyed by (source, batch, position)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
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


RAW_FLUSH_ITEMS = 10_000  # parsed items held before a MERGE: bounds the stage's memory (website pages run to ~5 KB)


def raw_record_id(source: str, batch_id: str, item_index: int) -> str:
    return sha256_hex(f"{source}\x1f{batch_id}\x1f{item_index}")[:32]


def payload_text(item: Any) -> str:
    """An item as stored: compact JSON text, key order kept, non-ASCII as is (orjson; the stdlib encoder for
    what orjson refuses: integers beyond 64 bits, non-string keys, lone surrogates)."""
    try:
        return orjson.dumps(item).decode()
    except (TypeError, UnicodeDecodeError):
        return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def raw_frame(source: str, batches: Iterable[PayloadBatch]) -> pd.DataFrame:
    """Rows for the raw table (payload serialised as JSON text, key order kept), built column by column."""
    ids: list[str] = []
    batch_ids: list[str] = []
    indexes: list[int] = []
    payloads: list[str] = []
    hashes: list[str] = []
    fetched: list[datetime] = []
    for batch in batches:
        for index, item in enumerate(batch.items):
            payload = payload_text(item)
            ids.append(raw_record_id(source, batch.batch_id, index))
            batch_ids.append(batch.batch_id)
            indexes.append(index)
            payloads.append(payload)
            hashes.append(stable_payload_hash(source, item, payload))  # volatile fields excluded (domain/volatile.py)
            fetched.append(batch.fetched_at)
    frame = pd.DataFrame(
        {
            "record_id": ids,
            "source": source,
            "batch_id": batch_ids,
            "item_index": pd.array(indexes, dtype="int64"),
            "payload": payloads,
            "payload_hash": hashes,
            "fetched_at": fetched,
            "normalized_hash": pd.array([None] * len(ids), dtype="string"),
        }
    )
    return frame[RAW_COLUMN_NAMES]


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
    flush_items: int = RAW_FLUSH_ITEMS,
) -> RawLoadResult:
    """Upsert a stream's new batches: new items insert, items whose payload changed update (and re-normalize).

    Batches already landed with the same fingerprint are skipped by the source (not downloaded, not parsed).
    Batches are merged in groups of about `flush_items` items, so memory stays bounded for large runs.
    Files the source cannot use are quarantined (stages/file_quarantine.py) and the rest of the stream lands.
    """
    session.ensure_tables([spec, RAW_BATCHES, RAW_FILE_QUARANTINE])
    known = known_fingerprints(session, source)
    merged = _merge(session, spec, source, payloads.fetch_batches(stream, known), flush_items)
    released = update_quarantine(session, source, merged.bad)
    return merged.result(session.row_count(spec), released)


def land_partitions(
    session: WarehouseSession,
    spec: TableSpec,
    source: str,
    payloads: PayloadSource,
    stream: str,
    keys: Sequence[str],
    flush_items: int = RAW_FLUSH_ITEMS,
) -> RawLoadResult:
    """Land exactly the source runs `keys` (partition keys) of a stream, like `land_raw` does for all of them.

    Each run's batches come from `payloads.fetch_batch` (skipped when their fingerprint already landed); the
    quarantine changes only for the files of these runs, so landing one partition never touches another's.
    """
    session.ensure_tables([spec, RAW_BATCHES, RAW_FILE_QUARANTINE])
    known = known_fingerprints(session, source)
    results = (result for key in keys for result in payloads.fetch_batch(stream, key, known))
    merged = _merge(session, spec, source, results, flush_items)
    released = update_quarantine(session, source, merged.bad, batch_ids=keys)
    return merged.result(session.row_count(spec), released)


@dataclass
class _Merged:
    batches: int = 0
    items: int = 0
    inserted: int = 0
    updated: int = 0
    bad: list[BadPayload] = field(default_factory=list)

    def result(self, total_rows: int, released: Sequence[str]) -> RawLoadResult:
        counts = MergeCounts(self.inserted, self.updated)
        return RawLoadResult(self.batches, self.items, counts, total_rows, tuple(self.bad), tuple(released))


def _merge(
    session: WarehouseSession,
    spec: TableSpec,
    source: str,
    results: Iterable[PayloadBatch | BadPayload],
    flush_items: int,
) -> _Merged:
    """Merge the batches of `results` in groups of about `flush_items` items; collect the bad payloads."""
    out = _Merged()
    pending: list[PayloadBatch] = []
    pending_items = 0

    def flush() -> None:
        nonlocal pending_items
        frame = raw_frame(source, pending)
        counts = session.merge(spec, frame, compare=["payload_hash"])
        session.merge(RAW_BATCHES, batches_frame(source, pending), compare=["fingerprint"])
        out.items, out.inserted, out.updated = (
            out.items + len(frame),
            out.inserted + counts.inserted,
            out.updated + counts.updated,
        )
        pending.clear()
        pending_items = 0

    for batch in results:
        if isinstance(batch, BadPayload):
            out.bad.append(batch)
            continue
        out.batches += 1
        pending.append(batch)
        pending_items += len(batch.items)
        if pending_items >= flush_items:
            flush()
    if pending:
        flush()
    return out
