"""Per-service key rotators for `fn::rotate::external`: create a key, revoke a key by id.

Only services whose public API lets a program both create and revoke API keys are here (docs/secrets.md lists
the research and the rest, which stay manual):

- OpenRouter: a provisioning (management) key creates and deletes API keys, `POST /api/v1/keys` and
  `DELETE /api/v1/keys/{hash}`.
- Pinecone: the Admin API (service-account OAuth), `POST /admin/projects/{project_id}/api-keys` and
  `DELETE /admin/api-keys/{id}`, through the official SDK's `pinecone.admin.Admin`.

Creates are retried only when the service refused before acting (429, connection refused); a 5xx after a POST
may have created a key, so it fails the rotation instead of risking a second one. Revokes are idempotent and
retried on every transient fault; a key that is already gone counts as revoked. Errors name the service and the
call, never a key value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from resources.http_retry import Failure, RetryPolicy, call_with_retry, classify_httpx, describe_status

OPENROUTER_API_URL = "https://openrouter.ai/api/v1"


class RotatorError(Exception):
    """A service call failed; the message names service and call, never a key value."""


class PermanentRotatorError(RotatorError):
    """Retrying cannot fix it (bad management credentials, a refused request)."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key the service just created: its id (for revoking later) and its value (returned once, to ESC only)."""

    key_id: str
    value: str

    def __repr__(self) -> str:  # never show the value in a traceback or a log line
        return f"IssuedKey(key_id={self.key_id!r}, value='***')"


class KeyRotator(Protocol):
    service: str

    def create(self, name: str) -> IssuedKey: ...

    def revoke(self, key_id: str) -> None: ...


def _create_classifier(exc: BaseException) -> Failure | None:
    """Transient only if the service cannot have acted: 429, or no connection made."""
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return Failure(describe_status(status), status == 429)
    if isinstance(exc, httpx.ConnectError):
        return Failure(f"{type(exc).__name__}", True)
    return classify_httpx(exc)


@dataclass
class OpenRouterRotator:
    """API keys created and deleted with an OpenRouter provisioning key."""

    provisioning_key: str
    base_url: str = OPENROUTER_API_URL
    policy: RetryPolicy | None = None
    timeout_s: float = 30.0
    service: str = "openrouter"

    def _call(self, method: str, path: str, *, create: bool, json: Mapping[str, Any] | None = None) -> Any:
        def once() -> Any:
            response = httpx.request(
                method,
                self.base_url.rstrip("/") + path,
                json=json,
                headers={"Authorization": f"Bearer {self.provisioning_key}"},
                timeout=self.timeout_s,
            )
            if method == "DELETE" and response.status_code == 404:
                return None  # already revoked
            response.raise_for_status()
            return response.json() if response.content else None

        return call_with_retry(
            once,
            source=self.service,
            operation=f"{method} {path.split('/')[1]}",
            policy=self.policy,
            classify=_create_classifier if create else classify_httpx,
            secrets=(self.provisioning_key,),
            error=RotatorError,
            permanent_error=PermanentRotatorError,
        )

    def create(self, name: str) -> IssuedKey:
        reply = self._call("POST", "/keys", create=True, json={"name": name})
        try:
            return IssuedKey(key_id=str(reply["data"]["hash"]), value=str(reply["key"]))
        except (KeyError, TypeError):
            raise PermanentRotatorError("openrouter: POST /keys answered without data.hash and key") from None

    def revoke(self, key_id: str) -> None:
        self._call("DELETE", f"/keys/{key_id}", create=False)


def _pinecone_classifier(create: bool) -> Callable[[BaseException], Failure | None]:
    def classify(exc: BaseException) -> Failure | None:
        status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
        if isinstance(status, int):
            transient = status == 429 or (not create and status >= 500)
            return Failure(describe_status(status), transient)
        return _create_classifier(exc) if create else classify_httpx(exc)

    return classify


@dataclass
class PineconeRotator:
    """Project API keys through the Pinecone Admin API (service account client id/secret)."""

    client_id: str
    client_secret: str
    project_id: str
    roles: tuple[str, ...] = ("ProjectEditor",)
    host: str | None = None  # Admin API host; None: api.pinecone.io
    oauth_url: str | None = None  # token endpoint; None: login.pinecone.io
    policy: RetryPolicy | None = None
    service: str = "pinecone"

    def _admin(self) -> Any:
        from pinecone.admin import Admin

        return call_with_retry(
            lambda: Admin(
                client_id=self.client_id, client_secret=self.client_secret, host=self.host, oauth_url=self.oauth_url
            ),
            source=self.service,
            operation="POST oauth/token",
            policy=self.policy,
            classify=_pinecone_classifier(create=False),
            secrets=(self.client_secret,),
            error=RotatorError,
            permanent_error=PermanentRotatorError,
        )

    def create(self, name: str) -> IssuedKey:
        admin = self._admin()
        created = call_with_retry(
            lambda: admin.api_keys.create(project_id=self.project_id, name=name, roles=list(self.roles)),
            source=self.service,
            operation="POST admin/projects/{project_id}/api-keys",
            policy=self.policy,
            classify=_pinecone_classifier(create=True),
            secrets=(self.client_secret,),
            error=RotatorError,
            permanent_error=PermanentRotatorError,
        )
        return IssuedKey(key_id=str(created.key.id), value=str(created.value))

    def revoke(self, key_id: str) -> None:
        admin = self._admin()

        def delete() -> None:
            try:
                admin.api_keys.delete(api_key_id=key_id)
            except Exception as exc:
                if (getattr(exc, "status_code", None) or getattr(exc, "status", None)) == 404:
                    return  # already revoked
                raise

        call_with_retry(
            delete,
            source=self.service,
            operation="DELETE admin/api-keys/{id}",
            policy=self.policy,
            classify=_pinecone_classifier(create=False),
            secrets=(self.client_secret,),
            error=RotatorError,
            permanent_error=PermanentRotatorError,
        )


def rotators_from_env(environ: Mapping[str, str] | None = None) -> dict[str, KeyRotator]:
    """The rotators whose management credentials the adapter's environment holds (others are not offered)."""
    env = os.environ if environ is None else environ
    found: dict[str, KeyRotator] = {}
    if env.get("OPENROUTER_PROVISIONING_KEY"):
        found["openrouter"] = OpenRouterRotator(
            env["OPENROUTER_PROVISIONING_KEY"], base_url=env.get("OPENROUTER_API_URL") or OPENROUTER_API_URL
        )
    if all(env.get(v) for v in ("PINECONE_CLIENT_ID", "PINECONE_CLIENT_SECRET", "PINECONE_PROJECT_ID")):
        found["pinecone"] = PineconeRotator(
            env["PINECONE_CLIENT_ID"],
            env["PINECONE_CLIENT_SECRET"],
            env["PINECONE_PROJECT_ID"],
            host=env.get("PINECONE_ADMIN_HOST") or None,
            oauth_url=env.get("PINECONE_OAUTH_URL") or None,
        )
    return found
