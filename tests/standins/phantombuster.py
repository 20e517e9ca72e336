"""PhantomBuster API v2 stand-in (header `X-Phantombuster-Key-1`, else 401).

`GET /api/v2/containers/fetch-all?agentId=&mode=all|finalized&limit=&beforeEndedAt=` → `{containers,
maxLimitReached}` newest first (pages capped at `page_size`); `GET /api/v2/containers/fetch?id=` → the container
(with its `agentId`); `GET /api/v2/containers/fetch-result-object?id=`
→ `{"resultObject": "<JSON text>" | null}`; `GET /api/v2/agents/fetch?id=` → agent with `s3Folder`,
`orgS3Folder`; and, without auth like the public bucket, `GET /s3/{orgS3Folder}/{s3Folder}/result.json`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .http import RecordedRequest, Reply, StandinServer, load_sample_batches

API = "/api/v2"
S3 = "/s3"
_NO_RESULT = object()


class PhantomBusterStandin(StandinServer):
    """Agents, containers and result files held in memory; see `add_container` and `set_result_file`."""

    unauthorized_body: Any = {"status": "error", "error": "Missing or invalid API key"}
    api_prefix = API

    def __init__(self, api_key: str, page_size: int = 100) -> None:
        super().__init__()
        self.api_key = api_key
        self.page_size = page_size
        self.containers: dict[str, list[dict[str, Any]]] = {}  # agent id -> containers
        self.result_objects: dict[str, str | None] = {}  # container id -> resultObject (JSON text)
        self.agents: dict[str, dict[str, Any]] = {}
        self.files: dict[str, Any] = {}  # "/org/folder/result.json" -> JSON

    @property
    def s3_base_url(self) -> str:
        return self.url + S3

    def add_container(
        self,
        agent_id: str,
        result: Any = _NO_RESULT,
        *,
        ended_at: int | None = None,
        status: str = "finished",
        container_id: str | None = None,
    ) -> dict[str, Any]:
        """A container of `agent_id`; `result` is stored JSON-encoded as its resultObject (None → null)."""
        ended = ended_at if ended_at is not None else int(time.time() * 1000)
        container_id = container_id or str(uuid.uuid4().int)[:16]
        container = {
            "id": container_id,
            "status": status,
            "createdAt": ended - 120_000,
            "launchedAt": ended - 110_000,
            "endedAt": ended if status == "finished" else None,
            "endType": "finished" if status == "finished" else None,
            "exitCode": 0 if status == "finished" else None,
            "launchType": "automatic",
            "retryNumber": 0,
        }
        self.containers.setdefault(agent_id, []).append(container)
        self.result_objects[container_id] = None if result in (None, _NO_RESULT) else json.dumps(result)
        return container

    def set_result_file(self, agent_id: str, rows: Any, org_folder: str = "org-f", folder: str = "agent-f") -> str:
        """The agent's `result.json` in the stand-in bucket; returns its path."""
        self.agents[agent_id] = {
            "id": agent_id,
            "name": "LinkedIn Search Export",
            "scriptId": "script-1",
            "s3Folder": folder,
            "orgS3Folder": org_folder,
            "argument": json.dumps({"search": "vp engineering berlin", "numberOfProfiles": 100}),
            "launchType": "repeatedly",
            "nbLaunches": 12,
            "updatedAt": int(time.time() * 1000),
        }
        path = f"/{org_folder}/{folder}/result.json"
        self.files[path] = rows
        return path

    def authorized(self, request: RecordedRequest) -> bool:
        if request.path.startswith(S3 + "/"):
            return True
        return request.headers.get("x-phantombuster-key-1") == self.api_key

    def route(self, request: RecordedRequest) -> Reply:
        if request.method == "GET":
            if request.path.startswith(S3 + "/"):
                path = request.path[len(S3) :]
                if path in self.files:
                    return Reply(200, self.files[path])
                return Reply(403, b"<Error><Code>AccessDenied</Code></Error>", {"Content-Type": "application/xml"})
            handler = {
                f"{API}/containers/fetch-all": self._fetch_all,
                f"{API}/containers/fetch": self._container,
                f"{API}/containers/fetch-result-object": self._result_object,
                f"{API}/agents/fetch": self._agent,
            }.get(request.path)
            if handler is not None:
                return handler(request.query)
        return Reply(404, {"status": "error", "error": "Not found"})

    def _fetch_all(self, query: dict[str, str]) -> Reply:
        containers = list(self.containers.get(query.get("agentId", ""), []))
        if query.get("mode") == "finalized":
            containers = [c for c in containers if c["status"] == "finished"]
        if query.get("beforeEndedAt"):
            before = int(query["beforeEndedAt"])
            containers = [c for c in containers if c["endedAt"] is not None and c["endedAt"] < before]
        containers.sort(key=lambda c: c["endedAt"] or 0, reverse=True)
        limit = min(int(query.get("limit") or self.page_size), self.page_size)
        return Reply(200, {"containers": containers[:limit], "maxLimitReached": len(containers) > limit})

    def _container(self, query: dict[str, str]) -> Reply:
        for agent_id, containers in self.containers.items():
            for container in containers:
                if container["id"] == query.get("id"):
                    return Reply(200, {**container, "agentId": agent_id})
        return Reply(404, {"status": "error", "error": "Container not found"})

    def _result_object(self, query: dict[str, str]) -> Reply:
        if query.get("id") not in self.result_objects:
            return Reply(404, {"status": "error", "error": "Container not found"})
        return Reply(200, {"resultObject": self.result_objects[query["id"]]})

    def _agent(self, query: dict[str, str]) -> Reply:
        if query.get("id") not in self.agents:
            return Reply(404, {"status": "error", "error": "Agent not found"})
        return Reply(200, self.agents[query["id"]])


def search_export_rows(count: int, query: str = "vp engineering berlin") -> list[dict[str, str]]:
    """LinkedIn Search Export rows (all strings) shaped per api-shapes.md (inline fallback)."""
    return [
        {
            "profileUrl": f"https://www.linkedin.com/in/person-{i}",
            "fullName": f"Person {i}",
            "firstName": "Person",
            "lastName": str(i),
            "profileImageUrl": f"https://media.licdn.com/dms/image/person-{i}.jpg",
            "job": "VP Engineering at ExampleSaaS",
            "currentJob": "VP Engineering at ExampleSaaS",
            "pastJob": "Engineering Manager at Sample Corp",
            "location": "Berlin, Germany",
            "connectionDegree": "2nd",
            "sharedConnections": str(i % 7),
            "additionalInfo": "",
            "url": f"https://www.linkedin.com/in/person-{i}",
            "name": f"Person {i}",
            "query": query,
            "category": "People",
            "timestamp": "2026-03-02T09:14:07.221Z",
        }
        for i in range(count)
    ]


def sample_or_inline_batches(stream: str = "linkedin-search-export") -> dict[str, list[Any]]:
    """The bundled samples of a PhantomBuster stream, else small inline batches of the same shape."""
    return load_sample_batches("phantombuster", stream) or {
        "4100000000000001": search_export_rows(3),
        "4100000000000002": search_export_rows(2, "head of data munich"),
    }
