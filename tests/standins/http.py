"""What every local HTTP stand-in shares: `StandinServer`, a JSON server on 127.0.0.1:<free port> in a thread.

A stand-in subclasses `StandinServer` and either implements `authorized` and `route` (the default `handle`
records the request, answers an injected failure, checks auth, then routes) or overrides `handle` when the
service checks things in another order; either way injected failures come from `take_injected`, so
`fail_next` (the next K requests) and `fail_randomly` (a seeded share of all requests) work for every stand-in.
Also here: `load_sample_batches`, the bundled samples local mode reads.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from resources.payloads import samples_dir_from_env


def load_sample_batches(system: str, stream: str | None = None) -> dict[str, Any]:
    """`{batch_id: parsed JSON}` from the samples local mode reads (`<system>/<stream>/*.json`, `tavily/*.json`)."""
    root = samples_dir_from_env()
    folder = root / system / stream if stream else root / system
    if not folder.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query, percent-decoded
    query: dict[str, str]  # the last value of each parameter
    headers: dict[str, str]  # lower-cased names
    body: bytes
    raw_query: str = ""  # for parameters given more than once

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialised unless bytes
    headers: dict[str, str] = field(default_factory=dict)


def _any_request(request: RecordedRequest) -> bool:
    return True


@dataclass
class Injected:
    """An injected failure for the next `remaining` requests that `applies` to."""

    remaining: int
    status: int
    retry_after: str | None = None
    drop: bool = False  # drop the connection instead of answering
    body: Any = None  # the reply body; None: the stand-in's `failure_body(status)`
    applies: Callable[[RecordedRequest], bool] = _any_request

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after} if self.retry_after is not None else {}


@dataclass
class RandomFaults:
    """A seeded share `rate` of the requests `applies` to fails: a status from `statuses`, or (a `drop_share` of
    the faults) a connection dropped before the request is processed. `injected` counts the faults so far."""

    rate: float
    statuses: tuple[int, ...]
    seed: int
    drop_share: float = 0.0
    retry_after: str | None = None
    applies: Callable[[RecordedRequest], bool] = _any_request
    injected: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1 or not 0 <= self.drop_share <= 1:
            raise ValueError("rate and drop_share are shares between 0 and 1")
        if not self.statuses and self.drop_share < 1:
            raise ValueError("give the statuses to answer with (or drop_share=1)")
        self.rng = random.Random(self.seed)

    def draw(self) -> Injected | None:
        """The fault for the next request, or None (call with the stand-in's lock held)."""
        if self.rng.random() >= self.rate:
            return None
        self.injected += 1
        if self.rng.random() < self.drop_share:
            return Injected(0, 0, drop=True)
        return Injected(0, self.rng.choice(self.statuses), self.retry_after)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients dropping keep-alive connections is normal; do not print tracebacks for it."""


class StandinServer:
    """ThreadingHTTPServer on 127.0.0.1:<free port> in a thread; a context manager.

    Records every request, answers `fail_next(k, ...)` injected failures first (429/5xx with an optional
    Retry-After, or a dropped connection), then checks auth (`authorized`) and routes (`route`).
    """

    unauthorized_body: Any = {"error": "unauthorized"}
    content_type = "application/json; charset=utf-8"
    protocol_version = "HTTP/1.0"
    api_prefix = ""  # where the API lives under `url`

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self._injected: list[Injected] = []
        self.random_faults: RandomFaults | None = None
        self._lock = threading.RLock()
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """The API root to give a client."""
        return self.url + self.api_prefix

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(
        self, count: int, status: int = 503, retry_after: str | None = None, *, path: str = "", drop: bool = False
    ) -> None:
        """Make the next `count` requests whose path starts with `path` fail (or drop the connection)."""
        self.inject(Injected(count, status, retry_after, drop, applies=lambda request: request.path.startswith(path)))

    def fail_randomly(
        self,
        rate: float,
        statuses: tuple[int, ...] = (429, 500),
        seed: int = 0,
        *,
        drop_share: float = 0.0,
        retry_after: str | None = None,
        path: str = "",
    ) -> RandomFaults:
        """Fail a seeded share `rate` of the requests whose path starts with `path` (after any `fail_next`)."""
        faults = RandomFaults(
            rate, tuple(statuses), seed, drop_share, retry_after, applies=lambda r: r.path.startswith(path)
        )
        with self._lock:
            self.random_faults = faults
        return faults

    def inject(self, injected: Injected) -> None:
        with self._lock:
            self._injected.append(injected)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def failure_body(self, status: int) -> Any:
        """Body of an injected failure (override to match the service's error shape)."""
        return {"error": f"injected failure {status}"}

    def record(self, request: RecordedRequest) -> None:
        """Keep the request for the tests (override to keep a service-specific record)."""
        with self._lock:
            self.requests.append(request)

    def authorized(self, request: RecordedRequest) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def route(self, request: RecordedRequest) -> Reply:  # pragma: no cover - overridden
        raise NotImplementedError

    def take_injected(self, request: RecordedRequest) -> Injected | None:
        """The first pending injected failure that applies to `request` (counted as used), else a random fault."""
        with self._lock:
            for injected in self._injected:
                if injected.remaining > 0 and injected.applies(request):
                    injected.remaining -= 1
                    return injected
            faults = self.random_faults
            if faults is not None and faults.applies(request):
                return faults.draw()
        return None

    def handle(self, request: RecordedRequest) -> Reply | None:
        """The reply for one request; None means: drop the connection without answering."""
        self.record(request)
        injected = self.take_injected(request)
        if injected is not None:
            if injected.drop:
                return None
            body = injected.body if injected.body is not None else self.failure_body(injected.status)
            return Reply(injected.status, body, injected.headers)
        if not self.authorized(request):
            return Reply(401, self.unauthorized_body)
        return self.route(request)


def _make_handler(standin: StandinServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = standin.protocol_version

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = RecordedRequest(
                method=self.command,
                path=unquote(parts.path),
                query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
                raw_query=parts.query,
            )
            reply = standin.handle(request)
            if reply is None:
                self.close_connection = True
                return
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode("utf-8")
            self.send_response(reply.status)
            self.send_header("Content-Type", standin.content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
