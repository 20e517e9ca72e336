"""A local stand-in for Hugging Face text-embeddings-inference (TEI), speaking its HTTP API.

`POST /embed` {"inputs": str | [str], "normalize"?: bool, "truncate"?: bool, "dimensions"?: int} → a bare
2-D float array. Like the real server it rejects more than `max_batch` inputs (422 "batch size N > maximum
allowed batch size 32"), empty input lists (400), bodies over 2 MB (413), over-long inputs without
`truncate` (413), and a wrong bearer token (401). Errors are {"error", "error_type"}. It can be told to fail
the next K calls with 503/429/424. Vectors are hashed bags of words: deterministic, and texts sharing words
get similar vectors.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import numpy as np

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


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients dropping keep-alive connections is normal; do not print tracebacks for it."""


@dataclass
class TeiStandin:
    """Context manager: a TEI server on 127.0.0.1:<free port> in a background thread."""

    dimension: int = 16
    max_batch: int = 32
    max_input_tokens: int = 512
    token: str | None = None
    requests: list[TeiRequest] = field(default_factory=list)
    _failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "stand-in not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, count: int, status: int = 503, retry_after: str | None = None) -> None:
        """Answer the next `count` /embed calls with `status` (e.g. 503 Unhealthy, 429 Overloaded)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._lock:
            self._failures.extend([(status, headers)] * count)

    @property
    def batch_sizes(self) -> list[int]:
        return [len(r.inputs) for r in self.requests if r.status == 200]

    def __enter__(self) -> TeiStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/health":
                    self._send(200, {})
                elif self.path == "/info":
                    self._send(200, {"model_id": "standin/hashed-bow", "max_client_batch_size": standin.max_batch,
                                     "max_input_length": standin.max_input_tokens})  # fmt: skip
                else:
                    self._send(404, {"error": "Not Found", "error_type": "NotFound"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, payload, headers = standin._handle(self.path, raw, self.headers.get("Authorization"))
                self._send(status, payload, headers)

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handle(self, path: str, raw: bytes, authorization: str | None) -> tuple[int, Any, dict[str, str]]:
        def error(status: int, message: str, inputs: list[str], headers: dict[str, str] | None = None):
            self.requests.append(TeiRequest(inputs, body, authorization, status))
            return status, {"error": message, "error_type": _ERROR_TYPES.get(status, "Error")}, headers or {}

        body: dict[str, Any] = {}
        if path != "/embed":
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
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            status, headers = failure
            messages = {429: "Model is overloaded", 503: "Model is not healthy", 424: "Backend error"}
            return error(status, messages.get(status, "error"), inputs, headers)
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
