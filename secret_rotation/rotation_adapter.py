"""The HTTPS endpoint ESC's `fn::rotate::external` calls: verify Pulumi Cloud's JWT, rotate one service's key.

Protocol (ESC docs, external rotator): `POST` JSON `{"request": {...}, "state": <previous state or null>}` with
`Authorization: Bearer <JWT>`; the reply (HTTP 200, JSON) becomes the new `current` state, stored as a secret.
The JWT is RS256, signed by a key in Pulumi Cloud's JWKS; its `aud` is this adapter's URL, `iss` Pulumi Cloud,
`exp` in the future, `org` our organization, and `body_hash` the SRI SHA-256 of the exact request body.

Rotation keeps ESC's two-secret overlap: state `{keyId, apiKey, previousKeyId}` means keys n and n-1 are live.
A rotation creates key n+1 first; only then it revokes key n-1 (two rotations back), so key n - which every
process that has not re-read its secrets still uses - keeps working. If the create fails nothing is revoked and
the adapter answers 502: ESC keeps the old state, the old key keeps working. A revoke that fails is remembered in
`pendingRevoke` and retried on the next rotation. The first rotation's previous key (the organization's own
value, seeded as state) has no id: it is listed in `unknownPrevious` for a person to revoke once.

Run: `python -m secret_rotation.rotation_adapter --port 8443` behind TLS (Pulumi Cloud calls https only).
Configuration (environment): SOPHIA_ROTATION_AUDIENCE, SOPHIA_ROTATION_ISSUER, SOPHIA_ROTATION_JWKS_URL,
SOPHIA_ROTATION_ORG, and each service's management credentials (see `rotators.rotators_from_env`).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

from infra_assets.specs.esc import DEFAULT_ROTATION_ADAPTER_URL
from secret_rotation.rotators import KeyRotator, RotatorError, rotators_from_env

PULUMI_ISSUER = "https://api.pulumi.com"
PULUMI_JWKS_URL = "https://api.pulumi.com/oidc/.well-known/jwks"
DEFAULT_ORG = "sophia-ai"
MAX_BODY_BYTES = 64 * 1024
log = logging.getLogger("sophia.rotation_adapter")


class AuthError(Exception):
    """The request is not from Pulumi Cloud for our organization (answered 401, reason only)."""


class BadRequest(Exception):
    """The body is not a rotation request this adapter serves (answered 400)."""


@dataclass(frozen=True)
class AdapterConfig:
    audience: str = DEFAULT_ROTATION_ADAPTER_URL
    issuer: str = PULUMI_ISSUER
    jwks_url: str = PULUMI_JWKS_URL
    organization: str = DEFAULT_ORG
    leeway_s: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AdapterConfig:
        env = os.environ if environ is None else environ
        return cls(
            audience=env.get("SOPHIA_ROTATION_AUDIENCE") or DEFAULT_ROTATION_ADAPTER_URL,
            issuer=env.get("SOPHIA_ROTATION_ISSUER") or PULUMI_ISSUER,
            jwks_url=env.get("SOPHIA_ROTATION_JWKS_URL") or PULUMI_JWKS_URL,
            organization=env.get("SOPHIA_ROTATION_ORG") or DEFAULT_ORG,
        )


def body_hash(body: bytes) -> str:
    """The SRI form ESC puts in the `body_hash` claim: `sha256-<base64 of the digest>`."""
    return "sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


@dataclass
class JwtVerifier:
    """Verifies ESC's JWT against the JWKS (keys cached by PyJWKClient)."""

    config: AdapterConfig
    _jwks: jwt.PyJWKClient = field(init=False)

    def __post_init__(self) -> None:
        self._jwks = jwt.PyJWKClient(self.config.jwks_url, cache_keys=True, lifespan=300)

    def verify(self, authorization: str | None, body: bytes) -> dict[str, Any]:
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthError("missing bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_s,
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from None
        if claims.get("org") != self.config.organization:
            raise AuthError("token is for another organization")
        if claims.get("body_hash") != body_hash(body):
            raise AuthError("body_hash does not match the request body")
        return claims


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def rotate(
    rotator: KeyRotator, request: Mapping[str, Any], state: Mapping[str, Any] | None, now: Callable[[], str] = _now
) -> dict[str, Any]:
    """The new state: key n+1 created, key n-1 (and earlier failed revokes) revoked; raises if the create fails."""
    state = dict(state or {})
    current_id = state.get("keyId")
    stamp = now()
    name = f"sophia-{request.get('environment', 'unknown')}-{rotator.service}-{stamp.replace(':', '')}"
    issued = rotator.create(name)  # a failure propagates: nothing revoked, ESC keeps the old state
    to_revoke = [*state.get("pendingRevoke", []), *([state["previousKeyId"]] if state.get("previousKeyId") else [])]
    pending: list[str] = []
    for key_id in dict.fromkeys(to_revoke):
        try:
            rotator.revoke(key_id)
            log.info("%s: revoked key %s (two rotations back)", rotator.service, key_id)
        except RotatorError as exc:
            log.warning("%s: revoking key %s failed, retried next rotation: %s", rotator.service, key_id, exc)
            pending.append(key_id)
    new_state: dict[str, Any] = {
        "service": rotator.service,
        "keyId": issued.key_id,
        "apiKey": issued.value,
        "previousKeyId": current_id,
        "rotatedAt": stamp,
        "pendingRevoke": pending,
    }
    if current_id is None and state.get("apiKey"):
        new_state["unknownPrevious"] = "the seeded organization key has no id: revoke it by hand after the overlap"
    log.info("%s: created key %s; live keys: %s and %s", rotator.service, issued.key_id, issued.key_id, current_id)
    return new_state


@dataclass
class RotationAdapter:
    """Request handling, independent of the HTTP server: (status, JSON body) for (headers, body)."""

    config: AdapterConfig
    rotators: Mapping[str, KeyRotator]
    verifier: JwtVerifier | None = None

    def __post_init__(self) -> None:
        self.verifier = self.verifier or JwtVerifier(self.config)

    def handle(self, authorization: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        assert self.verifier is not None
        try:
            claims = self.verifier.verify(authorization, body)
            payload = json.loads(body or b"null")
            if not isinstance(payload, dict) or not isinstance(payload.get("request"), dict):
                raise BadRequest("body must be {request: {...}, state: ...}")
            request, state = payload["request"], payload.get("state")
            service = request.get("service")
            rotator = self.rotators.get(service) if isinstance(service, str) else None
            if rotator is None:
                raise BadRequest(f"no rotator for service {service!r} (offered: {', '.join(sorted(self.rotators))})")
            if state is not None and not isinstance(state, dict):
                raise BadRequest("state must be an object or null")
            log.info("rotation of %s requested by %s", service, claims.get("current_env") or claims.get("sub"))
            return 200, rotate(rotator, request, state)
        except AuthError as exc:
            return 401, {"error": str(exc)}
        except (BadRequest, json.JSONDecodeError) as exc:
            return 400, {"error": str(exc) if isinstance(exc, BadRequest) else "body is not JSON"}
        except RotatorError as exc:
            log.error("rotation failed, the old key stays current: %s", exc)
            return 502, {"error": f"rotation failed, nothing revoked: {exc}"}


def make_server(adapter: RotationAdapter, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A ThreadingHTTPServer serving `adapter` on POST (any path: the JWT's audience pins the URL)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                status, reply = 413, {"error": "body too large"}
            else:
                status, reply = adapter.handle(self.headers.get("Authorization"), self.rfile.read(length))
            data = json.dumps(reply).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # request lines only, no bodies
            log.debug("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="ESC fn::rotate::external adapter (put TLS in front of it).")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8443)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    rotators = rotators_from_env()
    adapter = RotationAdapter(AdapterConfig.from_env(), rotators)
    log.info("rotation adapter on %s:%d for %s", args.host, args.port, ", ".join(sorted(rotators)) or "no service")
    make_server(adapter, args.host, args.port).serve_forever()


if __name__ == "__main__":
    main()
