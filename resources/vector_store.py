"""Vector stores for chunk embeddings: one interface, DuckDB locally, Pinecone in production.

Every record carries the same metadata (`METADATA_FIELDS`); keys outside it are dropped, missing ones read
back as None, so search results look the same whichever backend served them. Scores are cosine similarity.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import numpy as np
import pyarrow as pa
from pydantic import Field

from sophia_pipelines.domain.chunking import Chunk

METADATA_FIELDS = ("document_id", "chunk_index", "source", "url", "title", "text", "content_hash")
SNIPPET_MAX_CHARS = 1000
TITLE_MAX_CHARS = 1000

PINECONE_MAX_BATCH_VECTORS = 1000
PINECONE_MAX_REQUEST_BYTES = 2 * 1024 * 1024
PINECONE_MAX_METADATA_BYTES = 40 * 1024
PINECONE_MAX_DELETE_IDS = 1000
_REQUEST_OVERHEAD_BYTES = 1024  # {"vectors":[...],"namespace":"..."} around the vectors, generously


class VectorStoreError(RuntimeError):
    """A vector store cannot do what was asked (misconfigured, incompatible, unreachable)."""


@dataclass(frozen=True, slots=True)
class VectorRecord:
    id: str
    values: np.ndarray | list[float]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VectorMatch:
    id: str
    score: float
    metadata: dict[str, Any]


def chunk_record(
    chunk: Chunk, values: np.ndarray | list[float], *, source: str, url: str | None, title: str | None
) -> VectorRecord:
    """The record for one embedded chunk (text kept as a ≤ 1,000-char snippet)."""
    return VectorRecord(
        id=chunk.chunk_id,
        values=values,
        metadata={
            "document_id": chunk.document_id,
            "chunk_index": chunk.chunk_index,
            "source": source,
            "url": url,
            "title": title,
            "text": chunk.text[:SNIPPET_MAX_CHARS],
            "content_hash": chunk.content_hash,
        },
    )


def normalize_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Exactly the METADATA_FIELDS keys: missing → None, text cut to a snippet, chunk_index an int."""
    out = {key: metadata.get(key) for key in METADATA_FIELDS}
    if isinstance(out["text"], str):
        out["text"] = out["text"][:SNIPPET_MAX_CHARS]
    if isinstance(out["title"], str):
        out["title"] = out["title"][:TITLE_MAX_CHARS]
    if out["chunk_index"] is not None:
        out["chunk_index"] = int(out["chunk_index"])
    return out


def prepare_records(records: Sequence[VectorRecord], dimension: int) -> tuple[list[str], np.ndarray, list[dict]]:
    """Validated (ids, float32 matrix, normalised metadata); for a repeated id the last record wins."""
    latest: dict[str, int] = {}
    for index, record in enumerate(records):
        if not isinstance(record.id, str) or not 0 < len(record.id) <= 512:
            raise ValueError(f"vector id must be a 1-512 character string, got {record.id!r}")
        latest[record.id] = index
    keep = sorted(latest.values())
    ids = [records[i].id for i in keep]
    if not keep:
        return ids, np.zeros((0, dimension), dtype=np.float32), []
    try:
        matrix = np.stack([np.asarray(records[i].values, dtype=np.float32) for i in keep])
    except ValueError as exc:
        raise ValueError(f"vectors must all have {dimension} components") from exc
    if matrix.ndim != 2 or matrix.shape[1] != dimension:
        raise ValueError(f"vectors must have {dimension} components, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("vectors must not contain NaN or infinity")
    zero = np.flatnonzero(~matrix.any(axis=1))
    if zero.size:
        raise ValueError(f"vector {ids[zero[0]]!r} is all zeros (cosine similarity is undefined)")
    return ids, matrix, [normalize_metadata(records[i].metadata) for i in keep]


def _query_vector(vector: np.ndarray | Sequence[float], dimension: int, top_k: int) -> np.ndarray:
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    if query.shape != (dimension,):
        raise ValueError(f"query vector must have {dimension} components, got {query.shape[0]}")
    if not np.isfinite(query).all() or not query.any():
        raise ValueError("query vector must be finite and not all zeros")
    return query


class VectorStore(dg.ConfigurableResource):
    """Base class: upsert/delete/query chunk vectors of a fixed `dimension`."""

    dimension: int

    def upsert(self, records: Sequence[VectorRecord]) -> int:  # pragma: no cover - interface
        """Insert or replace records by id; returns how many were written."""
        raise NotImplementedError

    def delete(self, ids: Sequence[str]) -> int:  # pragma: no cover - interface
        """Remove records by id (unknown ids are ignored); returns how many were deleted or submitted."""
        raise NotImplementedError

    def query(
        self, vector: np.ndarray, top_k: int = 5, source: str | None = None
    ) -> list[VectorMatch]:  # pragma: no cover - interface
        """The `top_k` most cosine-similar records, best first, optionally only from one `source`."""
        raise NotImplementedError

    def count(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:  # pragma: no cover - interface
        """Plain values for asset metadata: backend, dimension, count, and where the vectors live."""
        raise NotImplementedError


# --- local: DuckDB -----------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_LOCK_MESSAGES = ("Could not set lock", "Conflicting lock")


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Execute and read every row (DuckDB 2 refuses other work on a connection with an unfinished result)."""
    return con.execute(sql, params or []).fetchall()


class DuckDBVectorStore(VectorStore):
    """Vectors in a DuckDB table (`embedding FLOAT[dimension]` + metadata columns), brute-force cosine search.

    Each call opens and closes its own connection, so other processes are locked out only while it runs
    (a busy file is retried briefly). Reads never create the file; the table is created on first write.
    Writers are expected to be one at a time (DuckDB's file lock enforces it across processes).
    Exact search: a top-5 query over 30k 256-dim rows takes ~20 ms plus ~15 ms to open the file.
    """

    database: str = Field(description="path of the DuckDB file, e.g. .sophia/vectors.duckdb")
    table: str = "chunk_vectors"
    lock_retries: int = Field(default=20, ge=1, description="attempts while another process holds the file lock")

    def _check_config(self) -> None:
        if not _IDENTIFIER.match(self.table):
            raise VectorStoreError(f"invalid table name {self.table!r}")
        if self.database in ("", ":memory:") or self.database.startswith(":memory:"):
            raise VectorStoreError("DuckDBVectorStore needs a database file (connections are per call)")
        if self.dimension < 1:
            raise VectorStoreError(f"dimension must be positive, got {self.dimension}")

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
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

    def upsert(self, records: Sequence[VectorRecord]) -> int:
        ids, matrix, metadata = prepare_records(records, self.dimension)
        if not ids:
            return 0
        arrays: dict[str, pa.Array] = {
            "id": pa.array(ids, pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), self.dimension),
        }
        for key in METADATA_FIELDS:
            kind = pa.int32() if key == "chunk_index" else pa.string()
            arrays[key] = pa.array([m[key] for m in metadata], kind)
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
        return len(ids)

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

    def query(self, vector: np.ndarray, top_k: int = 5, source: str | None = None) -> list[VectorMatch]:
        query = _query_vector(vector, self.dimension, top_k)
        if not self._exists():
            return []
        where = "WHERE source = ?" if source is not None else ""
        params: list[Any] = [query.tolist()] + ([source] if source is not None else []) + [top_k]
        with self._connect() as con:
            if not self._ensure_table(con):
                return []
            rows = _fetch(
                con,
                f"SELECT id, array_cosine_similarity(embedding, ?::FLOAT[{self.dimension}]) AS score, "
                f"{', '.join(METADATA_FIELDS)} FROM {self.table} {where} "
                f"ORDER BY score DESC, id LIMIT ?",
                params,
            )
        return [VectorMatch(row[0], float(row[1]), dict(zip(METADATA_FIELDS, row[2:], strict=True))) for row in rows]

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


# --- production: Pinecone ----------------------------------------------------------------------------------


def json_size(value: Any) -> int:
    """Bytes of compact UTF-8 JSON (what the SDK sends, give or take exponent notation: never less)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def pinecone_metadata(metadata: dict[str, Any], max_bytes: int = PINECONE_MAX_METADATA_BYTES) -> dict[str, Any]:
    """Metadata Pinecone accepts: the known fields minus nulls, within `max_bytes` of JSON."""
    clean = {k: v for k, v in normalize_metadata(metadata).items() if v is not None}
    size = json_size(clean)
    if size > max_bytes:
        raise ValueError(f"metadata is {size} bytes, over Pinecone's {max_bytes}-byte limit")
    return clean


def pinecone_values(matrix: np.ndarray) -> list[list[float]]:
    """Float lists rounded to 8 decimals: float32-precise, and ~half the JSON size of raw float64 reprs."""
    return np.round(matrix.astype(np.float64), 8).tolist()


def pinecone_batches(
    vectors: list[dict[str, Any]],
    max_vectors: int = PINECONE_MAX_BATCH_VECTORS,
    max_bytes: int = PINECONE_MAX_REQUEST_BYTES,
) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches of ≤ max_vectors vectors whose JSON request body stays ≤ max_bytes."""
    batch: list[dict[str, Any]] = []
    size = _REQUEST_OVERHEAD_BYTES
    for vector in vectors:
        vector_size = json_size(vector) + 1  # + separating comma
        if vector_size + _REQUEST_OVERHEAD_BYTES > max_bytes:
            raise ValueError(f"vector {vector['id']!r} alone is {vector_size} bytes, over the request limit")
        if batch and (len(batch) >= max_vectors or size + vector_size > max_bytes):
            yield batch
            batch, size = [], _REQUEST_OVERHEAD_BYTES
        batch.append(vector)
        size += vector_size
    if batch:
        yield batch


class PineconeVectorStore(VectorStore):
    """A Pinecone serverless index (one namespace of it), through the official `pinecone` SDK.

    Upserts go out in requests of ≤ 1,000 vectors and ≤ 2 MB, deletes in ≤ 1,000 ids. No retry loop here: the
    SDK (10.x) already retries 408/429/5xx and connection errors 3 times with jittered backoff, honouring
    Retry-After (not configurable for the data plane), and failures surface as VectorStoreError.
    `delete` returns the number of ids submitted (Pinecone does not report how many existed); `count` reads
    `describe_index_stats`, which is eventually consistent on a real index.
    """

    api_key: str = Field(repr=False, description="Pinecone API key (from an EnvVar)")
    index_host: str = Field(description="the index's data-plane host, e.g. https://sophia-abc123.svc.pinecone.io")
    namespace: str = "default"
    timeout_seconds: float = 30.0

    @contextmanager
    def _index(self, operation: str) -> Iterator[Any]:
        """The SDK's Index for `index_host`; SDK errors become VectorStoreError naming host and operation."""
        from pinecone import Pinecone
        from pinecone.errors.exceptions import PineconeError

        if not self.api_key:
            raise VectorStoreError("PineconeVectorStore: api_key is empty")
        host = self.index_host if "://" in self.index_host else f"https://{self.index_host}"
        client = Pinecone(api_key=self.api_key, timeout=self.timeout_seconds)
        try:
            with client.Index(host=host) as index:
                yield index
        except PineconeError as exc:
            message = str(exc).replace(self.api_key, "***")
            raise VectorStoreError(f"Pinecone {operation} on {host} failed: {message}") from exc
        finally:
            client.close()

    def upsert(self, records: Sequence[VectorRecord]) -> int:
        ids, matrix, metadata = prepare_records(records, self.dimension)
        if not ids:
            return 0
        vectors = [
            {"id": vid, "values": values, "metadata": pinecone_metadata(meta)}
            for vid, values, meta in zip(ids, pinecone_values(matrix), metadata, strict=True)
        ]
        written = 0
        with self._index("upsert") as index:
            self._check_dimension(index)
            for batch in pinecone_batches(vectors):
                response = index.upsert(vectors=batch, namespace=self.namespace)
                written += int(response.upserted_count)
        return written

    def _check_dimension(self, index: Any) -> None:
        dimension = index.describe_index_stats().dimension
        if dimension is not None and dimension != self.dimension:
            raise VectorStoreError(
                f"Pinecone index {self.index_host} has dimension {dimension}, store configured for {self.dimension}"
            )

    def delete(self, ids: Sequence[str]) -> int:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        with self._index("delete") as index:
            for start in range(0, len(unique), PINECONE_MAX_DELETE_IDS):
                index.delete(ids=unique[start : start + PINECONE_MAX_DELETE_IDS], namespace=self.namespace)
        return len(unique)

    def query(self, vector: np.ndarray, top_k: int = 5, source: str | None = None) -> list[VectorMatch]:
        query = _query_vector(vector, self.dimension, top_k)
        flt = {"source": {"$eq": source}} if source is not None else None
        with self._index("query") as index:
            response = index.query(
                vector=pinecone_values(query[None, :])[0],
                top_k=min(top_k, 10_000),
                namespace=self.namespace,
                filter=flt,
                include_metadata=True,
                include_values=False,
            )
        return [
            VectorMatch(m.id, float(m.score), normalize_metadata(dict(m.metadata or {})))
            for m in response.matches
            if m.score is not None and math.isfinite(m.score)
        ]

    def _stats(self) -> Any:
        with self._index("describe_index_stats") as index:
            return index.describe_index_stats()

    def _namespace_count(self, stats: Any) -> int:
        keys = ("", "__default__") if self.namespace in ("", "__default__") else (self.namespace,)
        for key in keys:
            summary = stats.namespaces.get(key)
            if summary is not None:
                return int(summary.vector_count)
        return 0

    def count(self) -> int:
        return self._namespace_count(self._stats())

    def describe(self) -> dict[str, Any]:
        stats = self._stats()
        return {
            "backend": "pinecone",
            "index_host": self.index_host,
            "namespace": self.namespace,
            "dimension": self.dimension,
            "index_dimension": stats.dimension,
            "count": self._namespace_count(stats),
            "index_total_count": int(stats.total_vector_count),
        }
