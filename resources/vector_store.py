"""The vector store interface for chunk embeddings and the record helpers every backend shares.

Backends: `resources.duckdb_vector_store` (local) and `resources.pinecone_vector_store` (production).

Every record carries the same metadata (`METADATA_FIELDS`); keys outside it are dropped, missing ones read
back as None, so search results look the same whichever backend served them. Scores are cosine similarity.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

METADATA_FIELDS = ("document_id", "chunk_index", "source", "url", "title", "text", "content_hash")
SNIPPET_MAX_CHARS = 1000
_METADATA_TYPES = {"chunk_index": "int"}

VECTOR_RECORD_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("id", "string", description="chunk_id", constraints=dg.TableColumnConstraints(unique=True)),
        dg.TableColumn("values", "float[dimension]", description="L2-normalised embedding (cosine = dot product)"),
        *(dg.TableColumn(name, _METADATA_TYPES.get(name, "string")) for name in METADATA_FIELDS),
    ]
)
TITLE_MAX_CHARS = 1000


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


def normalize_metadata(metadata: dict[str, Any], fields: Sequence[str] = METADATA_FIELDS) -> dict[str, Any]:
    """Exactly the `fields` keys: missing → None, text cut to a snippet, title cut, chunk_index an int."""
    out = {key: metadata.get(key) for key in fields}
    if isinstance(out["text"], str):
        out["text"] = out["text"][:SNIPPET_MAX_CHARS]
    if isinstance(out["title"], str):
        out["title"] = out["title"][:TITLE_MAX_CHARS]
    if out["chunk_index"] is not None:
        out["chunk_index"] = int(out["chunk_index"])
    return out


def check_id(vector_id: object) -> None:
    if not isinstance(vector_id, str) or not 0 < len(vector_id) <= 512:
        raise ValueError(f"vector id must be a 1-512 character string, got {vector_id!r}")


def check_matrix(matrix: np.ndarray, ids: Sequence[str], dimension: int) -> None:
    """One finite, non-zero row of `dimension` components per id."""
    if matrix.ndim != 2 or matrix.shape != (len(ids), dimension):
        raise ValueError(f"vectors must have {dimension} components, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("vectors must not contain NaN or infinity")
    zero = np.flatnonzero(~matrix.any(axis=1))
    if zero.size:
        raise ValueError(f"vector {ids[zero[0]]!r} is all zeros (cosine similarity is undefined)")


def prepare_records(records: Sequence[VectorRecord], dimension: int) -> tuple[list[str], np.ndarray, list[dict]]:
    """Validated (ids, float32 matrix, normalised metadata); for a repeated id the last record wins."""
    latest: dict[str, int] = {}
    for index, record in enumerate(records):
        check_id(record.id)
        latest[record.id] = index
    keep = sorted(latest.values())
    ids = [records[i].id for i in keep]
    if not keep:
        return ids, np.zeros((0, dimension), dtype=np.float32), []
    try:
        matrix = np.stack([np.asarray(records[i].values, dtype=np.float32) for i in keep])
    except ValueError as exc:
        raise ValueError(f"vectors must all have {dimension} components") from exc
    check_matrix(matrix, ids, dimension)
    return ids, matrix, [normalize_metadata(records[i].metadata) for i in keep]


def _plain(value: Any) -> Any:
    """SQL NULLs arrive from pandas as NaN/NA: metadata wants None."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


@dataclass(frozen=True, slots=True)
class VectorBatch:
    """Records in columns: ids, a float32 (n, dimension) matrix, and one list per `METADATA_FIELDS` key.

    Built once and validated once; backends that load columns (DuckDB, via Arrow) skip per-record objects.
    """

    ids: list[str]
    matrix: np.ndarray
    metadata: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_records(cls, records: Sequence[VectorRecord], dimension: int) -> VectorBatch:
        ids, matrix, metadata = prepare_records(records, dimension)
        return cls(ids, matrix, {key: [m[key] for m in metadata] for key in METADATA_FIELDS})

    @classmethod
    def from_columns(
        cls, ids: Sequence[str], matrix: np.ndarray, metadata: Mapping[str, Sequence[Any]], dimension: int
    ) -> VectorBatch:
        """Validate like `prepare_records` (ids, shape, finite, non-zero; the last of a repeated id wins)."""
        for vid in ids:
            check_id(vid)
        matrix = np.asarray(matrix, dtype=np.float32)
        check_matrix(matrix, ids, dimension)
        keep = sorted({vid: n for n, vid in enumerate(ids)}.values())
        columns: dict[str, list[Any]] = {}
        for key in METADATA_FIELDS:
            source = metadata.get(key)
            values = [None] * len(keep) if source is None else [_plain(source[n]) for n in keep]
            if key in ("text", "title"):
                limit = SNIPPET_MAX_CHARS if key == "text" else TITLE_MAX_CHARS
                values = [v[:limit] if isinstance(v, str) else v for v in values]
            elif key == "chunk_index":
                values = [None if v is None else int(v) for v in values]
            columns[key] = values
        return cls([ids[n] for n in keep], matrix[keep], columns)

    def rows(self) -> list[dict[str, Any]]:
        """Per-record metadata dicts (for backends that send records one by one, e.g. as JSON)."""
        return [dict(zip(METADATA_FIELDS, values, strict=True)) for values in zip(*self.metadata.values(), strict=True)]


def prepare_query(vector: np.ndarray | Sequence[float], dimension: int, top_k: int) -> np.ndarray:
    """The query as a validated float32 vector of `dimension` components (and `top_k` checked)."""
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

    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep one connection for the calls made inside the block (a stage's writes). Default: nothing held."""
        yield

    def upsert(self, records: Sequence[VectorRecord]) -> int:
        """Insert or replace records by id; returns how many were written."""
        return self.upsert_batch(VectorBatch.from_records(records, self.dimension))

    def upsert_batch(self, batch: VectorBatch) -> int:  # pragma: no cover - interface
        """Insert or replace a validated columnar batch by id; returns how many were written."""
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
