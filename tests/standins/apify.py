"""Apify API v2 stand-in (plus `StandinServer`, the small HTTP base the other stand-ins reuse).

Serves what apify-client 3.4 calls for the payload source: `GET /v2/actors|acts/{actorId}/runs` (status,
startedAfter/startedBefore, desc, offset/limit; items valid for the client's pydantic models),
`GET /v2/actor-runs/{runId}` and `GET /v2/datasets/{id}/items` (offset/limit/desc, bare JSON array,
`X-Apify-Pagination-*` headers). Auth: `Authorization: Bearer <token>`, else 401.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialised unless bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Injected:
    remaining: int
    status: int
    retry_after: str | None
    path_prefix: str
    drop: bool


class StandinServer:
    """ThreadingHTTPServer on 127.0.0.1:<free port> in a thread; a context manager.

    Records every request, answers `fail_next(k, ...)` injected failures first (429/5xx with an optional
    Retry-After, or a dropped connection), then checks auth (`authorized`) and routes (`route`).
    """

    unauthorized_body: Any = {"error": "unauthorized"}

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._injected: list[_Injected] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(
        self, count: int, status: int = 503, *, retry_after: str | None = None, path: str = "", drop: bool = False
    ) -> None:
        """Make the next `count` requests whose path starts with `path` fail (or drop the connection)."""
        with self._lock:
            self._injected.append(_Injected(count, status, retry_after, path, drop))

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def failure_body(self, status: int) -> Any:
        """Body of an injected failure (override to match the service's error shape)."""
        return {"error": f"injected failure {status}"}

    def authorized(self, request: RecordedRequest) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def route(self, request: RecordedRequest) -> Reply:  # pragma: no cover - overridden
        raise NotImplementedError

    def _take_injected(self, path: str) -> _Injected | None:
        with self._lock:
            for injected in self._injected:
                if injected.remaining > 0 and path.startswith(injected.path_prefix):
                    injected.remaining -= 1
                    return injected
        return None

    def handle(self, request: RecordedRequest) -> Reply | None:
        """The reply for one request; None means: drop the connection without answering."""
        with self._lock:
            self.requests.append(request)
        injected = self._take_injected(request.path)
        if injected is not None:
            if injected.drop:
                return None
            headers = {"Retry-After": injected.retry_after} if injected.retry_after else {}
            return Reply(injected.status, self.failure_body(injected.status), headers)
        if not self.authorized(request):
            return Reply(401, self.unauthorized_body)
        return self.route(request)


def _make_handler(standin: StandinServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = RecordedRequest(
                method=self.command,
                path=unquote(parts.path),
                query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            reply = standin.handle(request)
            if reply is None:
                self.close_connection = True
                return
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode("utf-8")
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# ---------------------------------------------------------------------------------------------------- Apify


def iso_ms(moment: datetime) -> str:
    """Apify's timestamp format: ISO 8601, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _apify_error(status: int, kind: str, message: str) -> Reply:
    return Reply(status, {"error": {"type": kind, "message": message}})


def _page_window(query: dict[str, str], default_limit: int) -> tuple[int, int]:
    offset = int(query.get("offset") or 0)
    limit = int(query["limit"]) if query.get("limit") not in (None, "", "0") else default_limit
    return offset, limit


class ApifyStandin(StandinServer):
    """Actor runs and datasets held in memory; see `add_run`."""

    unauthorized_body: Any = {"error": {"type": "token-not-valid", "message": "Authentication token is not valid."}}
    UNLIMITED = 999_999_999_999  # what the API reports as the limit when none was asked for

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.runs: dict[str, list[dict[str, Any]]] = {}  # safe actor id -> runs
        self.datasets: dict[str, list[Any]] = {}

    def add_run(
        self,
        actor_id: str,
        items: list[Any],
        *,
        status: str = "SUCCEEDED",
        started_at: datetime | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Register a run of `actor_id` whose default dataset holds `items`; returns the run object."""
        started = started_at or datetime.now(UTC) - timedelta(hours=1)
        run_id = run_id or uuid.uuid4().hex[:17]
        dataset_id = f"ds-{run_id}"
        self.datasets[dataset_id] = items
        safe_id = actor_id.replace("/", "~")
        run = {
            "id": run_id,
            "actId": f"act-{safe_id}",
            "userId": "user-standin",
            "actorTaskId": None,
            "status": status,
            "startedAt": iso_ms(started),
            "finishedAt": None if status in ("READY", "RUNNING") else iso_ms(started + timedelta(minutes=3)),
            "buildId": "build-standin",
            "buildNumber": "0.1.3",
            "meta": {"origin": "API", "userAgent": "standin"},
            "usageTotalUsd": 0.0123,
            "defaultKeyValueStoreId": f"kvs-{run_id}",
            "defaultDatasetId": dataset_id,
            "defaultRequestQueueId": f"rq-{run_id}",
        }
        self.runs.setdefault(safe_id, []).append(run)
        return run

    def failure_body(self, status: int) -> Any:
        kind = "rate-limit-exceeded" if status == 429 else "internal-error"
        return {"error": {"type": kind, "message": f"Injected failure ({status})"}}

    def authorized(self, request: RecordedRequest) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def route(self, request: RecordedRequest) -> Reply:
        if request.method == "GET":
            if match := re.fullmatch(r"/v2/(?:acts|actors)/([^/]+)/runs", request.path):
                return self._list_runs(match.group(1).replace("/", "~"), request.query)
            if match := re.fullmatch(r"/v2/datasets/([^/]+)/items", request.path):
                return self._dataset_items(match.group(1), request.query)
            if match := re.fullmatch(r"/v2/actor-runs/([^/]+)", request.path):
                return self._get_run(match.group(1))
        return _apify_error(404, "page-not-found", f"{request.method} {request.path} is not served by the stand-in")

    def _list_runs(self, actor: str, query: dict[str, str]) -> Reply:
        if actor not in self.runs:
            return _apify_error(404, "record-not-found", "Actor was not found")
        runs = list(self.runs[actor])
        if query.get("status"):
            runs = [r for r in runs if r["status"] in query["status"].split(",")]
        if query.get("startedAfter"):
            runs = [r for r in runs if _parse_iso(r["startedAt"]) >= _parse_iso(query["startedAfter"])]
        if query.get("startedBefore"):
            runs = [r for r in runs if _parse_iso(r["startedAt"]) <= _parse_iso(query["startedBefore"])]
        desc = query.get("desc") in ("1", "true")
        runs.sort(key=lambda r: r["startedAt"], reverse=desc)
        offset, limit = _page_window(query, 1000)
        limit = min(limit, 1000)
        page = runs[offset : offset + limit]
        data = {"total": len(runs), "offset": offset, "limit": limit, "desc": desc, "count": len(page)}
        return Reply(200, {"data": {**data, "items": page}})

    def _get_run(self, run_id: str) -> Reply:
        for runs in self.runs.values():
            for run in runs:
                if run["id"] == run_id:
                    full = {
                        **run,
                        "stats": {"inputBodyLen": 2, "restartCount": 0, "resurrectCount": 0},
                        "options": {"build": "latest", "timeoutSecs": 3600, "memoryMbytes": 1024, "diskMbytes": 2048},
                    }
                    return Reply(200, {"data": full})
        return _apify_error(404, "record-not-found", "Actor run was not found")

    def _dataset_items(self, dataset_id: str, query: dict[str, str]) -> Reply:
        if dataset_id not in self.datasets:
            return _apify_error(404, "record-not-found", "Dataset was not found")
        items = self.datasets[dataset_id]
        desc = query.get("desc") in ("1", "true")
        ordered = list(reversed(items)) if desc else items
        offset, limit = _page_window(query, self.UNLIMITED)
        page = ordered[offset : offset + limit]
        headers = {
            "X-Apify-Pagination-Offset": str(offset),
            "X-Apify-Pagination-Limit": str(limit),
            "X-Apify-Pagination-Count": str(len(page)),
            "X-Apify-Pagination-Total": str(len(items)),
            "X-Apify-Pagination-Desc": str(desc).lower(),
        }
        return Reply(200, page, headers)


# ---------------------------------------------------------------------------------------------------- fixtures


def website_content_items(count: int, host: str = "docs.example-saas.io") -> list[dict[str, Any]]:
    """Website Content Crawler items shaped per api-shapes.md (inline fallback for missing samples)."""
    items = []
    for i in range(count):
        url = f"https://{host}/guides/page-{i}"
        items.append(
            {
                "url": url,
                "crawl": {
                    "loadedUrl": url,
                    "loadedTime": "2026-03-02T09:14:07.221Z",
                    "referrerUrl": f"https://{host}/guides",
                    "depth": 1,
                    "httpStatusCode": 200,
                },
                "metadata": {
                    "canonicalUrl": url,
                    "title": f"Page {i} | ExampleSaaS Docs",
                    "description": None if i % 2 else "Install and configure the agent.",
                    "author": None,
                    "keywords": None,
                    "languageCode": "en",
                },
                "screenshotUrl": None,
                "text": f"Page {i}\nInstall the agent with...",
                "markdown": f"# Page {i}\n\nInstall the agent with...",
                "html": None,
            }
        )
    return items


def linkedin_profile_items() -> list[dict[str, Any]]:
    """Two dev_fusion/Linkedin-Profile-Scraper items (subset of the documented fields)."""
    return [
        {
            "linkedinUrl": "https://www.linkedin.com/in/ada-example",
            "firstName": "Ada",
            "lastName": "Example",
            "fullName": "Ada Example",
            "headline": "VP Engineering at ExampleSaaS",
            "connections": 500,
            "followers": 1234,
            "email": None,
            "mobileNumber": None,
            "jobTitle": "VP Engineering",
            "companyName": "ExampleSaaS",
            "companyIndustry": "Software Development",
            "companyWebsite": "example-saas.io",
            "companyLinkedin": "linkedin.com/company/example-saas",
            "companyFoundedIn": 2017,
            "companySize": "51-200",
            "currentJobDuration": "2 yrs 3 mos",
            "currentJobDurationInYrs": 2.25,
            "addressWithCountry": "Berlin, Germany",
            "about": None,
            "publicIdentifier": "ada-example",
            "urn": "ACoAAAexample1",
            "experiences": [
                {
                    "companyId": "123",
                    "title": "VP Engineering",
                    "subtitle": "ExampleSaaS · Full-time",
                    "caption": "Jan 2024 - Present · 2 yrs 3 mos",
                    "breakdown": False,
                    "subComponents": [{"description": [{"type": "textComponent", "text": "Leads 40 engineers."}]}],
                }
            ],
            "educations": [],
            "skills": [{"title": "Distributed Systems"}],
            "updates": [],
            "languages": [],
        },
        {
            "linkedinUrl": "https://www.linkedin.com/in/grace-sample",
            "firstName": "Grace",
            "lastName": "Sample",
            "fullName": "Grace Sample",
            "headline": "Head of Data",
            "connections": 321,
            "followers": 400,
            "email": "grace@example.org",
            "mobileNumber": None,
            "jobTitle": "Head of Data",
            "companyName": "Sample Corp",
            "experiences": [],
            "educations": [],
            "skills": [],
            "updates": [],
        },
    ]


def sample_or_inline_batches(stream: str) -> dict[str, list[Any]]:
    """The bundled samples of an Apify stream, else small inline batches of the same shape."""
    batches = load_sample_batches("apify", stream)
    if batches:
        return batches
    if stream == "website-content-crawler":
        return {"run-wcc-a": website_content_items(3), "run-wcc-b": website_content_items(2, "blog.example.org")}
    return {"run-lps-a": linkedin_profile_items()}
