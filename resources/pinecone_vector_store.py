"""Production vector store: a Pinecone serverless index through the official SDK, within its request limits."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from resources.bm25_index import query_sparse
from resources.bm25_segments import sparse_vectors
from resources.http_retry import (
    Failure,
    PermanentError,
    RetryPolicy,
    call_with_retry,
    classify_httpx,
    classify_status,
)
from resources.lexical_store import CorpusStatsFn, LexicalStore, epoch_seconds, lexical_metadata
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
PINECONE_MAX_TOP_K = 10_000  # the most matches one query returns
_REQUEST_OVERHEAD_BYTES = 1024  # {"vectors":[...],"namespace":"..."} around the vectors, generously

T = TypeVar("T")
_log = dg.get_dagster_logger("resources.pinecone_vector_store")


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


class PermanentVectorStoreError(PermanentError, VectorStoreError):
    """A vector store call failed in a way a retry cannot fix (bad key, bad request, wrong dimension)."""


def classify_pinecone(exc: BaseException) -> Failure | None:
    """The SDK's errors in the shared classification (resources/http_retry.py); None: permanent."""
    from pinecone.errors.exceptions import (
        ApiError,
        PineconeConnectionError,
        PineconeTimeoutError,
        RateLimitError,
    )

    if isinstance(exc, ApiError):
        retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
        return classify_status(exc.status_code, str(exc.message), retry_after)
    if isinstance(exc, PineconeTimeoutError):
        return Failure("timeout", True)
    if isinstance(exc, PineconeConnectionError):  # the SDK wraps httpx's transport errors
        cause = classify_httpx(exc.__cause__) if exc.__cause__ is not None else None
        return cause or Failure(f"connection error ({type(exc).__name__})", True)
    return None


class PineconeIndexResource(dg.ConfigurableResource):
    """One Pinecone index (one namespace of it) through the official SDK, each call under the shared retry policy."""

    api_key: str = Field(repr=False, description="Pinecone API key (from an EnvVar)")
    index_host: str = Field(description="the index's data-plane host, e.g. https://sophia-abc123.svc.pinecone.io")
    namespace: str = "default"
    timeout_seconds: float = 30.0
    max_attempts: int = Field(default=4, ge=1, description="tries per call, on top of the SDK's own retries")
    retry_base_delay_seconds: float = Field(default=1.0, ge=0)
    retry_max_delay_seconds: float = Field(default=30.0, ge=0)
    max_retry_seconds: float = Field(default=180.0, ge=0, description="give up retrying a call after this long")

    @property
    def _host(self) -> str:
        return self.index_host if "://" in self.index_host else f"https://{self.index_host}"

    def _policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            base_delay=self.retry_base_delay_seconds,
            max_delay=self.retry_max_delay_seconds,
            max_elapsed=self.max_retry_seconds,
        )

    @contextmanager
    def _index(self, operation: str) -> Iterator[Any]:
        """The SDK's Index for `index_host`; SDK errors become VectorStoreError naming host and operation."""
        from pinecone import Pinecone
        from pinecone.errors.exceptions import PineconeError

        if not self.api_key:
            raise PermanentVectorStoreError(f"{type(self).__name__}: api_key is empty")
        client = Pinecone(api_key=self.api_key, timeout=self.timeout_seconds)
        try:
            with client.Index(host=self._host) as index:
                yield index
        except PineconeError as exc:  # raised outside `_call`, e.g. while building the client
            failure = classify_pinecone(exc)
            kind = VectorStoreError if failure is not None and failure.retryable else PermanentVectorStoreError
            message = str(exc).replace(self.api_key, "***")
            raise kind(f"Pinecone {operation} on {self._host} failed: {message}") from None
        finally:
            client.close()

    def _call(self, operation: str, fn: Callable[[], T]) -> T:
        """One SDK call with the shared transient/permanent handling; errors name the call and the host."""
        return call_with_retry(
            fn,
            source="Pinecone",
            operation=f"{operation} on {self._host}",
            policy=self._policy(),
            classify=classify_pinecone,
            secrets=[self.api_key],
            logger=_log,
            error=VectorStoreError,
            permanent_error=PermanentVectorStoreError,
        )

    def _delete_ids(self, index: Any, ids: Sequence[str]) -> None:
        """Delete `ids` (distinct) through `index`, at most PINECONE_MAX_DELETE_IDS per request."""
        for start in range(0, len(ids), PINECONE_MAX_DELETE_IDS):
            chunk = ids[start : start + PINECONE_MAX_DELETE_IDS]
            self._call("delete", lambda chunk=chunk: index.delete(ids=chunk, namespace=self.namespace))

    def _query_matches(self, top_k: int, flt: dict[str, Any] | None, **vector: Any) -> list[Any]:
        """The matches of one query (`vector=` or `sparse_vector=`), with metadata and without values."""
        with self._index("query") as index:
            response = self._call(
                "query",
                lambda: index.query(
                    **vector,
                    top_k=min(top_k, PINECONE_MAX_TOP_K),
                    namespace=self.namespace,
                    filter=flt,
                    include_metadata=True,
                    include_values=False,
                ),
            )
        return [m for m in response.matches if m.score is not None and math.isfinite(m.score)]

    def _stats(self) -> Any:
        with self._index("describe_index_stats") as index:
            return self._call("describe_index_stats", index.describe_index_stats)

    def _namespace_count(self, stats: Any) -> int:
        keys = ("", "__default__") if self.namespace in ("", "__default__") else (self.namespace,)
        for key in keys:
            summary = stats.namespaces.get(key)
            if summary is not None:
                return int(summary.vector_count)
        return 0

    def count(self) -> int:
        return self._namespace_count(self._stats())


class PineconeVectorStore(PineconeIndexResource, VectorStore):
    """A Pinecone serverless index (one namespace of it), through the official `pinecone` SDK.

    Upserts go out in requests of ≤ 1,000 vectors and ≤ 2 MB, deletes in ≤ 1,000 ids. The SDK (10.x) retries
    408/429/500/502/503/504 and connection errors itself, 3 times per request, unless its per-host retry budget
    (a token bucket drained by failures) is spent; it is not configurable for the data plane. So every call
    (upsert, delete, query, describe) also goes through the shared `call_with_retry` (resources/http_retry.py):
    transient faults (also 425 and every 5xx) get `max_attempts` tries within `max_retry_seconds`, permanent
    ones fail at once as `PermanentVectorStoreError`. Upserts and deletes by id are idempotent, so repeating one
    is safe. `delete` returns the number of ids submitted (Pinecone does not report how many existed); `count`
    reads `describe_index_stats`, which is eventually consistent on a real index.
    """

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
            for request in pinecone_batches(vectors):
                response = self._call(
                    "upsert", lambda request=request: index.upsert(vectors=request, namespace=self.namespace)
                )
                written += int(response.upserted_count)
        return written

    def _check_dimension(self, index: Any) -> None:
        dimension = self._call("describe_index_stats", index.describe_index_stats).dimension
        if dimension is not None and dimension != self.dimension:
            raise PermanentVectorStoreError(
                f"Pinecone index {self.index_host} has dimension {dimension}, store configured for {self.dimension}"
            )

    def delete(self, ids: Sequence[str]) -> int:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        with self._index("delete") as index:
            self._delete_ids(index, unique)
        return len(unique)

    def query(self, vector: np.ndarray, top_k: int = 5, source: str | None = None) -> list[VectorMatch]:
        query = prepare_query(vector, self.dimension, top_k)
        flt = {"source": {"$eq": source}} if source is not None else None
        matches = self._query_matches(top_k, flt, vector=pinecone_values(query[None, :])[0])
        return [VectorMatch(m.id, float(m.score), normalize_metadata(dict(m.metadata or {}))) for m in matches]

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


def pinecone_lexical_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Lexical metadata as Pinecone stores it: no nulls, the date as `published_ts` (epoch seconds, filterable)."""
    clean = {k: v for k, v in lexical_metadata(metadata).items() if v is not None}
    when = clean.pop("published_at", None)
    if when is not None:
        clean["published_ts"] = epoch_seconds(when)
    size = json_size(clean)
    if size > PINECONE_MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {size} bytes, over Pinecone's {PINECONE_MAX_METADATA_BYTES}-byte limit")
    return clean


def lexical_from_pinecone(metadata: dict[str, Any]) -> dict[str, Any]:
    """Back to LEXICAL_FIELDS (the date a UTC datetime again)."""
    out = dict(metadata)
    stamp = out.pop("published_ts", None)
    out["published_at"] = None if stamp is None else datetime.fromtimestamp(float(stamp), UTC)
    return lexical_metadata(out)


class PineconeLexicalStore(PineconeIndexResource, LexicalStore):
    """BM25 on a Pinecone *sparse* index (vector type sparse, metric dotproduct), beside the dense index.

    A chunk's record is its BM25 weights (idf x tf component, `resources/bm25_segments.py::sparse_vectors`) under
    the corpus statistics the write is given (`stats`: N, average length and the df of the written chunks' terms,
    computed by the lexical stage over its ledger without holding the corpus), tokens hashed to 32-bit indices; a
    query is 1.0 per query token, so Pinecone's dot product is the BM25 score in that corpus. Only changed chunks
    are upserted: unchanged chunks keep the idf and average length of the write they were indexed with (they drift
    slowly as the corpus grows). Chunks without tokens are not stored. Same request limits and retry handling as
    the dense store; dates are filtered server-side on `published_ts`.
    """

    def _write(
        self, upserts: pa.Table, tokens: pa.ListArray, deletes: Sequence[str], stats: CorpusStatsFn | None
    ) -> int:
        vectors, empty = [], []
        if upserts.num_rows:
            if stats is None:
                raise ValueError("PineconeLexicalStore.write needs corpus statistics (stats) to weight chunks")
            terms = pc.unique(pc.list_flatten(tokens))
            sparse_rows = sparse_vectors(tokens, stats(terms))
            for record, sparse in zip(upserts.to_pylist(), sparse_rows, strict=True):
                if not sparse.indices:
                    empty.append(record["id"])
                    continue
                vectors.append(
                    {
                        "id": record["id"],
                        "sparse_values": sparse.as_dict(),
                        "metadata": pinecone_lexical_metadata(record),
                    }
                )
        written = 0
        with self._index("upsert") as index_client:
            for request in pinecone_batches(vectors):
                response = self._call(
                    "upsert", lambda request=request: index_client.upsert(vectors=request, namespace=self.namespace)
                )
                written += int(response.upserted_count)
            self._delete_ids(index_client, list(dict.fromkeys([*deletes, *empty])))
        return written

    def _query(
        self, tokens: Sequence[str], top_k: int, source: str | None, since: datetime | None, until: datetime | None
    ) -> list[VectorMatch]:
        sparse = query_sparse(tokens)
        if not sparse.indices:
            return []
        conditions: list[dict[str, Any]] = []
        if source is not None:
            conditions.append({"source": {"$eq": source}})
        if since is not None:
            conditions.append({"published_ts": {"$gte": epoch_seconds(since)}})
        if until is not None:
            conditions.append({"published_ts": {"$lte": epoch_seconds(until)}})
        flt = None if not conditions else conditions[0] if len(conditions) == 1 else {"$and": conditions}
        matches = self._query_matches(top_k, flt, sparse_vector=sparse.as_dict())
        return [
            VectorMatch(m.id, float(m.score), lexical_from_pinecone(dict(m.metadata or {})))
            for m in matches
            if m.score > 0
        ]

    def fetch(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        unique = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        if not unique:
            return found
        with self._index("fetch") as index:
            for start in range(0, len(unique), PINECONE_MAX_DELETE_IDS):
                chunk = unique[start : start + PINECONE_MAX_DELETE_IDS]
                response = self._call("fetch", lambda chunk=chunk: index.fetch(ids=chunk, namespace=self.namespace))
                for vid, vector in response.vectors.items():
                    found[vid] = lexical_from_pinecone(dict(vector.metadata or {}))
        return found

    @property
    def location(self) -> str:
        return f"{self._host}/{self.namespace}"

    def describe(self) -> dict[str, Any]:
        stats = self._stats()
        return {
            "backend": "pinecone-sparse",
            "index_host": self.index_host,
            "namespace": self.namespace,
            "count": self._namespace_count(stats),
        }
