"""The lexical (BM25) store interface, and the local backend: a fitted `bm25s` index plus chunk metadata on disk.

Backends: `LocalLexicalStore` (here) and `resources.pinecone_vector_store.PineconeLexicalStore` (a Pinecone
sparse index). The lexical stage (`sophia_pipelines/stages/lexical.py`) fits the BM25 index from the per-chunk
tokens it keeps in the warehouse and hands the store the fit plus the changed and removed chunks: the local store
saves the whole fit (a rebuild), Pinecone upserts only the changed chunks' sparse vectors.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field

from resources.bm25_index import IDS_FILE, LexicalIndex
from resources.vector_store import (
    SNIPPET_MAX_CHARS,
    TITLE_MAX_CHARS,
    VectorMatch,
    VectorStoreError,
    normalize_metadata,
)

# What every lexical record carries (the vector store's fields plus the document's date, for date filters).
LEXICAL_FIELDS = ("document_id", "chunk_index", "source", "url", "title", "text", "published_at")
METADATA_FILE = "metadata.parquet"
CURRENT_FILE = "CURRENT"  # names the live index folder, swapped atomically after a complete write


@dataclass(frozen=True, slots=True)
class LexicalRecord:
    id: str
    metadata: dict[str, Any]  # LEXICAL_FIELDS; published_at a timezone-aware datetime or None


def lexical_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Exactly LEXICAL_FIELDS: missing → None, text and title cut like the vector store's."""
    return normalize_metadata(metadata, LEXICAL_FIELDS)


# What the store is given to upsert: one row per chunk, its id and LEXICAL_FIELDS (text and title cut by
# `cut_records`, as `lexical_metadata` cuts them).
LEXICAL_RECORDS = pa.schema(
    [
        ("id", pa.string()),
        ("document_id", pa.string()),
        ("chunk_index", pa.int32()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("published_at", pa.timestamp("us", tz="UTC")),
    ]
)


def cut_records(table: pa.Table) -> pa.Table:
    """`table` (id and LEXICAL_FIELDS columns) in LEXICAL_RECORDS's types, text and title cut to their maximums."""
    table = table.select(LEXICAL_RECORDS.names).cast(LEXICAL_RECORDS)
    text, title = LEXICAL_RECORDS.get_field_index("text"), LEXICAL_RECORDS.get_field_index("title")
    table = table.set_column(text, "text", pc.utf8_slice_codeunits(table["text"], 0, SNIPPET_MAX_CHARS))
    return table.set_column(title, "title", pc.utf8_slice_codeunits(table["title"], 0, TITLE_MAX_CHARS))


def records_table(records: Sequence[LexicalRecord]) -> pa.Table:
    """`records` as a LEXICAL_RECORDS table (what `LexicalStore.write` takes), built column by column."""
    columns = {"id": pa.array([r.id for r in records], pa.string())}
    for name in LEXICAL_FIELDS:
        columns[name] = pa.array([r.metadata.get(name) for r in records], LEXICAL_RECORDS.field(name).type)
    return cut_records(pa.table(columns, schema=LEXICAL_RECORDS))


def epoch_seconds(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class LexicalStore(dg.ConfigurableResource):
    """Base class: BM25 retrieval over chunks with source and date filters."""

    def write(self, index: LexicalIndex, upserts: pa.Table, deletes: Sequence[str]) -> int:  # pragma: no cover
        """Make the store hold `index` (fitted on every chunk) with `upserts` (a LEXICAL_RECORDS table: the changed
        chunks) and `deletes` gone."""
        raise NotImplementedError

    def query(
        self,
        tokens: Sequence[str],
        top_k: int = 50,
        source: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[VectorMatch]:  # pragma: no cover - interface
        """The `top_k` chunks by BM25 score (> 0), best first, within the filters (a date filter skips undated)."""
        raise NotImplementedError

    def fetch(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:  # pragma: no cover - interface
        """{id: metadata} of the ids the store holds."""
        raise NotImplementedError

    def count(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def location(self) -> str:  # pragma: no cover - interface
        """Where the index lives (no secret): another location is another, possibly empty, store."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class _Loaded:
    folder: str
    index: LexicalIndex
    rows: dict[str, int]
    metadata: list[dict[str, Any]]
    sources: np.ndarray
    dates: np.ndarray  # epoch seconds, NaN when undated


_LOADED: dict[str, _Loaded] = {}  # per index folder, in this process: the version last loaded


class LocalLexicalStore(LexicalStore):
    """A folder: the fitted `bm25s` index and every chunk's metadata (Parquet), in a versioned sub-folder.

    A write builds a new version beside the live one and then switches `CURRENT` to it (an atomic rename), so a
    reader in another process always sees a complete index. Queries are in memory (the version is loaded once per
    process and reloaded when `CURRENT` changes).
    """

    directory: str = Field(description="folder of the index, e.g. .sophia/lexical")

    def _root(self) -> Path:
        return Path(self.directory)

    def _current(self) -> Path | None:
        marker = self._root() / CURRENT_FILE
        if not marker.exists():
            return None
        folder = self._root() / marker.read_text().strip()
        return folder if folder.is_dir() else None

    def _read_metadata(self, folder: Path | None) -> pa.Table:
        if folder is None:
            return LEXICAL_RECORDS.empty_table()
        return pq.read_table(folder / METADATA_FILE, schema=LEXICAL_RECORDS)

    def write(self, index: LexicalIndex, upserts: pa.Table, deletes: Sequence[str]) -> int:
        root = self._root()
        root.mkdir(parents=True, exist_ok=True)
        previous = self._current()
        old = self._read_metadata(previous)
        upserts = cut_records(upserts)
        replaced = pa.concat_arrays([pa.array(list(deletes), pa.string()), upserts["id"].combine_chunks()])
        kept = old.filter(pc.invert(pc.is_in(old["id"], value_set=replaced)))
        table = pa.concat_tables([kept, upserts])
        ids = pa.array(index.chunk_ids, pa.string())
        positions = pc.index_in(ids, value_set=table["id"])  # laid out in the index's row order
        if positions.null_count:
            missing = ids.filter(pc.is_null(positions))
            raise VectorStoreError(f"lexical index holds {len(missing)} chunks without metadata, e.g. {missing[0]}")
        folder = root / f"v-{uuid.uuid4().hex[:12]}"
        index.save(folder)
        pq.write_table(table.take(positions), folder / METADATA_FILE)
        marker = root / f".{CURRENT_FILE}.{folder.name}"
        marker.write_text(folder.name)
        os.replace(marker, root / CURRENT_FILE)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        return upserts.num_rows

    def _load(self) -> _Loaded | None:
        folder = self._current()
        if folder is None:
            return None
        cached = _LOADED.get(str(folder.parent.resolve()))
        if cached is not None and cached.folder == folder.name:
            return cached
        index = LexicalIndex.load(folder)
        table = self._read_metadata(folder)
        metadata = [{k: row[k] for k in LEXICAL_FIELDS} for row in table.to_pylist()]
        dates = table.column("published_at").cast(pa.int64()).to_numpy(zero_copy_only=False)
        loaded = _Loaded(
            folder=folder.name,
            index=index,
            rows={vid: n for n, vid in enumerate(index.chunk_ids)},
            metadata=metadata,
            sources=np.asarray(table.column("source").to_pylist(), dtype=object),
            dates=np.where(np.isnan(dates.astype(float)), np.nan, dates / 1e6),
        )
        _LOADED[str(folder.parent.resolve())] = loaded
        return loaded

    def query(
        self,
        tokens: Sequence[str],
        top_k: int = 50,
        source: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[VectorMatch]:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        loaded = self._load()
        if loaded is None or not len(loaded.index):
            return []
        scores = loaded.index.scores(tokens).astype(np.float64)
        keep = scores > 0
        if source is not None:
            keep &= loaded.sources == source
        with np.errstate(invalid="ignore"):
            if since is not None:
                keep &= loaded.dates >= epoch_seconds(since)
            if until is not None:
                keep &= loaded.dates <= epoch_seconds(until)
        candidates = np.flatnonzero(keep)
        if candidates.size > top_k:
            candidates = candidates[np.argpartition(-scores[candidates], top_k - 1)[:top_k]]
        ordered = sorted(candidates.tolist(), key=lambda row: (-scores[row], loaded.index.chunk_ids[row]))
        return [VectorMatch(loaded.index.chunk_ids[r], float(scores[r]), dict(loaded.metadata[r])) for r in ordered]

    def fetch(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        loaded = self._load()
        if loaded is None:
            return {}
        return {vid: dict(loaded.metadata[loaded.rows[vid]]) for vid in ids if vid in loaded.rows}

    def count(self) -> int:
        folder = self._current()
        return 0 if folder is None else len(json.loads((folder / IDS_FILE).read_text()))

    @property
    def location(self) -> str:
        return str(self._root().resolve())

    def describe(self) -> dict[str, Any]:
        return {"backend": "bm25s", "directory": self.directory, "count": self.count()}
