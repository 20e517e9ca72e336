"""Stand-ins for the key-management APIs the rotation adapter uses, plus Pulumi Cloud's JWKS.

- `OpenRouterKeysStandin`: `POST /api/v1/keys` {name} -> {data: {hash, name, ...}, key}, `DELETE
  /api/v1/keys/{hash}` -> {deleted: true} (404 for an unknown hash), both with `Authorization: Bearer
  <provisioning key>`; `GET /api/v1/key` with an API key answers 200 while the key is live, 401 once deleted.
- `PineconeAdminStandin`: `POST /oauth/token` (client credentials) -> {access_token, token_type, expires_in};
  `POST /admin/projects/{project}/api-keys` {name, roles} -> {key: {id, name, project_id, roles, created_at},
  value}; `DELETE /admin/api-keys/{id}` -> 202 (404 unknown); `GET /indexes` with `Api-Key` -> 200 / 401.
- `JwksStandin`: `GET /oidc/.well-known/jwks` -> {keys: [...]} of the given public keys.

Both key services keep `live` (id -> value) so tests can ask which keys still work.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from .http import RecordedRequest, Reply, StandinServer


class _KeyStore(StandinServer):
    def __init__(self) -> None:
        super().__init__()
        self.live: dict[str, str] = {}
        self.deleted: list[str] = []
        self._ids = itertools.count(1)

    def issue(self, prefix: str) -> tuple[str, str]:
        key_id = f"{prefix}-id-{next(self._ids):03d}"
        value = f"{prefix}-value-{secrets.token_hex(12)}"
        self.live[key_id] = value
        return key_id, value

    def seed(self, prefix: str) -> tuple[str, str]:
        """A key that exists before any rotation (the organization's hand-made key)."""
        return self.issue(prefix)

    def works(self, value: str) -> bool:
        return value in self.live.values()

    def revoke(self, key_id: str) -> bool:
        if self.live.pop(key_id, None) is None:
            return False
        self.deleted.append(key_id)
        return True


class OpenRouterKeysStandin(_KeyStore):
    api_prefix = "/api/v1"

    def __init__(self, provisioning_key: str) -> None:
        super().__init__()
        self.provisioning_key = provisioning_key

    def authorized(self, request: RecordedRequest) -> bool:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if request.path == "/api/v1/key":
            return self.works(bearer)
        return bearer == self.provisioning_key

    def route(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path == "/api/v1/key":
            return Reply(200, {"data": {"label": "live"}})
        if request.method == "POST" and request.path in ("/api/v1/keys", "/api/v1/keys/"):
            body = request.json() or {}
            if not body.get("name"):
                return Reply(400, {"error": {"code": 400, "message": "name is required"}})
            key_id, value = self.issue("sk-or-v1")
            return Reply(200, {"data": {"hash": key_id, "name": body["name"], "disabled": False}, "key": value})
        if request.method == "DELETE" and request.path.startswith("/api/v1/keys/"):
            found = self.revoke(request.path.rsplit("/", 1)[-1])
            return Reply(200, {"deleted": True}) if found else Reply(404, {"error": {"code": 404, "message": "nf"}})
        return Reply(404, {"error": {"code": 404, "message": "not found"}})


class PineconeAdminStandin(_KeyStore):
    def __init__(self, client_id: str, client_secret: str, project_id: str) -> None:
        super().__init__()
        self.client_id, self.client_secret, self.project_id = client_id, client_secret, project_id
        self.tokens: set[str] = set()

    @property
    def oauth_url(self) -> str:
        return self.url + "/oauth/token"

    def authorized(self, request: RecordedRequest) -> bool:
        if request.path == "/oauth/token":
            return True  # checked in route, with the OAuth error shape
        if request.path == "/indexes":
            return self.works(request.headers.get("api-key", ""))
        return request.headers.get("authorization", "").removeprefix("Bearer ") in self.tokens

    def route(self, request: RecordedRequest) -> Reply:
        body: Any = request.json() if request.body else None
        if request.path == "/oauth/token" and request.method == "POST":
            if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
                return Reply(401, {"error": "access_denied", "error_description": "Unauthorized"})
            token = secrets.token_hex(16)
            self.tokens.add(token)
            return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 86400})
        if request.path == "/indexes":
            return Reply(200, {"indexes": []})
        if request.method == "POST" and request.path == f"/admin/projects/{self.project_id}/api-keys":
            key_id, value = self.issue("pcsk")
            model = {
                "id": key_id,
                "name": body["name"],
                "project_id": self.project_id,
                "roles": body.get("roles", ["ProjectEditor"]),
                "created_at": "2026-12-01T00:00:00Z",
            }
            return Reply(201, {"key": model, "value": value})
        if request.method == "DELETE" and request.path.startswith("/admin/api-keys/"):
            found = self.revoke(request.path.rsplit("/", 1)[-1])
            return Reply(202, b"") if found else Reply(404, {"error": {"code": "NOT_FOUND", "message": "nf"}})
        return Reply(404, {"error": {"code": "NOT_FOUND", "message": "not found"}})


class JwksStandin(StandinServer):
    """Pulumi Cloud's JWKS endpoint with the given JWK dicts."""

    path = "/oidc/.well-known/jwks"

    def __init__(self, jwks: list[dict[str, Any]]) -> None:
        super().__init__()
        self.jwks = jwks

    @property
    def jwks_url(self) -> str:
        return self.url + self.path

    def authorized(self, request: RecordedRequest) -> bool:
        return True

    def route(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path == self.path:
            return Reply(200, {"keys": self.jwks})
        return Reply(404, {"error": "not found"})
