"""The inline Pulumi programs under `pulumi.runtime.set_mocks` (no CLI, no cloud)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pulumi
import pulumi.runtime
import pytest
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from infra_assets.programs.esc import esc_program
from infra_assets.programs.gpu_pool import API_KEY_CONFIG, gpu_pool_program
from infra_assets.programs.k8s import KUBECONFIG_CONFIG, k8s_program, resource_name
from infra_assets.specs import build_infra_specs
from infra_assets.specs.k8s import ESC_SECRET_NAME
from infra_assets.specs.pools import WORKLOAD_TYPE_LABEL
from infra_assets.specs.validation import image_pin_problem
from resources.profile import profile

PROJECT = "sophia-ai"
FAKE_LAMBDA_KEY = "secret_sophia_" + "f" * 32


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources[args.name] = args
        outputs = dict(args.inputs)
        if args.typ.endswith(":GpuPool"):
            outputs.update(instance_ids=[], instance_ips=[], node_count=args.inputs.get("desired_nodes", 0))
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


class RecordingMonitor(MockMonitor):
    """Also records each resource's declared dependencies (URNs) and `protect` option."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.dependencies: dict[str, list[str]] = {}
        self.protect: dict[str, bool] = {}

    def RegisterResource(self, request):
        self.dependencies[request.name] = list(request.dependencies)
        self.protect[request.name] = bool(request.protect)
        return super().RegisterResource(request)


@pytest.fixture
def mocks(request: pytest.FixtureRequest, pulumi_event_loop: None) -> Iterator[tuple[RecordingMocks, RecordingMonitor]]:
    recorder = RecordingMocks()
    monitor = RecordingMonitor(recorder)
    stack = getattr(request, "param", "production-k8s")
    pulumi.runtime.set_mocks(recorder, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    yield recorder, monitor
    pulumi.runtime.set_all_config({})


def _run(program) -> None:
    @pulumi.runtime.test
    def run() -> None:
        program()

    run()


def test_esc_program_uploads_the_rendered_yaml(mocks) -> None:
    recorder, _ = mocks
    spec = build_infra_specs(profile("production")).esc
    _run(esc_program(spec))
    env = recorder.resources["esc-environment"]
    assert env.typ == "pulumiservice:index:Environment"
    assert (env.inputs["organization"], env.inputs["project"], env.inputs["name"]) == (
        "sophia-ai",
        "sophia-ai",
        "production",
    )
    document = yaml.safe_load(env.inputs["yaml"].text)
    assert document["imports"] == ["sophia-ai/github-secrets", "sophia-ai/production-rotated"]
    assert document["values"]["environmentVariables"]["LAMBDA_API_KEY"] == "${infrastructure.lambda_labs.api_key}"


@pytest.mark.parametrize(
    ("prof", "protected"),
    [
        (profile("production"), True),
        (profile("local"), False),
        (dataclasses.replace(profile("local"), protect_stacks=True), True),  # the profile decides, not the name
        (dataclasses.replace(profile("production"), protect_stacks=False), False),
    ],
)
def test_esc_environment_protection_follows_the_profile(mocks, prof, protected: bool) -> None:
    _, monitor = mocks
    _run(esc_program(build_infra_specs(prof).esc))
    assert monitor.protect["esc-environment"] is protected


def test_k8s_program_creates_the_rendered_objects_with_dependencies(mocks) -> None:
    recorder, monitor = mocks
    pulumi.runtime.set_all_config({f"{PROJECT}:{KUBECONFIG_CONFIG}": "/etc/sophia/kubeconfig"})
    specs = build_infra_specs(profile("production"), desired_nodes=2)
    _run(k8s_program(specs.k8s))
    by_type: dict[str, list[str]] = {}
    for name, args in recorder.resources.items():
        by_type.setdefault(args.typ, []).append(name)
    assert len(by_type["kubernetes:core/v1:Namespace"]) == 2
    assert len(by_type["kubernetes:apps/v1:Deployment"]) == 5
    assert len(by_type["kubernetes:core/v1:Service"]) == 5
    assert len(by_type["kubernetes:external-secrets.io/v1:ExternalSecret"]) == 2
    assert len(by_type["kubernetes:external-secrets.io/v1:ClusterSecretStore"]) == 1
    assert recorder.resources["k8s"].inputs["kubeconfig"] == "/etc/sophia/kubeconfig"
    assert "kubernetes:core/v1:Secret" not in by_type

    for name in by_type["kubernetes:apps/v1:Deployment"]:
        pod = recorder.resources[name].inputs["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert image_pin_problem(container["image"]) is None
        secret_refs = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e]
        assert secret_refs and all(ref["name"] == ESC_SECRET_NAME for ref in secret_refs)

    tei = recorder.resources["deployment-sophia-inference-text-embeddings-inference"].inputs
    pod = tei["spec"]["template"]["spec"]
    assert tei["spec"]["replicas"] == 2
    assert pod["nodeSelector"] == {WORKLOAD_TYPE_LABEL: "ai-intelligence"}  # the brief's label, as every workload
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert tei["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "1200"

    deps = monitor.dependencies["deployment-sophia-inference-text-embeddings-inference"]
    assert any(u.endswith("::namespace-sophia-inference") for u in deps)
    assert any(u.endswith(f"::externalsecret-sophia-inference-{ESC_SECRET_NAME}") for u in deps)
    store_deps = monitor.dependencies[f"externalsecret-sophia-mcp-{ESC_SECRET_NAME}"]
    assert any(u.endswith("::clustersecretstore-pulumi-esc-production") for u in store_deps)
    assert all(recorder.resources[n].provider.endswith("::k8s::k8s-id") for n in by_type["kubernetes:core/v1:Service"])


def test_resource_names_are_stable() -> None:
    assert resource_name({"kind": "Namespace", "metadata": {"name": "a"}}) == "namespace-a"
    assert resource_name({"kind": "Service", "metadata": {"name": "s", "namespace": "n"}}) == "service-n-s"


@pytest.mark.parametrize("mocks", ["production-gpu-pool"], indirect=True)
def test_gpu_pool_program_passes_desired_nodes_and_a_secret_key(mocks) -> None:
    pytest.importorskip("infra_assets.lambda_cloud.provider")
    recorder, _ = mocks
    config_key = f"{PROJECT}:{API_KEY_CONFIG}"
    pulumi.runtime.set_all_config({config_key: FAKE_LAMBDA_KEY}, secret_keys=[config_key])
    pool = build_infra_specs(profile("production"), desired_nodes=3).gpu_pool
    _run(gpu_pool_program(pool))
    args = recorder.resources["gpu-pool"]
    assert args.typ.endswith(":GpuPool")
    inputs = args.inputs
    assert inputs["desired_nodes"] == 3
    assert inputs["instance_type"] == "gpu_1x_a10" and inputs["region"] == pool.region
    assert inputs["ssh_key_names"] == list(pool.ssh_key_names)
    assert inputs["name_prefix"] == pool.name_prefix
    assert rpc.is_rpc_secret(inputs["api_key"]) and rpc.unwrap_rpc_secret(inputs["api_key"]) == FAKE_LAMBDA_KEY
    plain = {k: v for k, v in inputs.items() if k not in ("api_key", "__provider")}
    assert FAKE_LAMBDA_KEY not in json.dumps(plain, default=str)
