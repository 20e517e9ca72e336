"""Apify API v2 stand-in.

Serves what apify-client 3.4 calls for the payload source: `GET /v2/actors|acts/{actorId}/runs` (status,
startedAfter/startedBefore, desc, offset/limit; items valid for the client's pydantic models),
`GET /v2/actor-runs/{runId}` and `GET /v2/datasets/{id}/items` (offset/limit/desc, bare JSON array,
`X-Apify-Pagination-*` headers). Auth: `Authorization: Bearer <token>`, else 401.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from .http import RecordedRequest, Reply, StandinServer, load_sample_batches


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
