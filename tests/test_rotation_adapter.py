"""The `fn::rotate::external` adapter against stand-ins: Pulumi Cloud's JWKS (a locally generated RSA key pair),
OpenRouter's key API and Pinecone's Admin API (the real `pinecone.admin.Admin` SDK).

Checked: the JWT is verified (signature, audience, issuer, expiry, organization, body hash); each rotation creates
a key and the key two rotations back is revoked (ESC's two-secret overlap); a failed create revokes nothing and
the old key keeps working; a failed revoke is retried on the next rotation; no key value reaches a log line or
an error reply.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from infra_assets.specs.esc import DEFAULT_ROTATION_ADAPTER_URL, build_esc_spec
from resources.profile import profile
from secret_rotation.rotation_adapter import AdapterConfig, RotationAdapter, body_hash, make_server
from secret_rotation.rotators import OpenRouterRotator, PineconeRotator, rotators_from_env
from tests.standins.key_admin import JwksStandin, OpenRouterKeysStandin, PineconeAdminStandin

PROVISIONING_KEY = "or-provisioning-PLANTED-7f3a"
PC_CLIENT_SECRET = "pc-client-secret-PLANTED-91b2"
ISSUER = "https://api.pulumi.com"
KID = "pulumi-test-key"


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPHIA_RETRY_DELAY_SCALE", "0")


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks(signing_key: rsa.RSAPrivateKey) -> Iterator[JwksStandin]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key(), as_dict=True)
    with JwksStandin([{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]) as server:
        yield server


def _token(key: rsa.RSAPrivateKey, body: bytes, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "pulumi:environments:org:sophia-ai:env:sophia-ai/production-rotated",
        "aud": DEFAULT_ROTATION_ADAPTER_URL,
        "iat": now,
        "exp": now + 300,
        "org": "sophia-ai",
        "current_env": "sophia-ai/sophia-ai/production-rotated",
        "body_hash": body_hash(body),
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


class Adapter:
    """The adapter served over HTTP, with a helper that signs each call like ESC does."""

    def __init__(self, adapter: RotationAdapter, key: rsa.RSAPrivateKey) -> None:
        self.key = key
        self.server = make_server(adapter)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rotate"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def call(self, service: str, state: Any, *, body: bytes | None = None, **claims: Any) -> httpx.Response:
        payload = body or json.dumps({"request": {"service": service, "environment": "production"}, "state": state})
        data = payload.encode() if isinstance(payload, str) else payload
        token = _token(self.key, data, **claims)
        return httpx.post(self.url, content=data, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture
def openrouter() -> Iterator[OpenRouterKeysStandin]:
    with OpenRouterKeysStandin(PROVISIONING_KEY) as server:
        yield server


@pytest.fixture
def pinecone_admin() -> Iterator[PineconeAdminStandin]:
    with PineconeAdminStandin("pc-client", PC_CLIENT_SECRET, "proj-1") as server:
        yield server


@pytest.fixture
def adapter(jwks, signing_key, openrouter, pinecone_admin) -> Iterator[Adapter]:
    config = AdapterConfig(issuer=ISSUER, jwks_url=jwks.jwks_url, organization="sophia-ai")
    rotators = rotators_from_env(
        {
            "OPENROUTER_PROVISIONING_KEY": PROVISIONING_KEY,
            "OPENROUTER_API_URL": openrouter.base_url,
            "PINECONE_CLIENT_ID": "pc-client",
            "PINECONE_CLIENT_SECRET": PC_CLIENT_SECRET,
            "PINECONE_PROJECT_ID": "proj-1",
            "PINECONE_ADMIN_HOST": pinecone_admin.url,
            "PINECONE_OAUTH_URL": pinecone_admin.oauth_url,
        }
    )
    assert isinstance(rotators["openrouter"], OpenRouterRotator) and isinstance(rotators["pinecone"], PineconeRotator)
    served = Adapter(RotationAdapter(config, rotators), signing_key)
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_the_adapter_serves_what_the_esc_spec_points_at() -> None:
    spec = build_esc_spec(profile("production"))
    externals = [r for r in spec.rotators if r.provider == "external"]
    assert {r.inputs["request"]["service"] for r in externals} == {"openrouter", "pinecone"}
    assert all(r.inputs["url"] == AdapterConfig().audience for r in externals)  # the URL is the JWT audience


@pytest.mark.parametrize(
    ("case", "claims"),
    [
        ("audience", {"aud": "https://someone-else.example/rotate"}),
        ("issuer", {"iss": "https://evil.example"}),
        ("expired", {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}),
        ("organization", {"org": "another-org"}),
        ("body hash", {"body_hash": "sha256-" + "A" * 43 + "="}),
    ],
)
def test_a_token_that_fails_verification_rotates_nothing(adapter, openrouter, case: str, claims: dict) -> None:
    response = adapter.call("openrouter", None, **claims)
    assert response.status_code == 401, case
    assert openrouter.paths("POST") == [] and openrouter.live == {}


def test_a_token_signed_by_another_key_or_missing_is_refused(adapter, openrouter) -> None:
    impostor = Adapter.__new__(Adapter)
    impostor.key, impostor.url = rsa.generate_private_key(public_exponent=65537, key_size=2048), adapter.url
    assert Adapter.call(impostor, "openrouter", None).status_code == 401
    assert httpx.post(adapter.url, content=b"{}", timeout=10).status_code == 401
    assert openrouter.live == {}


def test_openrouter_keys_overlap_and_the_key_two_rotations_back_is_revoked(adapter, openrouter) -> None:
    _seed_id, seed_value = openrouter.seed("sk-or-v1")  # the organization's hand-made key, seeded as ESC state
    first = adapter.call("openrouter", {"apiKey": seed_value})
    assert first.status_code == 200, first.text
    s1 = first.json()
    assert openrouter.works(s1["apiKey"]) and openrouter.works(seed_value)  # nothing revoked yet
    assert s1["previousKeyId"] is None and "unknownPrevious" in s1

    s2 = adapter.call("openrouter", s1).json()
    assert s2["previousKeyId"] == s1["keyId"]
    assert openrouter.works(s1["apiKey"]) and openrouter.works(s2["apiKey"])

    s3 = adapter.call("openrouter", s2).json()
    assert openrouter.deleted == [s1["keyId"]]  # two rotations back
    assert not openrouter.works(s1["apiKey"])
    assert openrouter.works(s2["apiKey"]) and openrouter.works(s3["apiKey"])  # current and previous stay live
    ok = httpx.get(openrouter.base_url + "/key", headers={"Authorization": f"Bearer {s3['apiKey']}"}, timeout=10)
    gone = httpx.get(openrouter.base_url + "/key", headers={"Authorization": f"Bearer {s1['apiKey']}"}, timeout=10)
    assert (ok.status_code, gone.status_code) == (200, 401)


def test_a_failed_create_revokes_nothing_and_the_old_key_keeps_working(adapter, openrouter, caplog) -> None:
    caplog.set_level(logging.INFO)
    s1 = adapter.call("openrouter", None).json()
    s2 = adapter.call("openrouter", s1).json()
    openrouter.fail_next(1, 500, path="/api/v1/keys")  # a 5xx after POST is not retried (it may have created one)
    failed = adapter.call("openrouter", s2)
    assert failed.status_code == 502 and "nothing revoked" in failed.json()["error"]
    assert openrouter.deleted == [] and openrouter.works(s1["apiKey"]) and openrouter.works(s2["apiKey"])

    openrouter.fail_next(2, 429, path="/api/v1/keys")  # refused before acting: retried, then it works
    s3 = adapter.call("openrouter", s2).json()
    assert openrouter.works(s3["apiKey"]) and openrouter.deleted == [s1["keyId"]]
    _assert_no_values(caplog.text + failed.text, [s1["apiKey"], s2["apiKey"], s3["apiKey"], PROVISIONING_KEY])


def test_a_failed_revoke_is_retried_on_the_next_rotation(adapter, openrouter) -> None:
    s1 = adapter.call("openrouter", None).json()
    s2 = adapter.call("openrouter", s1).json()
    openrouter.fail_next(5, 503, path=f"/api/v1/keys/{s1['keyId']}")  # every retry of this revoke fails
    s3 = adapter.call("openrouter", s2).json()
    assert s3["pendingRevoke"] == [s1["keyId"]] and openrouter.works(s1["apiKey"])
    s4 = adapter.call("openrouter", s3).json()
    assert s4["pendingRevoke"] == [] and set(openrouter.deleted) == {s1["keyId"], s2["keyId"]}
    assert openrouter.works(s3["apiKey"]) and openrouter.works(s4["apiKey"])


def test_pinecone_keys_rotate_through_the_admin_sdk(adapter, pinecone_admin, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    states = [None]
    for _ in range(3):
        response = adapter.call("pinecone", states[-1])
        assert response.status_code == 200, response.text
        states.append(response.json())
    s1, s2, s3 = states[1:]
    assert pinecone_admin.deleted == [s1["keyId"]]

    def index_status(value: str) -> int:
        return httpx.get(pinecone_admin.url + "/indexes", headers={"Api-Key": value}, timeout=10).status_code

    assert [index_status(s["apiKey"]) for s in (s1, s2, s3)] == [401, 200, 200]
    created = [r for r in pinecone_admin.requests if r.method == "POST" and "/api-keys" in r.path]
    assert [r.json()["roles"] for r in created] == [["ProjectEditor"]] * 3
    _assert_no_values(caplog.text, [s["apiKey"] for s in (s1, s2, s3)] + [PC_CLIENT_SECRET])


def test_bad_requests_are_refused_without_touching_a_service(adapter, openrouter) -> None:
    assert adapter.call("twingly", None).status_code == 400  # no rotator for a manual secret
    assert adapter.call("openrouter", None, body=b'{"state": null}').status_code == 400
    assert adapter.call("openrouter", None, body=b"not json").status_code == 400
    assert openrouter.requests == []


def _assert_no_values(text: str, values: list[str]) -> None:
    for value in values:
        assert value not in text
