"""Production vector store: a Pinecone serverless index through the official SDK, within its request limits."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from pydantic import Field

from resources.vector_store import (
    VectorBatch,
    VectorMatch,
    VectorStore,
    VectorStoreError,
    normalize_metadata,
    prepare_query,
)

PINECONE_MAX_BATCH_VECTORS = 1000
PINECONE_MAX_REQUEST_BYTES = 2 * 1024 * 1024
PINECONE_MAX_METADATA_BYTES = 40 * 1024
PINECONE_MAX_DELETE_IDS = 1000
_REQUEST_OVERHEAD_BYTES = 1024  # {"vectors":[...],"namespace":"..."} around the vectors, generously


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

    def upsert_batch(self, batch: VectorBatch) -> int:
        if not len(batch):
            return 0
        vectors = [
            {"id": vid, "values": values, "metadata": pinecone_metadata(meta)}
            for vid, values, meta in zip(batch.ids, pinecone_values(batch.matrix), batch.rows(), strict=True)
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
        query = prepare_query(vector, self.dimension, top_k)
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
