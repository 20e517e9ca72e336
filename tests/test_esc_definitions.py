"""ESC definitions for production: the brief's organization-secret names, no literal value anywhere, every
variable the code reads exported, rotators wired, and the esc stack creating the rotated environment once
(its YAML then belongs to ESC's rotations) with a rotation schedule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pulumi
import pulumi.runtime
import pytest
import yaml
from pulumi.runtime.mocks import MockMonitor

from infra_assets.programs.esc import RESOURCE_NAME, ROTATED_RESOURCE_NAME, SCHEDULE_RESOURCE_NAME, esc_program
from infra_assets.specs import build_infra_specs
from infra_assets.specs.esc import (
    CLUSTER_STACK_KEY,
    CURSOR_ENV_VARS,
    DAGSTER_PG_USERS,
    DEFAULT_ROTATION_ADAPTER_URL,
    GITHUB_SECRETS_KEY,
    esc_document,
    rotated_document,
)
from infra_assets.specs.validation import REQUIRED_EXPORTS, scan_esc_document, validate_esc
from resources.profile import profile
from tests.test_secret_sync_workflow import BRIEF_NAMES

SPEC = build_infra_specs(profile("production")).esc
RENAMED = {  # the names the code reads, which must never be asked of the organization
    "LAMBDA_LABS_API_KEY": "LAMBDA_API_KEY",
    "HUGGINGFACE_API_TOKEN": "HF_TOKEN",
    "DOCKER_PERSONAL_ACCESS_TOKEN": "DOCKER_TOKEN",
    "DOCKER_USER_NAME": "DOCKER_USERNAME",
    "APIFY_API_TOKEN": "APIFY_TOKEN",
    "PHANTOM_BUSTER_API_KEY": "PHANTOMBUSTER_API_KEY",
    "TOGETHER_AI_API_KEY": "TOGETHER_API_KEY",
}
REFERENCE = re.compile(r"^\$\{[^{}]+\}$")


def _leaves(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, str(key)))
    else:
        yield path, node


def _references(document: dict) -> set[str]:
    return {v[2:-1] for _, v in _leaves(document["values"]) if isinstance(v, str) and REFERENCE.match(v)}


def test_org_secrets_are_referenced_under_the_briefs_names_only() -> None:
    refs = _references(esc_document(SPEC)) | _references(rotated_document(SPEC))
    org_refs = {r.split(".", 1)[1] for r in refs if r.startswith(f"{GITHUB_SECRETS_KEY}.")}
    assert org_refs >= BRIEF_NAMES
    assert {"OPENROUTER_API_KEY", "PINECONE_API_KEY"} <= org_refs  # seeds of the rotated keys
    assert org_refs.isdisjoint(set(RENAMED.values()) - set(RENAMED))  # nobody renames an org secret
    exports = esc_document(SPEC)["values"]["environmentVariables"]
    for org, var in RENAMED.items():
        leaf = next(v for v in SPEC.secrets if v.org_secret == org)
        assert leaf.env_var == var and exports[var] == f"${{{leaf.dotted_path}}}"
        assert leaf.source == f"{GITHUB_SECRETS_KEY}.{org}"


def test_no_literal_value_in_either_definition() -> None:
    runtime, rotated = esc_document(SPEC), rotated_document(SPEC)
    assert validate_esc(SPEC, runtime).passed
    assert scan_esc_document(runtime)[1] == [] and scan_esc_document(rotated)[1] == []
    plain = set(SPEC.plain_env.values())
    for path, value in _leaves(runtime["values"]):
        if path[-1] == "stack" and CLUSTER_STACK_KEY in path:
            assert value == "sophia-ai/production-cluster"
        elif path[0] == "environmentVariables" and path[1] in SPEC.plain_env:
            assert value in plain
        else:
            assert isinstance(value, str) and REFERENCE.match(value), path
    allowed = {DEFAULT_ROTATION_ADAPTER_URL, "dagster", "production", *DAGSTER_PG_USERS, "openrouter", "pinecone"}
    for path, value in _leaves(rotated["values"]):
        if isinstance(value, str):
            assert REFERENCE.match(value) or value in allowed, path
        else:
            assert isinstance(value, bool | int), path  # ports, password length, flags


def test_every_variable_the_code_reads_is_exported() -> None:
    exported = set(SPEC.exported_env_vars)
    code_reads = REQUIRED_EXPORTS | {"HF_TOKEN", "MCP_AUTH_TOKEN", "SNOWFLAKE_PRIVATE_KEY", "KUBECONFIG"}
    assert code_reads | set(CURSOR_ENV_VARS) <= exported
    values = esc_document(SPEC)["values"]
    assert values["files"]["KUBECONFIG"] == "${infrastructure.cluster.kubeconfig}"
    assert values["infrastructure"]["cluster"] == {
        "kubeconfig": f"${{{CLUSTER_STACK_KEY}.cluster.kubeconfig}}",
        "join_token": f"${{{CLUSTER_STACK_KEY}.cluster.joinToken}}",
    }
    assert values[CLUSTER_STACK_KEY] == {
        "fn::open::pulumi-stacks": {"stacks": {"cluster": {"stack": "sophia-ai/production-cluster"}}}
    }
    assert values["environmentVariables"]["MCP_AUTH_TOKEN"] == "${platform.mcp.auth_token}"
    assert values["platform"]["mcp"]["auth_token"] == "${rotated.mcp_auth.current}"
    assert (
        dict(zip(CURSOR_ENV_VARS, ("sophia-ai", "sophia-ai", "production"), strict=True)).items()
        <= dict(values["environmentVariables"]).items()
    )


def test_rotators_cover_snowflake_postgres_mcp_and_the_api_keys() -> None:
    rotators = {r.name: r for r in SPEC.rotators}
    assert {n: r.provider for n, r in rotators.items()} == {
        "snowflake": "snowflake-user",
        "dagster_postgres": "postgres",
        "mcp_auth": "password",
        "openrouter": "external",
        "pinecone": "external",
    }
    pg = rotators["dagster_postgres"].inputs
    assert pg["rotateUsers"] == {"username1": "dagster_a", "username2": "dagster_b"}
    assert pg["database"]["managingUser"].startswith('${environments["sophia-ai"]["rotation-logins"]')
    assert rotators["openrouter"].state == {"current": {"apiKey": "${github_secrets.OPENROUTER_API_KEY}"}}


class _Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources[args.name] = args
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


class _Monitor(MockMonitor):
    def __init__(self, mocks: _Recorder) -> None:
        super().__init__(mocks)
        self.requests: dict[str, Any] = {}

    def RegisterResource(self, request):
        self.requests[request.name] = request
        return super().RegisterResource(request)


@pytest.fixture
def mocked(pulumi_event_loop: None) -> Iterator[tuple[_Recorder, _Monitor]]:
    recorder = _Recorder()
    monitor = _Monitor(recorder)
    pulumi.runtime.set_mocks(recorder, project="sophia-ai", stack="production-esc", preview=False, monitor=monitor)
    yield recorder, monitor
    pulumi.runtime.set_all_config({})


def test_the_esc_stack_creates_the_rotated_environment_once_and_schedules_rotation(mocked) -> None:
    recorder, monitor = mocked

    @pulumi.runtime.test
    def run() -> None:
        esc_program(SPEC)()

    run()
    rotated = recorder.resources[ROTATED_RESOURCE_NAME]
    assert rotated.inputs["name"] == "production-rotated"
    assert yaml.safe_load(rotated.inputs["yaml"].text) == rotated_document(SPEC)
    assert list(monitor.requests[ROTATED_RESOURCE_NAME].ignoreChanges) == ["yaml"]  # rotations own its state
    schedule = recorder.resources[SCHEDULE_RESOURCE_NAME]
    assert schedule.typ == "pulumiservice:index:EnvironmentRotationSchedule"
    assert (schedule.inputs["environment"], schedule.inputs["scheduleCron"]) == ("production-rotated", "0 3 1 * *")
    runtime_deps = list(monitor.requests[RESOURCE_NAME].dependencies)
    assert any(u.endswith(f"::{ROTATED_RESOURCE_NAME}") for u in runtime_deps)


def test_the_docs_table_is_the_catalogue() -> None:
    from pathlib import Path

    from secret_rotation.docs_table import BEGIN, DOC_PATH, END, secrets_table

    text = (Path(__file__).resolve().parents[1] / DOC_PATH).read_text(encoding="utf-8")
    assert text.split(BEGIN, 1)[1].split(END, 1)[0].strip() == secrets_table()
    for value in SPEC.secrets:
        assert f"| `{value.env_var}` |" in text
