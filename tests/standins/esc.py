"""Pulumi ESC API stand-in for `pulumi_esc_sdk.EscClient`: environment revisions and definitions.

`GET /api/esc/environments/{org}/{project}/{env}/versions?before=&count=` -> JSON list of revisions, newest first
(`number`, `created`, `creatorLogin`, `creatorName`, `tags`); `GET .../versions/{n}` -> the definition as YAML
(`application/x-yaml`, as Pulumi Cloud answers). Auth header `Authorization: token <access token>`, else 401
`{"code": 401, "message": "..."}`. Tests add revisions with `add_revision(env, created, definition)`.
"""

from __future__ import annotations

from typing import Any

import yaml

from .http import RecordedRequest, Reply, StandinServer


class EscStandin(StandinServer):
    content_type = "application/x-yaml"  # JSON lists are valid YAML too; the SDK parses by this header
    unauthorized_body: Any = b'{"code": 401, "message": "Unauthorized: No credentials provided or are invalid."}'

    def __init__(self, access_token: str, organization: str, project: str) -> None:
        super().__init__()
        self.access_token, self.organization, self.project = access_token, organization, project
        self.revisions: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}

    def add_revision(self, env: str, created: str, definition: dict[str, Any]) -> int:
        history = self.revisions.setdefault(env, [])
        number = len(history) + 1
        history.append((number, created, definition))
        return number

    def failure_body(self, status: int) -> Any:
        return f'{{"code": {status}, "message": "injected"}}'.encode()

    def authorized(self, request: RecordedRequest) -> bool:
        return request.headers.get("authorization") == f"token {self.access_token}"

    def route(self, request: RecordedRequest) -> Reply:
        prefix = f"/api/esc/environments/{self.organization}/{self.project}/"
        if request.method != "GET" or not request.path.startswith(prefix):
            return Reply(404, b'{"code": 404, "message": "not found"}')
        env, _, rest = request.path.removeprefix(prefix).partition("/versions")
        history = self.revisions.get(env)
        if history is None:
            return Reply(404, b'{"code": 404, "message": "environment not found"}')
        if rest in ("", "/"):
            before = int(request.query.get("before") or 10**9)
            count = int(request.query.get("count") or 100)
            page = [r for r in reversed(history) if r[0] < before][:count]
            body = [
                {"number": n, "created": created, "creatorLogin": "sync-bot", "creatorName": "sync", "tags": []}
                for n, created, _ in page
            ]
            return Reply(200, yaml.safe_dump(body).encode())
        number = int(rest.strip("/"))
        found = next((d for n, _, d in history if n == number), None)
        if found is None:
            return Reply(404, b'{"code": 404, "message": "revision not found"}')
        return Reply(200, yaml.safe_dump(found, sort_keys=False).encode())
