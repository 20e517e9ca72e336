"""The pipeline's Snowflake resource takes the key pair ESC's `snowflake-user` rotator issues.

With SNOWFLAKE_PRIVATE_KEY set (exported from `<env>-rotated`), the warehouse authenticates with the private key
(PEM, parsed by dagster-snowflake) instead of the password; without it, the password as before. The connection
runs under fakesnow (patch mode), which accepts any credentials: what is tested is that the resource is wired for
key-pair auth and that a PEM key of the rotator's kind (2048-bit RSA, PKCS#8) loads into a working connection.
"""

from __future__ import annotations

import fakesnow
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from infra_assets.specs.esc import build_esc_spec
from resources.profile import profile
from resources.registry import live_resources

SETTINGS = {
    "SNOWFLAKE_ACCOUNT": "sophia-test",
    "SNOWFLAKE_USER": "PIPELINE",
    "SNOWFLAKE_DATABASE": "SOPHIA",
    "SNOWFLAKE_SCHEMA": "PIPELINES",
    "SNOWFLAKE_WAREHOUSE": "COMPUTE_WH",
    "SNOWFLAKE_ROLE": "PIPELINE_ROLE",
}


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def snowflake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)


def test_esc_exports_the_rotated_private_key() -> None:
    spec = build_esc_spec(profile("production"))
    leaf = next(v for v in spec.secrets if v.env_var == "SNOWFLAKE_PRIVATE_KEY")
    assert leaf.rotation == "snowflake-user" and leaf.source == "rotated.snowflake.privateKey"
    rotator = next(r for r in spec.rotators if r.name == "snowflake")
    assert rotator.provider == "snowflake-user" and rotator.inputs["targetUser"] == "${github_secrets.SNOWFLAKE_USER}"


def test_key_pair_auth_when_the_private_key_is_set(snowflake_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY", _pem())
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "not-used-password-9c1e")
    configured = live_resources(profile("production"))["warehouse"].snowflake
    assert configured.password is None and configured.private_key is not None
    snowflake = configured.process_config_and_initialize()  # resolves the EnvVars, as a run does
    with fakesnow.patch(), snowflake.get_connection() as conn:
        assert conn.cursor().execute("select 1").fetchone() == (1,)


def test_password_auth_without_a_private_key(snowflake_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNOWFLAKE_PRIVATE_KEY", raising=False)
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "a-password-3b7d")
    configured = live_resources(profile("production"))["warehouse"].snowflake
    assert configured.private_key is None and configured.password is not None
    snowflake = configured.process_config_and_initialize()
    with fakesnow.patch(), snowflake.get_connection() as conn:
        assert conn.cursor().execute("select 1").fetchone() == (1,)
