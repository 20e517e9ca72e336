"""Land raw payloads untouched: one row per API item, keyed by (source, batch, position)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
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
from sophia_pipelines.stages.write_behind import WriteBehind


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
# ... or this much payload text, whichever comes first: one Tavily response (one item) holds every result's page
# text, ~150 KB, and DuckDB holds a transaction's new rows in memory (the 500k-document Tavily stream in one
# transaction ran out of DuckDB's memory_limit).
RAW_FLUSH_CHARS = 32_000_000


def raw_record_id(source: str, batch_id: str, item_index: int) -> str:
    return sha256_hex(f"{source}\x1f{batch_id}\x1f{item_index}")[:32]


def payload_text(item: Any) -> str:
    """An item as stored: compact JSON text, key order kept, non-ASCII as is (orjson; the stdlib encoder for
    what orjson refuses: integers beyond 64 bits, non-string keys, lone surrogates)."""
    try:
        return orjson.dumps(item).decode()
    except (TypeError, UnicodeDecodeError):
        return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


@dataclass
class RawRows:
    """Raw-table rows being gathered, column by column (payloads serialised as they arrive, so their size is known)."""

    source: str
    ids: list[str] = field(default_factory=list)
    batch_ids: list[str] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    fetched: list[datetime] = field(default_factory=list)
    landed: list[tuple[str, str, int]] = field(default_factory=list)  # (batch_id, fingerprint, items) to record
    payload_chars: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, batch: PayloadBatch) -> None:
        """The batch's items as rows; only its ledger row is kept of the batch itself (not its parsed items)."""
        if batch.fingerprint:
            self.landed.append((batch.batch_id, batch.fingerprint, len(batch.items)))
        for index, item in enumerate(batch.items):
            payload = payload_text(item)
            self.ids.append(raw_record_id(self.source, batch.batch_id, index))
            self.batch_ids.append(batch.batch_id)
            self.indexes.append(index)
            self.payloads.append(payload)
            self.hashes.append(stable_payload_hash(self.source, item, payload))  # volatile fields excluded
            self.fetched.append(batch.fetched_at)
            self.payload_chars += len(payload)

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "record_id": self.ids,
                "source": self.source,
                "batch_id": self.batch_ids,
                "item_index": pd.array(self.indexes, dtype="int64"),
                "payload": self.payloads,
                "payload_hash": self.hashes,
                "fetched_at": self.fetched,
                "normalized_hash": pd.array([None] * len(self.ids), dtype="string"),
            }
        )
        return frame[RAW_COLUMN_NAMES]

    def batches_frame(self) -> pd.DataFrame:
        """`raw_batches` rows of the batches added that have a fingerprint."""
        now = datetime.now(UTC)
        rows = [(self.source, batch_id, fingerprint, items, now) for batch_id, fingerprint, items in self.landed]
        return pd.DataFrame(rows, columns=RAW_BATCHES.column_names)


def known_fingerprints(session: WarehouseSession, source: str) -> dict[str, str]:
    """{batch_id: fingerprint} of the batches of `source` already landed."""
    df = session.query(f"SELECT batch_id, fingerprint FROM {RAW_BATCHES.name} WHERE source = ?", [source])
    return dict(zip(df["batch_id"], df["fingerprint"], strict=True))


def land_raw(
    session: WarehouseSession,
    spec: TableSpec,
    source: str,
    payloads: PayloadSource,
    stream: str,
    flush_items: int = RAW_FLUSH_ITEMS,
    flush_chars: int = RAW_FLUSH_CHARS,
) -> RawLoadResult:
    """Upsert a stream's new batches: new items insert, items whose payload changed update (and re-normalize).

    Batches already landed with the same fingerprint are skipped by the source (not downloaded, not parsed).
    Batches are merged in groups of about `flush_items` items or `flush_chars` characters of payload, each committed
    with its fingerprints, so memory stays bounded for large runs and a failure keeps the groups merged before it.
    Files the source cannot use are quarantined (stages/file_quarantine.py) and the rest of the stream lands.
    """
    session.ensure_tables([spec, RAW_BATCHES, RAW_FILE_QUARANTINE])
    known = known_fingerprints(session, source)
    merged = _merge(session, spec, source, payloads.fetch_batches(stream, known), flush_items, flush_chars)
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
    flush_chars: int = RAW_FLUSH_CHARS,
) -> RawLoadResult:
    """Land exactly the source runs `keys` (partition keys) of a stream, like `land_raw` does for all of them.

    Each run's batches come from `payloads.fetch_batch` (skipped when their fingerprint already landed); the
    quarantine changes only for the files of these runs, so landing one partition never touches another's.
    """
    session.ensure_tables([spec, RAW_BATCHES, RAW_FILE_QUARANTINE])
    known = known_fingerprints(session, source)
    results = (result for key in keys for result in payloads.fetch_batch(stream, key, known))
    merged = _merge(session, spec, source, results, flush_items, flush_chars)
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
    flush_chars: int = RAW_FLUSH_CHARS,
) -> _Merged:
    """Merge the batches of `results` in groups of about `flush_items` items or `flush_chars` characters of payload,
    whichever comes first, committing after each group (its rows and its batches' fingerprints together, so a
    failure later keeps it and the next run skips it); collect the bad payloads.

    The MERGE and commit of group i overlap the reading and parsing of group i+1 (`WriteBehind`: groups committed in
    order, a group read before a source failure still lands).
    """
    out = _Merged()

    def write(frame: pd.DataFrame, batches: pd.DataFrame) -> tuple[MergeCounts, int]:
        counts = session.merge(spec, frame, compare=["payload_hash"])
        session.merge(RAW_BATCHES, batches, compare=["fingerprint"])
        session.commit_progress()
        return counts, len(frame)

    def landed(done: tuple[MergeCounts, int]) -> None:
        counts, items = done
        out.items, out.inserted, out.updated = (
            out.items + items,
            out.inserted + counts.inserted,
            out.updated + counts.updated,
        )

    with WriteBehind("raw-writer", landed) as writer:
        for rows in _groups(source, results, out, flush_items, flush_chars):
            writer.submit(write, rows.frame(), rows.batches_frame())
    return out


def _groups(
    source: str, results: Iterable[PayloadBatch | BadPayload], out: _Merged, flush_items: int, flush_chars: int
) -> Iterator[RawRows]:
    """The batches of `results` as groups of rows, bounded by `flush_items` / `flush_chars`; bad payloads and the
    batch count go to `out`. A group holds its payloads serialised, not the batches' parsed items."""
    rows = RawRows(source)
    for batch in results:
        if isinstance(batch, BadPayload):
            out.bad.append(batch)
            continue
        out.batches += 1
        rows.add(batch)
        if len(rows) >= flush_items or rows.payload_chars >= flush_chars:
            yield rows
            rows = RawRows(source)
    if rows.batch_ids or rows.landed:
        yield rows
