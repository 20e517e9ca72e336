"""A local stand-in for Hugging Face text-embeddings-inference (TEI), speaking its HTTP API.

`POST /embed` {"inputs": str | [str], "normalize"?: bool, "truncate"?: bool, "dimensions"?: int} → a bare
2-D float array. Like the real server it rejects more than `max_batch` inputs (422 "batch size N > maximum
allowed batch size 32"), empty input lists (400), bodies over 2 MB (413), over-long inputs without
`truncate` (413), and a wrong bearer token (401). Errors are {"error", "error_type"}. It can be told to fail
the next K calls with 503/429/424 (`fail_next`) or a seeded share of them (`fail_randomly`; a dropped
connection is recorded with status 0). Vectors are hashed bags of words: deterministic, and texts sharing words
get similar vectors.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .http import RecordedRequest, Reply, StandinServer

MAX_PAYLOAD_BYTES = 2_000_000
_ERROR_TYPES = {400: "Empty", 401: "Unauthorized", 413: "Validation", 422: "Validation", 424: "Backend",
                429: "Overloaded", 503: "Unhealthy"}  # fmt: skip


def hashed_embedding(text: str, dimension: int) -> np.ndarray:
    """Sum of per-word pseudo-random vectors (unnormalised)."""
    vector = np.zeros(dimension, dtype=np.float64)
    for word in re.findall(r"\w+", text.lower()):
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        vector += np.random.default_rng(seed).standard_normal(dimension)
    return vector


@dataclass
class TeiRequest:
    inputs: list[str]
    body: dict[str, Any]
    authorization: str | None
    status: int


@dataclass
class TeiStandin(StandinServer):
    """Context manager: a TEI server on 127.0.0.1:<free port> in a background thread.

    `requests` holds a `TeiRequest` per /embed call.
    """

    content_type = "application/json"
    dimension: int = 16
    max_batch: int = 32
    max_input_tokens: int = 512
    token: str | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def fail_next(self, count: int, status: int = 503, retry_after: str | None = None, *, drop: bool = False) -> None:
        """Answer the next `count` /embed calls with `status` (e.g. 503 Unhealthy, 429 Overloaded), or drop them."""
        super().fail_next(count, status, retry_after, drop=drop)

    @property
    def batch_sizes(self) -> list[int]:
        return [len(r.inputs) for r in self.requests if r.status == 200]

    def handle(self, request: RecordedRequest) -> Reply | None:
        if request.method == "GET":
            return self._get(request.path)
        status, payload, headers = self._embed(request)
        if status == 0:  # an injected dropped connection
            return None
        return Reply(status, payload, headers)

    def _get(self, path: str) -> Reply:
        if path == "/health":
            return Reply(200, {})
        if path == "/info":
            return Reply(200, {"model_id": "standin/hashed-bow", "max_client_batch_size": self.max_batch,
                               "max_input_length": self.max_input_tokens})  # fmt: skip
        return Reply(404, {"error": "Not Found", "error_type": "NotFound"})

    def _embed(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        raw, authorization = request.body, request.headers.get("authorization")

        def error(status: int, message: str, inputs: list[str], headers: dict[str, str] | None = None):
            self.requests.append(TeiRequest(inputs, body, authorization, status))
            return status, {"error": message, "error_type": _ERROR_TYPES.get(status, "Error")}, headers or {}

        body: dict[str, Any] = {}
        if request.path != "/embed":
            return error(404, "Not Found", [])
        if self.token is not None and authorization != f"Bearer {self.token}":
            return error(401, "Unauthorized", [])
        if len(raw) > MAX_PAYLOAD_BYTES:
            return error(413, f"Payload too large: {len(raw)} bytes", [])
        try:
            body = json.loads(raw)
        except ValueError:
            return error(422, "Failed to parse the request body as JSON", [])
        inputs = body.get("inputs")
        inputs = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            return error(422, "`inputs` must be a string or a list of strings", [])
        failure = self.take_injected(request)
        if failure and failure.drop:
            return error(0, "dropped", inputs)
        if failure and failure.body is not None:  # a reply of the test's choosing, e.g. a broken body
            self.requests.append(TeiRequest(inputs, body, authorization, failure.status))
            return failure.status, failure.body, failure.headers
        if failure:
            messages = {429: "Model is overloaded", 503: "Model is not healthy", 424: "Backend error"}
            return error(failure.status, messages.get(failure.status, "error"), inputs, failure.headers)
        if not inputs:
            return error(400, "`inputs` cannot be empty", inputs)
        if len(inputs) > self.max_batch:
            return error(422, f"batch size {len(inputs)} > maximum allowed batch size {self.max_batch}", inputs)
        truncate = bool(body.get("truncate", False))
        rows = []
        for text in inputs:
            words = text.split()
            if len(words) > self.max_input_tokens:
                if not truncate:
                    return error(
                        413,
                        f"Input validation error: `inputs` must have less than {self.max_input_tokens} tokens. "
                        f"Given: {len(words)}",
                        inputs,
                    )
                text = " ".join(words[: self.max_input_tokens])
            rows.append(hashed_embedding(text, self.dimension))
        vectors = np.array(rows)
        if body.get("dimensions"):
            vectors = vectors[:, : int(body["dimensions"])]
        if body.get("normalize", True):
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        self.requests.append(TeiRequest(inputs, body, authorization, 200))
        return 200, vectors.astype(np.float32).tolist(), {}
