"""`secret_age` from ESC revision history, read by the real `pulumi_esc_sdk` client from an ESC stand-in.

Revision dates are planted: a mirrored secret's age is the date its ciphertext last changed in `github-secrets`;
a rotated one's the date its rotator's state last changed in `<env>-rotated`. Past the limit the check warns
and links the runbook; a value ESC never held warns as "not set". Planted values never reach logs or metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest

from infra_assets.assets import ESC_KEY
from infra_assets.secrets.secret_age import (
    RUNBOOK,
    EscRevisions,
    age_result,
    build_secret_age_checks,
    check_name,
    secret_ages,
    watched,
)
from infra_assets.settings import InfraSettings
from infra_assets.specs.esc import GITHUB_SECRETS_ENV, GITHUB_SECRETS_KEY, build_esc_spec
from resources.profile import profile
from resources.pulumi_stack import PulumiStackResource
from tests.standins.esc import EscStandin

TOKEN = "pul-" + "e" * 40  # planted: the ESC access token
PLANTED = "planted-plaintext-value-Qx81"  # planted: a value that must never be echoed
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SPEC = build_esc_spec(profile("production"))


def _mirror(overrides: dict[str, str], missing: tuple[str, ...] = ()) -> dict:
    secrets = {
        v.org_secret: {"fn::secret": {"ciphertext": overrides.get(v.org_secret, f"ZXNjeAAAAAE-{v.org_secret}-1")}}
        for v in SPEC.secrets
        if v.org_secret and v.org_secret not in missing
    }
    secrets["SOME_PLAINTEXT_SETTING"] = PLANTED
    return {"values": {GITHUB_SECRETS_KEY: secrets}}


def _rotated(states: dict[str, dict | None]) -> dict:
    rotators = {}
    for r in SPEC.rotators:
        body: dict = {"inputs": dict(r.inputs)}
        if states.get(r.name) is not None:
            body["state"] = states[r.name]
        rotators[r.name] = {f"fn::rotate::{r.provider}": body}
    return {"values": {"rotated": rotators}}


@pytest.fixture
def esc() -> Iterator[EscStandin]:
    with EscStandin(TOKEN, SPEC.organization, SPEC.project) as server:
        gone = ("LAMBDA_LABS_API_KEY",)
        server.add_revision(GITHUB_SECRETS_ENV, "2026-06-01T10:00:00Z", _mirror({}, gone))
        server.add_revision(GITHUB_SECRETS_ENV, "2026-09-01T10:00:00Z", _mirror({"TAVILY_API_KEY": "c2"}, gone))
        server.add_revision(
            GITHUB_SECRETS_ENV, "2026-11-25T10:00:00Z", _mirror({"TAVILY_API_KEY": "c2", "APIFY_API_TOKEN": "c3"}, gone)
        )
        rotated = SPEC.rotated_name
        first = {"openrouter": {"current": {"apiKey": {"fn::secret": {"ciphertext": "r1"}}}}, "pinecone": {"k": "p1"}}
        first["mcp_auth"] = {"current": {"fn::secret": {"ciphertext": "m1"}}}
        server.add_revision(rotated, "2026-11-01T03:00:00Z", _rotated(first))
        server.add_revision(rotated, "2026-11-20T03:00:00Z", _rotated({**first, "openrouter": {"keyId": "k2"}}))
        yield server


def _reader(esc: EscStandin) -> EscRevisions:
    return EscRevisions.connect(TOKEN, SPEC.organization, SPEC.project, esc.url)


def test_ages_come_from_the_revision_where_each_value_last_changed(esc: EscStandin) -> None:
    ages = {a.env_var: a for a in secret_ages(SPEC, _reader(esc))}
    assert set(ages) == {v.env_var for v in watched(SPEC)}
    assert ages["TAVILY_API_KEY"].changed.number == 2  # unchanged in revision 3
    assert ages["APIFY_TOKEN"].changed.number == 3
    assert ages["HF_TOKEN"].changed.number == 1  # the org's HUGGINGFACE_API_TOKEN, never changed
    assert ages["LAMBDA_API_KEY"].changed is None  # LAMBDA_LABS_API_KEY was never synced
    assert ages["OPENROUTER_API_KEY"].environment == SPEC.rotated_name
    assert ages["OPENROUTER_API_KEY"].changed.number == 2 and ages["PINECONE_API_KEY"].changed.number == 1
    assert ages["SNOWFLAKE_PRIVATE_KEY"].changed is None  # never rotated yet: no state
    assert not any(a.lower_bound for a in ages.values())


def test_a_short_walk_reports_a_lower_bound(esc: EscStandin) -> None:
    ages = {a.env_var: a for a in secret_ages(SPEC, _reader(esc), max_revisions=1)}
    assert ages["HF_TOKEN"].changed.number == 3 and ages["HF_TOKEN"].lower_bound


def test_results_warn_past_the_limit_and_link_the_runbook(esc: EscStandin) -> None:
    values = {v.env_var: v for v in watched(SPEC)}
    ages = {a.env_var: a for a in secret_ages(SPEC, _reader(esc))}
    tavily = age_result(values["TAVILY_API_KEY"], ages["TAVILY_API_KEY"], NOW, 90)
    apify = age_result(values["APIFY_TOKEN"], ages["APIFY_TOKEN"], NOW, 90)
    lam = age_result(values["LAMBDA_API_KEY"], ages["LAMBDA_API_KEY"], NOW, 90)
    assert (tavily.passed, apify.passed, lam.passed) == (False, True, False)
    assert tavily.severity == dg.AssetCheckSeverity.WARN
    assert tavily.metadata["age_days"].value == 90.6  # 2026-09-01 10:00 -> 2026-12-01 00:00
    assert "rotate it" in tavily.description and RUNBOOK in tavily.metadata["runbook"].value
    assert tavily.metadata["org_secret"].value == "TAVILY_API_KEY" and apify.metadata["revision"].value == 3
    assert "not set" in lam.description
    assert age_result(values["TAVILY_API_KEY"], ages["TAVILY_API_KEY"], NOW, 120).passed


def test_a_bad_token_fails_naming_the_call_not_the_token(esc: EscStandin) -> None:
    reader = EscRevisions.connect("pul-" + "0" * 40, SPEC.organization, SPEC.project, esc.url)
    with pytest.raises(Exception) as info:
        secret_ages(SPEC, reader)
    assert "versions" in str(info.value) and "401" in str(info.value) and "pul-" not in str(info.value)


def test_transient_faults_are_retried(esc: EscStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPHIA_RETRY_DELAY_SCALE", "0")
    esc.fail_next(2, 503)
    ages = {a.env_var: a for a in secret_ages(SPEC, _reader(esc))}
    assert ages["APIFY_TOKEN"].changed.number == 3


def test_the_checks_run_in_dagster_and_never_show_a_value(esc: EscStandin, capsys) -> None:
    @dg.asset(key=ESC_KEY)
    def esc_environment() -> None:
        return None

    checks = build_secret_age_checks("production", ESC_KEY)
    result = dg.materialize(
        [esc_environment, checks],
        resources={
            "infra": InfraSettings(env="production"),
            "pulumi": PulumiStackResource(access_token=TOKEN, backend_url=esc.url),  # ESC = the stacks' Pulumi Cloud
        },
        run_config={"ops": {"esc_environment_secret_age": {"config": {"max_age_days": 90}}}},
    )
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {check_name(v) for v in watched(SPEC)}
    assert evaluations["secret_age_apify_token"].passed and not evaluations["secret_age_tavily_api_key"].passed
    assert not evaluations["secret_age_snowflake_private_key"].passed
    shown = json.dumps([str(e.metadata) + str(e.description) for e in evaluations.values()])
    shown += "".join(str(ev) for ev in result.all_events) + "".join(capsys.readouterr())
    assert TOKEN not in shown and PLANTED not in shown and "ZXNjeAAAAAE" not in shown


def test_an_unreachable_esc_warns_every_check_without_failing_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPHIA_RETRY_DELAY_SCALE", "0")

    @dg.asset(key=ESC_KEY)
    def esc_environment() -> None:
        return None

    with EscStandin(TOKEN, SPEC.organization, SPEC.project) as down:
        down.fail_randomly(1.0, (503,))
        result = dg.materialize(
            [esc_environment, build_secret_age_checks("production", ESC_KEY)],
            resources={
                "infra": InfraSettings(env="production"),
                "pulumi": PulumiStackResource(access_token=TOKEN, backend_url=down.url),
            },
        )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(watched(SPEC)) and not any(e.passed for e in evaluations)
    assert all("cannot read ESC" in e.description and "503" in e.description for e in evaluations)
    assert TOKEN not in json.dumps([e.description for e in evaluations])


def test_without_a_token_the_checks_are_skipped() -> None:
    @dg.asset(key=ESC_KEY)
    def esc_environment() -> None:
        return None

    result = dg.materialize(
        [esc_environment, build_secret_age_checks("production", ESC_KEY)],
        resources={"infra": InfraSettings(env="production"), "pulumi": PulumiStackResource()},
    )
    assert result.success and result.get_asset_check_evaluations() == []
