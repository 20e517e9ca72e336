"""The vector store interface for chunk embeddings and the record helpers every backend shares.

Backends: `resources.duckdb_vector_store` (local) and `resources.pinecone_vector_store` (production).

Every record carries the same metadata (`METADATA_FIELDS`); keys outside it are dropped, missing ones read
back as None, so search results look the same whichever backend served them. Scores are cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import numpy as np

from sophia_pipelines.domain.chunking import Chunk

METADATA_FIELDS = ("document_id", "chunk_index", "source", "url", "title", "text", "content_hash")
SNIPPET_MAX_CHARS = 1000
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
