"""Local vector store: chunk vectors in a DuckDB file, exact cosine search."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from pydantic import Field, PrivateAttr

from resources.vector_store import (
    METADATA_FIELDS,
    VectorBatch,
    VectorMatch,
    VectorStore,
    VectorStoreError,
    prepare_query,
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_LOCK_MESSAGES = ("Could not set lock", "Conflicting lock")


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Execute and read every row (DuckDB 2 refuses other work on a connection with an unfinished result)."""
    return con.execute(sql, params or []).fetchall()


@dataclass(frozen=True, slots=True)
class _Snapshot:
    signature: tuple[tuple[int, int] | None, ...]
    dimension: int
    ids: list[str]
    unit: np.ndarray  # L2-normalised rows, in `ids` order
    sources: np.ndarray
    metadata: pa.Table


_SNAPSHOTS: dict[tuple[str, str], _Snapshot] = {}  # (database, table) -> the vectors as last read, per process


class DuckDBVectorStore(VectorStore):
    """Vectors in a DuckDB table (`embedding FLOAT[dimension]` + metadata columns), brute-force cosine search.

    Each call opens and closes its own connection, so other processes are locked out only while it runs
    (a busy file is retried briefly). Reads never create the file; the table is created on first write.
    Writers are expected to be one at a time (DuckDB's file lock enforces it across processes).
    Exact search in memory: the first query loads every vector (and its metadata) once per process, later ones
    only check the file's mtime/size and reload after a write; a query over 100k 256-dim rows takes ~15 ms.
    """

    database: str = Field(description="path of the DuckDB file, e.g. .sophia/vectors.duckdb")
    table: str = "chunk_vectors"
    lock_retries: int = Field(default=20, ge=1, description="attempts while another process holds the file lock")
    memory_limit: str = Field(
        default="128MB", description="DuckDB memory_limit (its buffer pool): a held connection does not grow with N"
    )
    _held: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def _check_config(self) -> None:
        if not _IDENTIFIER.match(self.table):
            raise VectorStoreError(f"invalid table name {self.table!r}")
        if self.database in ("", ":memory:") or self.database.startswith(":memory:"):
            raise VectorStoreError("DuckDBVectorStore needs a database file (connections are per call)")
        if self.dimension < 1:
            raise VectorStoreError(f"dimension must be positive, got {self.dimension}")

    @contextmanager
    def held(self) -> Iterator[None]:
        """One connection for the calls inside the block (the embed stage's writes: no open, close and checkpoint
        per batch); other processes wait for the file until the block ends."""
        if self._held is not None:
            yield
            return
        with self._open() as con:
            self._held = con
            try:
                yield
            finally:
                self._held = None

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the held connection, or the file opened for this call."""
        if self._held is not None:
            with self._held.cursor() as cursor:  # closed on exit; the held connection stays open
                yield cursor
            return
        with self._open() as con:
            yield con

    @contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self._check_config()
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(self.lock_retries):
            try:
                con = duckdb.connect(self.database)
                break
            except duckdb.IOException as exc:
                if attempt + 1 >= self.lock_retries or not any(m in str(exc) for m in _LOCK_MESSAGES):
                    raise VectorStoreError(f"cannot open vector database {self.database}: {exc}") from exc
                time.sleep(min(0.05 * 2**attempt, 1.0))
        try:
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
            yield con
        finally:
            con.close()

    def _exists(self) -> bool:
        self._check_config()
        return Path(self.database).exists()

    def _table_dimension(self, con: duckdb.DuckDBPyConnection) -> int | None:
        rows = _fetch(
            con,
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? AND column_name = 'embedding'",
            [self.table],
        )
        if not rows:
            return None
        row = rows[0]
        match = re.fullmatch(r"FLOAT\[(\d+)\]", row[0])
        if not match:
            raise VectorStoreError(f"{self.database}: column {self.table}.embedding has type {row[0]}")
        return int(match.group(1))

    def _ensure_table(self, con: duckdb.DuckDBPyConnection) -> bool:
        """True if the table exists with our dimension (False: no table); raises on a dimension mismatch."""
        existing = self._table_dimension(con)
        if existing is not None and existing != self.dimension:
            raise VectorStoreError(
                f"{self.database}: table {self.table} holds {existing}-dim vectors but the store is configured "
                f"for {self.dimension}; use another table/database or delete it and re-embed"
            )
        return existing is not None

    def _create_table(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self._ensure_table(con):
            _fetch(
                con,
                f"""CREATE TABLE IF NOT EXISTS {self.table} (
                    id VARCHAR NOT NULL,
                    embedding FLOAT[{self.dimension}] NOT NULL,
                    document_id VARCHAR,
                    chunk_index INTEGER,
                    source VARCHAR,
                    url VARCHAR,
                    title VARCHAR,
                    text VARCHAR,
                    content_hash VARCHAR,
                    updated_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
                )""",
            )

    def upsert_batch(self, batch: VectorBatch) -> int:
        if not len(batch):
            return 0
        arrays: dict[str, pa.Array] = {
            "id": pa.array(batch.ids, pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(batch.matrix.reshape(-1)), self.dimension),
        }
        for key in METADATA_FIELDS:
            kind = pa.int32() if key == "chunk_index" else pa.string()
            arrays[key] = pa.array(batch.metadata[key], kind)
        incoming = pa.table(arrays)
        columns = list(arrays)
        updates = ", ".join(f"{c} = s.{c}" for c in columns[1:])
        with self._connect() as con:
            self._create_table(con)
            con.register("incoming_vectors", incoming)
            # No PRIMARY KEY on purpose: maintaining its index made re-upserting 30k rows ~5x slower
            # (DuckDB 2.0). Ids stay unique because incoming ids are de-duplicated and MERGE matches on id.
            _fetch(
                con,
                f"MERGE INTO {self.table} AS t "
                f"USING (SELECT id, embedding::FLOAT[{self.dimension}] AS embedding, "
                f"{', '.join(METADATA_FIELDS)} FROM incoming_vectors) AS s ON t.id = s.id "
                f"WHEN MATCHED THEN UPDATE SET {updates}, updated_at = now() "
                f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) VALUES ({', '.join('s.' + c for c in columns)})",
            )
        return len(batch)

    def delete(self, ids: Sequence[str]) -> int:
        unique = list(dict.fromkeys(ids))
        if not unique or not self._exists():
            return 0
        with self._connect() as con:
            if not self._ensure_table(con):
                return 0
            con.register("ids_to_delete", pa.table({"id": pa.array(unique, pa.string())}))
            rows = _fetch(con, f"DELETE FROM {self.table} WHERE id IN (SELECT id FROM ids_to_delete)")
        return int(rows[0][0]) if rows else 0

    def _signature(self) -> tuple[tuple[int, int] | None, ...]:
        """(mtime, size) of the database file and its WAL: any committed write changes one of them."""
        out = []
        for path in (Path(self.database), Path(self.database + ".wal")):
            try:
                st = path.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    def _snapshot(self) -> _Snapshot | None:
        """Every vector and its metadata in memory, reloaded when the file changed (None: no table yet)."""
        key = (str(Path(self.database).resolve()), self.table)
        signature = self._signature()
        cached = _SNAPSHOTS.get(key)
        if cached is not None and cached.signature == signature and cached.dimension == self.dimension:
            return cached
        with self._connect() as con:
            if not self._ensure_table(con):
                return None
            # No ORDER BY: sorting ~100k rows with their text inside the store's memory_limit runs out of memory;
            # the scan streams, and ties in the top-k are ordered by id in `query` anyway.
            table = con.sql(f"SELECT id, embedding, {', '.join(METADATA_FIELDS)} FROM {self.table}").to_arrow_table()
        flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        matrix = np.asarray(flat, dtype=np.float32).reshape(-1, self.dimension)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        snapshot = _Snapshot(
            signature=signature,
            dimension=self.dimension,
            ids=table.column("id").to_pylist(),
            unit=matrix / np.where(norms == 0, 1, norms),
            sources=np.asarray(table.column("source").to_pylist(), dtype=object),
            # One chunk per column: `take` on DuckDB's many small batches took ~40 ms per query at 100k rows.
            metadata=table.select(list(METADATA_FIELDS)).combine_chunks(),
        )
        _SNAPSHOTS[key] = snapshot
        return snapshot

    def query(self, vector: np.ndarray, top_k: int = 5, source: str | None = None) -> list[VectorMatch]:
        """Exact cosine top-k from an in-memory copy of the table (loaded on first use, reloaded after writes)."""
        query = prepare_query(vector, self.dimension, top_k)
        if not self._exists():
            return []
        snapshot = self._snapshot()
        if snapshot is None or not snapshot.ids:
            return []
        scores = snapshot.unit @ (query / np.linalg.norm(query))
        rows = np.arange(len(snapshot.ids)) if source is None else np.flatnonzero(snapshot.sources == source)
        if rows.size > top_k:
            rows = rows[np.argpartition(-scores[rows], top_k - 1)[:top_k]]
        ordered = sorted(rows.tolist(), key=lambda row: (-scores[row], snapshot.ids[row]))
        metadata = snapshot.metadata.take(pa.array(ordered, pa.int64())).to_pylist()
        return [
            VectorMatch(snapshot.ids[row], float(scores[row]), meta)
            for row, meta in zip(ordered, metadata, strict=True)
        ]

    def count(self) -> int:
        if not self._exists():
            return 0
        with self._connect() as con:
            if not self._ensure_table(con):
                return 0
            rows = _fetch(con, f"SELECT count(*) FROM {self.table}")
        return int(rows[0][0])

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "duckdb",
            "database": self.database,
            "table": self.table,
            "dimension": self.dimension,
            "count": self.count(),
        }
