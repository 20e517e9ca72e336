"""Pure tests of the infra specs, their validation rules and the plan/result rendering helpers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from infra_assets.render import change_counts, manifests_yaml, masked_outputs, redactor, write_plan
from infra_assets.specs import build_infra_specs
from infra_assets.specs.esc import esc_document, render_esc_yaml
from infra_assets.specs.gpu_pool import GPU_POOL_LABEL
from infra_assets.specs.k8s import ESC_SECRET_NAME, render_manifests
from infra_assets.specs.pools import WORKLOAD_TYPE_LABEL
from infra_assets.specs.validation import (
    REDACTED,
    REQUIRED_EXPORTS,
    image_pin_problem,
    is_secret_name,
    looks_like_secret_value,
    scan_esc_document,
    scan_manifests,
    schema_findings,
    validate_esc,
    validate_gpu_pool,
    validate_k8s,
)
from resources.profile import profile

FAKE_OPENROUTER_KEY = "sk-or-v1-" + "0123456789abcdef" * 4


@pytest.fixture(params=["local", "production"])
def specs(request: pytest.FixtureRequest):
    return build_infra_specs(profile(request.param))


# ---------------------------------------------------------------- ESC


def test_esc_yaml_has_the_company_groups_and_exports(specs) -> None:
    doc = yaml.safe_load(render_esc_yaml(specs.esc))
    assert doc["imports"] == ["sophia-ai/github-secrets", f"sophia-ai/{specs.esc.name}-rotated"]
    values = doc["values"]
    assert set(values["ai_services"]) == {"arize", "openrouter", "portkey", "huggingface", "together_ai"}
    assert set(values["ai_services"]["arize"]) == {"space_id", "api_key"}
    assert set(values["ai_services"]["portkey"]) == {"api_key", "config"}
    assert set(values["data_services"]) == {"apify", "phantombuster", "twingly", "tavily", "zenrows"}
    assert set(values["infrastructure"]) == {"lambda_labs", "docker", "pulumi", "cluster"}
    assert set(values["infrastructure"]["docker"]) == {"username", "token"}
    assert set(values["snowflake"]) == {
        "account",
        "user",
        "password",
        "private_key",
        "role",
        "warehouse",
        "database",
        "schema",
    }
    assert set(values["pinecone"]) == {"api_key", "index_host", "sparse_index_host"}
    exports = values["environmentVariables"]
    assert set(exports) >= REQUIRED_EXPORTS
    assert exports["APIFY_TOKEN"] == "${data_services.apify.token}"
    assert values["data_services"]["apify"]["token"] == "${github_secrets.APIFY_API_TOKEN}"  # the brief's name
    assert exports["SOPHIA_ENV"] == specs.esc.name
    assert exports["TEI_URL"].endswith(".svc.cluster.local")


def test_esc_spec_is_valid_and_holds_only_references(specs) -> None:
    report = validate_esc(specs.esc)
    assert report.passed, report.markdown()
    assert report.counts["secrets_referenced"] == len(specs.esc.secrets) == 33
    _, findings = scan_esc_document(esc_document(specs.esc))
    assert findings == []


def test_esc_literals_are_found_and_redacted() -> None:
    spec = build_infra_specs(profile("production")).esc
    doc = esc_document(spec)
    doc["values"]["pinecone"]["api_key"] = "pcsk_" + "x" * 30
    doc["values"]["snowflake"]["password"] = {"fn::secret": "hunter2-plaintext"}
    doc["values"]["data_services"]["tavily"]["api_key"] = "not-a-reference"
    doc["values"]["infrastructure"]["docker"]["token"] = {"fn::secret": {"ciphertext": "ZXNjeAAAAAE="}}  # allowed
    redacted, findings = scan_esc_document(doc)
    assert len(findings) == 3 and {f.rule for f in findings} == {"secret_literal"}
    text = json.dumps(redacted) + json.dumps([dataclasses.asdict(f) for f in findings])
    assert "pcsk_" not in text and "hunter2" not in text and "not-a-reference" not in text
    assert redacted["values"]["infrastructure"]["docker"]["token"] == {"fn::secret": {"ciphertext": "ZXNjeAAAAAE="}}
    report = validate_esc(spec, doc)
    assert not report.passed and report.count("secret_literal") == 3


def test_esc_dangling_reference_and_missing_export_are_reported() -> None:
    spec = build_infra_specs(profile("production")).esc
    doc = esc_document(spec)
    doc["values"]["environmentVariables"]["EXTRA"] = "${nowhere.to_be.found}"
    del doc["values"]["environmentVariables"]["TAVILY_API_KEY"]
    report = validate_esc(spec, doc)
    assert report.count("reference") == 1 and report.count("secret_exported") == 1


# ---------------------------------------------------------------- GPU pool


def test_gpu_pool_spec_is_valid(specs) -> None:
    pool = specs.gpu_pool
    assert validate_gpu_pool(pool).passed
    assert pool.instance_type == "gpu_1x_a10" and pool.labels[GPU_POOL_LABEL] == pool.pool_name
    assert pool.min_nodes <= pool.desired_nodes <= pool.max_nodes
    assert pool.clamp(99) == pool.max_nodes and pool.clamp(-1) == pool.min_nodes


def test_gpu_pool_rules() -> None:
    pool = build_infra_specs(profile("production")).gpu_pool
    assert validate_gpu_pool(pool.with_desired(pool.max_nodes + 1)).count("nodes_in_bounds") == 1
    bad = dataclasses.replace(pool, ssh_key_names=("a", "b"), instance_type="a10", region="mars")
    rules = {f.rule for f in validate_gpu_pool(bad).findings}
    assert rules == {"ssh_keys", "instance_type", "region"}


# ---------------------------------------------------------------- Kubernetes


def _by_kind(manifests: list[dict], kind: str) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def test_k8s_manifests_shape(specs) -> None:
    manifests = render_manifests(specs.k8s)
    assert set(_by_kind(manifests, "Namespace")) == {"sophia-mcp", "sophia-inference"}
    deployments = _by_kind(manifests, "Deployment")
    assert set(deployments) == {
        "ai-intelligence-mcp",
        "data-intelligence-mcp",
        "infrastructure-mcp",
        "business-intelligence-mcp",
        "text-embeddings-inference",
    }
    assert set(_by_kind(manifests, "Service")) == set(deployments)
    assert not _by_kind(manifests, "Secret")  # secrets are synced by ESO, never rendered
    tei = deployments["text-embeddings-inference"]["spec"]["template"]["spec"]
    assert tei["nodeSelector"] == {WORKLOAD_TYPE_LABEL: "ai-intelligence"}  # the brief's label, as every workload
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tei["tolerations"]
    assert tei["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert deployments["text-embeddings-inference"]["spec"]["replicas"] == specs.gpu_pool.desired_nodes
    for d in deployments.values():
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert image_pin_problem(container["image"]) is None
        assert container["readinessProbe"]["httpGet"]["path"] and container["livenessProbe"]
        for env in container["env"]:
            if is_secret_name(env["name"]):
                assert "value" not in env
                assert env["valueFrom"]["secretKeyRef"]["name"] == ESC_SECRET_NAME
    external = _by_kind(manifests, "ExternalSecret")[ESC_SECRET_NAME]
    assert external["spec"]["secretStoreRef"]["kind"] == "ClusterSecretStore"
    assert all(d["remoteRef"]["key"].startswith("environmentVariables.") for d in external["spec"]["data"])


def test_rendered_yaml_is_plain(specs) -> None:
    text = manifests_yaml(render_manifests(specs.k8s))
    assert "&id" not in text and "*id" not in text  # no anchors/aliases, even for repeated probe blocks
    assert list(yaml.safe_load_all(text)) == render_manifests(specs.k8s)


def test_k8s_spec_is_valid_against_schemas(specs) -> None:
    report = validate_k8s(specs.k8s)
    assert report.passed, report.markdown()
    assert report.counts["schema_validated"] == 18 and report.counts["schema_skipped_crds"] == 3


def test_tei_replicas_follow_the_gpu_pool() -> None:
    specs = build_infra_specs(profile("production"), desired_nodes=3)
    tei = next(w for w in specs.k8s.workloads if w.on_gpu_pool)
    assert tei.replicas == 3 and specs.gpu_pool.desired_nodes == 3


def test_bad_k8s_spec_fails_each_rule() -> None:
    specs = build_infra_specs(profile("production"))
    workloads = list(specs.k8s.workloads)
    workloads[0] = dataclasses.replace(
        workloads[0], image="ghcr.io/sophia-ai/ai-intelligence-mcp:latest", env={"OPENROUTER_API_KEY": "x" * 12}
    )
    workloads[1] = dataclasses.replace(workloads[1], replicas=50, secret_env=("NOT_IN_ESC",))
    workloads[2] = dataclasses.replace(workloads[2], env={"NOTE": FAKE_OPENROUTER_KEY})
    report = validate_k8s(dataclasses.replace(specs.k8s, workloads=tuple(workloads)))
    assert report.count("image_pinned") == 1
    assert report.count("secret_literal") == 2
    assert report.count("replicas_in_bounds") == 1
    assert report.count("secret_exported") == 1
    assert FAKE_OPENROUTER_KEY not in report.markdown()


def test_literal_secrets_are_redacted_from_manifests() -> None:
    manifests = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "hunter2"}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"note": f"token {FAKE_OPENROUTER_KEY}"},
        },
    ]
    redacted, findings = scan_manifests(manifests)
    assert len(findings) == 2
    assert "hunter2" not in manifests_yaml(redacted) and FAKE_OPENROUTER_KEY not in manifests_yaml(redacted)
    assert redacted[0]["stringData"] == {"k": REDACTED}
    assert manifests[0]["stringData"] == {"k": "hunter2"}  # input untouched


def test_schema_violation_is_reported_with_location() -> None:
    deployment = render_manifests(build_infra_specs(profile("local")).k8s)[-12]  # then 5 Services, 5 PDBs, 1 DaemonSet
    assert deployment["kind"] == "Deployment"
    deployment["spec"]["replicas"] = "two"
    findings, validated, skipped = schema_findings([deployment], "1.30")
    assert validated == 1 and not skipped
    assert findings[0].rule == "schema" and findings[0].message.startswith("spec.replicas")


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("ghcr.io/org/app:1.2.3", True),
        ("localhost:5000/app:2024-01-01", True),
        ("ghcr.io/org/app@sha256:" + "a" * 64, True),
        ("ghcr.io/org/app:latest", False),
        ("ghcr.io/org/app", False),
        ("localhost:5000/app", False),
        ("app:main", False),
        ("app@sha256:short", False),
    ],
)
def test_image_pinning(image: str, pinned: bool) -> None:
    assert (image_pin_problem(image) is None) is pinned


def test_secret_name_and_value_heuristics() -> None:
    assert all(is_secret_name(n) for n in ["OPENROUTER_API_KEY", "HF_TOKEN", "secretKey", "SNOWFLAKE_PASSWORD"])
    assert not any(is_secret_name(n) for n in ["PORTKEY_CONFIG", "SOPHIA_ENV", "LOG_LEVEL", "EMBEDDINGS_URL"])
    assert looks_like_secret_value(FAKE_OPENROUTER_KEY) and looks_like_secret_value("pul-" + "a" * 40)
    assert not looks_like_secret_value("ghcr.io/sophia-ai/data-intelligence-mcp:1.6.2")
    assert not looks_like_secret_value("disk-usage-alert-threshold-exceeded-now")


# ---------------------------------------------------------------- rendering helpers


def test_write_plan_writes_files_and_digests(tmp_path: Path) -> None:
    paths = write_plan(tmp_path, "local-k8s", {"manifests.yaml": "a: 1\n"}, {"mode": "plan", "resources_planned": 1})
    assert paths["manifests.yaml"].read_text() == "a: 1\n"
    summary = json.loads(paths["plan.json"].read_text())
    assert summary["stack"] == "local-k8s" and summary["mode"] == "plan" and "manifests.yaml" in summary["files"]
    assert not [p for p in (tmp_path / "local-k8s").iterdir() if p.name.endswith(".tmp")]


def test_outputs_are_masked_and_redacted() -> None:
    class OutputValue:  # the Automation API's shape
        def __init__(self, value: object, secret: bool) -> None:
            self.value, self.secret = value, secret

    redact = redactor(["s3cr3t-value"])
    outputs = {
        "node_count": OutputValue(2, False),
        "token": OutputValue("s3cr3t-value", True),
        "kubeconfig": "plain",
        "note": "contains s3cr3t-value inline",
    }
    masked = masked_outputs(outputs, ["kubeconfig"], redact)
    assert masked == {
        "node_count": 2,
        "token": "[secret]",
        "kubeconfig": "[secret]",
        "note": "contains [secret] inline",
    }
    assert change_counts({"create": 2, "same": 5, "update": 1}) == {
        "changes_create": 2,
        "changes_same": 5,
        "changes_update": 1,
        "changes_total": 3,
    }
