"""A local stand-in for a Pinecone index's data plane (REST), for the real `pinecone` SDK to talk to.

A dense index (`vector_type="dense"`, metric cosine or dotproduct) or a sparse one (`vector_type="sparse"`, metric
dotproduct: records carry only `sparseValues`, queries only `sparseVector`), as Pinecone documents them; sparse
values on a dense index need metric dotproduct (then a query's score adds the sparse dot product).
Implements `POST /vectors/upsert`, `POST /query` (exact cosine or dot product, metadata filters
$eq/$ne/$in/$nin/$gt/$gte/$lt/$lte/$and/$or), `POST /vectors/delete`, `POST|GET /describe_index_stats` and `GET
/vectors/fetch` with the documented JSON shapes, and enforces the documented limits: Api-Key header, ≤ 1000 vectors
and ≤ 2 MB per upsert, index dimension, no null metadata values, ≤ 40 KB metadata per vector, ≤ 1000 ids per delete,
topK ≤ 10000.
Like Pinecone it stores metadata numbers as floats (a chunk_index of 3 comes back as 3.0). Every request is
recorded so tests can check batch sizes and bodies; `fail_next` makes the next calls fail (429/503) and
`fail_randomly` a seeded share of them (a dropped connection is recorded with status 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from .http import RecordedRequest, Reply, StandinServer

MAX_UPSERT_VECTORS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 40 * 1024
MAX_DELETE_IDS = 1000
MAX_TOP_K = 10_000
DEFAULT_NAMESPACE = "__default__"


@dataclass
class PineconeRequest:
    method: str
    path: str
    size: int
    body: Any
    api_key: str | None
    api_version: str | None
    status: int = 200


class _Reject(Exception):
    def __init__(self, status: int, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_RANGE = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _matches(metadata: dict[str, Any], flt: dict[str, Any] | None) -> bool:
    if not flt:
        return True
    for key, condition in flt.items():
        if key == "$and":
            ok = all(_matches(metadata, sub) for sub in condition)
        elif key == "$or":
            ok = any(_matches(metadata, sub) for sub in condition)
        else:
            value = metadata.get(key)
            ops = condition if isinstance(condition, dict) else {"$eq": condition}
            ok = True
            for op, arg in ops.items():
                if op == "$eq":
                    ok &= value == arg
                elif op == "$ne":
                    ok &= value != arg
                elif op == "$in":
                    ok &= value in arg
                elif op == "$nin":
                    ok &= value not in arg
                elif op in _RANGE:
                    ok &= isinstance(value, int | float) and _RANGE[op](value, arg)
                else:
                    raise _Reject(400, f"unsupported filter operator {op}")
        if not ok:
            return False
    return True


def _store_metadata(vector_id: str, metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise _Reject(400, f"Metadata for vector {vector_id} must be an object")
    size = len(json.dumps(metadata, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise _Reject(
            400, f"Metadata size is {size} bytes, which exceeds the limit of {MAX_METADATA_BYTES} bytes per vector"
        )
    stored: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None:
            raise _Reject(400, f"Invalid value for metadata field {key!r} of vector {vector_id}: null is not allowed")
        if isinstance(value, bool | str):
            stored[key] = value
        elif isinstance(value, int | float):
            stored[key] = float(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            stored[key] = value
        else:
            raise _Reject(400, f"Invalid value type for metadata field {key!r} of vector {vector_id}")
    return stored


@dataclass
class PineconeStandin(StandinServer):
    """Context manager: one dense cosine index on 127.0.0.1:<free port> in a background thread.

    `requests` holds a `PineconeRequest` per call.
    """

    content_type = "application/json"
    protocol_version = "HTTP/1.1"
    dimension: int = 8
    api_key: str = "pc-test-key"
    vector_type: str = "dense"  # or "sparse"
    metric: str = "cosine"  # "dotproduct" for sparse-dense and sparse indexes
    namespaces: dict[str, dict[str, tuple[np.ndarray, dict[str, Any]]]] = field(default_factory=dict)
    sparse: dict[str, dict[str, dict[int, float]]] = field(default_factory=dict)  # namespace -> id -> {index: value}

    def __post_init__(self) -> None:
        super().__init__()
        if self.vector_type == "sparse" and self.metric != "dotproduct":
            raise ValueError("a sparse index has metric dotproduct")

    @property
    def host(self) -> str:
        return self.url

    def fail_next(self, count: int, status: int = 429, retry_after: str | None = "0", *, drop: bool = False) -> None:
        """Answer the next `count` calls (with the right key) with `status`, or drop their connections."""
        super().fail_next(count, status, retry_after, drop=drop)

    def calls(self, path: str, status: int | None = 200) -> list[PineconeRequest]:
        return [r for r in self.requests if r.path == path and (status is None or r.status == status)]

    # --- request handling -----------------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply | None:
        raw = request.body
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        headers = request.headers
        record = PineconeRequest(
            request.method, request.path, len(raw), body, headers.get("api-key"), headers.get("x-pinecone-api-version")
        )
        with self._lock:
            self.requests.append(record)
            try:
                if record.api_key != self.api_key:
                    raise _Reject(401, "Invalid API Key", code=16)
                if failure := self.take_injected(request):
                    record.status = failure.status
                    if failure.drop:
                        return None
                    return Reply(
                        failure.status, {"code": 8, "message": "Too many requests", "details": []}, failure.headers
                    )
                if body is None:
                    raise _Reject(400, "Invalid JSON body")
                payload = self._route(request.method, request.path, parse_qs(request.raw_query), body, len(raw))
                return Reply(200, payload)
            except _Reject as exc:
                record.status = exc.status
                return Reply(exc.status, {"code": exc.code, "message": exc.message, "details": []})

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any, size: int) -> Any:
        if (method, path) == ("POST", "/vectors/upsert"):
            return self._upsert(body, size)
        if (method, path) == ("POST", "/query"):
            return self._query(body)
        if (method, path) == ("POST", "/vectors/delete"):
            return self._delete(body)
        if path == "/describe_index_stats":
            return self._stats()
        if (method, path) == ("GET", "/vectors/fetch"):
            return self._fetch(query)
        raise _Reject(404, f"Not found: {method} {path}", code=5)

    def _namespace(self, body: dict[str, Any]) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
        return self.namespaces.setdefault(body.get("namespace") or DEFAULT_NAMESPACE, {})

    def _upsert(self, body: dict[str, Any], size: int) -> Any:
        if size > MAX_REQUEST_BYTES:
            raise _Reject(400, f"Request size {size} bytes exceeds the maximum supported size of 2MB")
        vectors = body.get("vectors")
        if not isinstance(vectors, list) or not vectors:
            raise _Reject(400, "Missing vectors")
        if len(vectors) > MAX_UPSERT_VECTORS:
            raise _Reject(400, f"Number of vectors ({len(vectors)}) exceeds the maximum of {MAX_UPSERT_VECTORS}")
        staged, staged_sparse = {}, {}
        for vector in vectors:
            vid, values = vector.get("id"), vector.get("values")
            if not isinstance(vid, str) or not 0 < len(vid) <= 512:
                raise _Reject(400, "Vector id must be a string of 1-512 characters")
            sparse = self._sparse_values(vid, vector.get("sparseValues"))
            if self.vector_type == "sparse":
                if values:
                    raise _Reject(400, f"Vector {vid}: a sparse index takes no dense values")
                if not sparse:
                    raise _Reject(400, f"Vector {vid}: sparse vectors must have at least one non-zero value")
                array = np.zeros(0, dtype=np.float32)
            else:
                if sparse is not None and self.metric != "dotproduct":
                    raise _Reject(400, "Sparse values are supported only for indexes with metric dotproduct")
                if not isinstance(values, list) or len(values) != self.dimension:
                    got = len(values) if isinstance(values, list) else "no"
                    raise _Reject(
                        400, f"Vector dimension {got} does not match the dimension of the index {self.dimension}"
                    )
                array = np.asarray(values, dtype=np.float32)
                if not array.any():
                    raise _Reject(400, "Dense vectors must contain at least one non-zero value")
            staged[vid] = (array, _store_metadata(vid, vector.get("metadata")))
            staged_sparse[vid] = sparse or {}
        self._namespace(body).update(staged)
        self.sparse.setdefault(body.get("namespace") or DEFAULT_NAMESPACE, {}).update(staged_sparse)
        return {"upsertedCount": len(vectors)}

    @staticmethod
    def _sparse_values(vid: str, sparse: Any) -> dict[int, float] | None:
        """{index: value} of a sparseValues/sparseVector object (None if absent); validated like Pinecone."""
        if sparse is None:
            return None
        if not isinstance(sparse, dict):
            raise _Reject(400, f"Vector {vid}: sparse values must be an object")
        indices, values = sparse.get("indices"), sparse.get("values")
        if not isinstance(indices, list) or not isinstance(values, list) or len(indices) != len(values):
            raise _Reject(400, f"Vector {vid}: sparse indices and values must be lists of the same length")
        if len(set(indices)) != len(indices):
            raise _Reject(400, f"Vector {vid}: sparse indices must be unique")
        if not all(isinstance(i, int) and 0 <= i < 2**32 for i in indices):
            raise _Reject(400, f"Vector {vid}: sparse indices must be unsigned 32-bit integers")
        return {int(i): float(v) for i, v in zip(indices, values, strict=True)}

    def _query(self, body: dict[str, Any]) -> Any:
        top_k = body.get("topK")
        if not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise _Reject(400, f"topK must be between 1 and {MAX_TOP_K}")
        sparse_query = self._sparse_values("query", body.get("sparseVector"))
        name = body.get("namespace") or DEFAULT_NAMESPACE
        namespace = self.namespaces.get(name, {})
        sparse_rows = self.sparse.get(name, {})
        if self.vector_type == "sparse":
            if body.get("vector") or not sparse_query:
                raise _Reject(400, "A sparse index is queried with a non-empty sparseVector and no dense vector")
            vector = None
        else:
            if sparse_query is not None and self.metric != "dotproduct":
                raise _Reject(400, "Sparse queries need an index with metric dotproduct")
            vector = np.asarray(body.get("vector") or [], dtype=np.float32)
            if vector.shape != (self.dimension,):
                raise _Reject(400, f"Query vector dimension {vector.size} does not match the index {self.dimension}")
        flt = body.get("filter")
        scored = []
        for vid, (values, metadata) in namespace.items():
            if _matches(metadata, flt):
                score = 0.0
                if vector is not None:
                    dot = float(values @ vector)
                    score = (
                        dot
                        if self.metric == "dotproduct"
                        else dot / float(np.linalg.norm(values) * np.linalg.norm(vector))
                    )
                if sparse_query:
                    row = sparse_rows.get(vid, {})
                    score += sum(v * row.get(i, 0.0) for i, v in sparse_query.items())
                scored.append((score, vid, values, metadata))
        scored.sort(key=lambda item: (-item[0], item[1]))
        matches = []
        for score, vid, values, metadata in scored[:top_k]:
            match: dict[str, Any] = {"id": vid, "score": score, "values": []}
            if body.get("includeValues"):
                match["values"] = values.tolist()
            if body.get("includeMetadata") and metadata:
                match["metadata"] = metadata
            matches.append(match)
        return {"matches": matches, "namespace": body.get("namespace", ""), "usage": {"readUnits": 1}}

    def _delete(self, body: dict[str, Any]) -> Any:
        namespace = self._namespace(body)
        ids = body.get("ids")
        if body.get("deleteAll"):
            namespace.clear()
        elif ids is not None:
            if len(ids) > MAX_DELETE_IDS:
                raise _Reject(400, f"Number of ids ({len(ids)}) exceeds the maximum of {MAX_DELETE_IDS}")
            for vid in ids:
                namespace.pop(vid, None)
                self.sparse.get(body.get("namespace") or DEFAULT_NAMESPACE, {}).pop(vid, None)
        elif body.get("filter"):
            for vid in [v for v, (_, m) in namespace.items() if _matches(m, body["filter"])]:
                del namespace[vid]
        else:
            raise _Reject(400, "Delete requires ids, deleteAll or filter")
        return {}

    def _stats(self) -> Any:
        counts = {ns: {"vectorCount": len(vectors)} for ns, vectors in self.namespaces.items() if vectors}
        return {
            "namespaces": counts,
            **({"dimension": self.dimension} if self.vector_type == "dense" else {}),
            "indexFullness": 0.0,
            "totalVectorCount": sum(c["vectorCount"] for c in counts.values()),
            "metric": self.metric,
            "vectorType": self.vector_type,
        }

    def _fetched_sparse(self, query: dict[str, list[str]], vid: str) -> dict[str, Any]:
        row = self.sparse.get((query.get("namespace") or [""])[0] or DEFAULT_NAMESPACE, {}).get(vid)
        return {"sparseValues": {"indices": list(row), "values": list(row.values())}} if row else {}

    def _fetch(self, query: dict[str, list[str]]) -> Any:
        ids = query.get("ids", [])
        namespace = self.namespaces.get((query.get("namespace") or [""])[0] or DEFAULT_NAMESPACE, {})
        found = {
            vid: {
                "id": vid,
                "values": namespace[vid][0].tolist(),
                "metadata": namespace[vid][1],
                **self._fetched_sparse(query, vid),
            }
            for vid in ids
            if vid in namespace
        }
        return {"vectors": found, "namespace": (query.get("namespace") or [""])[0], "usage": {"readUnits": 1}}
