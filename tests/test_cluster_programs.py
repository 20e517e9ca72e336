"""The cluster, pool and k8s programs under Pulumi mocks, with the cluster source and the deploy flags on and off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pulumi.runtime
import pytest
import yaml
from pulumi.runtime import rpc

from infra_assets.node_pools import node_pool_work
from infra_assets.programs.cluster import EXISTING_KUBECONFIG_CONFIG, cluster_program
from infra_assets.programs.gpu_pool import API_KEY_CONFIG, PoolJoin, gpu_pool_program, node_pool_program
from infra_assets.programs.k8s import ACCESS_TOKEN_CONFIG, ESO_CHART_VERSION, k8s_program
from infra_assets.settings import InfraSettings
from infra_assets.specs import build_infra_specs
from infra_assets.specs.cloud_init import K3S_CONFIG_PATH, render_cloud_config
from infra_assets.specs.cluster import PLACEHOLDERS, TOKEN_PLACEHOLDER, ClusterSpec, build_cluster_spec
from resources.profile import BUSINESS_INTELLIGENCE_POOL, DATA_INTELLIGENCE_POOL, profile

PROJECT = "sophia-ai"
LAMBDA_KEY = "secret_sophia_" + "c" * 32
EXISTING_KUBECONFIG = "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: EXISTING-SECRET-TOKEN}}]\n"
PULUMI_TOKEN = "pul-" + "7" * 40
CLUSTER_STACK = "sophia-ai/sophia-ai/production-cluster"


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources[args.name] = args
        outputs: dict[str, Any] = dict(args.inputs)
        if args.typ.endswith(":GpuPool"):
            outputs.update(instance_ids=["i-1"], instance_ips=["192.0.2.10"], node_count=1)
        elif args.typ.endswith(":GeneratedToken"):
            outputs["value"] = f"generated-{args.name}"
        elif args.typ.endswith(":K3sKubeconfig"):
            outputs["kubeconfig"] = "apiVersion: v1\nkind: Config\n"
        elif args.typ == "pulumi:pulumi:StackReference":
            outputs["outputs"] = {"serverUrl": "https://192.0.2.10:6443", "joinToken": "jt", "kubeconfig": "kc"}
            outputs["secretOutputNames"] = ["joinToken", "kubeconfig"]
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


class Exports:
    """The stack outputs a program exported: values and which are secret."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.secret: set[str] = set()


@pytest.fixture
def mocks(pulumi_event_loop: None) -> Iterator[tuple[Mocks, Exports]]:
    recorder = Mocks()
    pulumi.runtime.set_mocks(recorder, project=PROJECT, stack="production-cluster", preview=False)
    exports = Exports()
    pulumi.runtime.settings.get_root_resource().outputs.clear()  # type: ignore[union-attr]
    yield recorder, exports
    pulumi.runtime.set_all_config({})


def _run(program, exports: Exports | None = None) -> None:  # type: ignore[no-untyped-def]
    @pulumi.runtime.test
    def run() -> pulumi.Output:
        program()
        outputs = dict(pulumi.runtime.settings.get_root_resource().outputs)  # type: ignore[union-attr]
        names = sorted(outputs)
        values = [pulumi.Output.from_input(outputs[n]) for n in names]

        async def secrets() -> list[bool]:
            return [await v.is_secret() for v in values]

        def record(resolved: list[Any]) -> None:
            *plain, flags = resolved
            if exports is not None:
                exports.values.update(zip(names, plain, strict=True))
                exports.secret.update(n for n, secret in zip(names, flags, strict=True) if secret)

        everything = [pulumi.Output.unsecret(v) for v in values] + [pulumi.Output.from_input(secrets())]
        return pulumi.Output.all(*everything).apply(record)

    run()


def _cluster(source: str = "k3s") -> ClusterSpec:
    specs = build_infra_specs(profile("production"))
    return build_cluster_spec("production", specs.gpu_pool, specs.node_pools, source=source)


def _secret_config(**values: str) -> None:
    keys = {f"{PROJECT}:{k}": v for k, v in values.items()}
    pulumi.runtime.set_all_config(keys, secret_keys=list(keys))


def test_cluster_program_launches_a_k3s_server_and_exports_secret_credentials(mocks) -> None:
    recorder, exports = mocks
    _secret_config(**{API_KEY_CONFIG: LAMBDA_KEY})
    cluster = _cluster()
    _run(cluster_program(cluster), exports)
    server = recorder.resources["k3s-server"].inputs
    assert server["desired_nodes"] == 1 and server["instance_type"] == cluster.server.instance_type
    assert server["user_data"] == render_cloud_config(cluster, cluster.server)
    assert "k3s server" in server["user_data"] and TOKEN_PLACEHOLDER in server["user_data"]
    for key in ("api_key", "join_token", "admin_token"):
        assert rpc.is_rpc_secret(server[key]), key
    kube = recorder.resources["kubeconfig"].inputs
    assert kube["server_url"] == "https://192.0.2.10:6443" and rpc.is_rpc_secret(kube["admin_token"])
    assert {"join-token", "admin-token"} <= set(recorder.resources)
    out = exports.values
    assert {"kubeconfig", "joinToken"} <= exports.secret and "serverUrl" not in exports.secret
    assert out["joinToken"] == "generated-join-token" and out["kubeconfig"].startswith("apiVersion: v1")
    assert out["serverUrl"] == "https://192.0.2.10:6443" and out["clusterName"] == "sophia-ai-production"
    assert LAMBDA_KEY not in json.dumps({k: v for k, v in server.items() if k != "api_key"}, default=str)


def test_cluster_program_with_an_existing_kubeconfig_launches_nothing(mocks) -> None:
    recorder, exports = mocks
    _secret_config(**{EXISTING_KUBECONFIG_CONFIG: EXISTING_KUBECONFIG})
    _run(cluster_program(_cluster("kubeconfig")), exports)
    assert not [r for r in recorder.resources.values() if r.typ.endswith((":GpuPool", ":GeneratedToken"))]
    assert {"kubeconfig", "joinToken"} <= exports.secret
    assert exports.values["kubeconfig"] == EXISTING_KUBECONFIG and exports.values["source"] == "kubeconfig"


@pytest.mark.parametrize("joined", [True, False])
def test_gpu_pool_program_joins_through_the_cluster_stack(mocks, joined: bool) -> None:
    recorder, _ = mocks
    _secret_config(**{API_KEY_CONFIG: LAMBDA_KEY})
    cluster = _cluster()
    specs = build_infra_specs(profile("production"))
    template = render_cloud_config(cluster, cluster.pool(specs.gpu_pool.pool_name))
    join = PoolJoin(template, CLUSTER_STACK) if joined else None
    _run(gpu_pool_program(specs.gpu_pool, join=join))
    pool = recorder.resources["gpu-pool"].inputs
    if not joined:
        assert not pool.get("user_data") and CLUSTER_STACK not in recorder.resources
        return
    assert recorder.resources[CLUSTER_STACK].typ == "pulumi:pulumi:StackReference"
    assert pool["user_data"] == template and all(p not in pool["server_url"] for p in PLACEHOLDERS)
    assert pool["server_url"] == "https://192.0.2.10:6443"
    assert rpc.is_rpc_secret(pool["join_token"]) and rpc.is_rpc_secret(pool["kubeconfig"])
    config = yaml.safe_load({f["path"]: f["content"] for f in yaml.safe_load(template)["write_files"]}[K3S_CONFIG_PATH])
    assert "nvidia.com/gpu=present:NoSchedule" in config["node-taint"] and config["default-runtime"] == "nvidia"


@pytest.mark.parametrize("pool_name", [DATA_INTELLIGENCE_POOL, BUSINESS_INTELLIGENCE_POOL])
@pytest.mark.parametrize("joined", [True, False])
def test_each_cpu_pool_stack_runs_the_same_provider_and_joins(mocks, tmp_path, pool_name: str, joined: bool) -> None:
    recorder, exports = mocks
    _secret_config(**{API_KEY_CONFIG: LAMBDA_KEY})
    infra = InfraSettings(env="production", out_dir=str(tmp_path))
    spec = infra.specs().node_pool(pool_name).with_desired(2)
    work = node_pool_work(infra, spec, "test")  # what the node_pool/<name> asset and the CLI run
    assert work.stack == f"production-{pool_name}"
    _run(work.program if joined else node_pool_program(spec), exports)
    (resource,) = [r for r in recorder.resources.values() if r.typ.endswith(":GpuPool")]
    pool = resource.inputs
    assert resource.name == pool_name  # one resource per pool, named by it
    assert (pool["pool_name"], pool["instance_type"], pool["desired_nodes"]) == (pool_name, spec.instance_type, 2)
    assert pool["name_prefix"] == f"{pool_name}-production" and pool["ssh_key_names"] == ["sophia-ops"]
    assert rpc.is_rpc_secret(pool["api_key"])
    assert exports.values["desired_nodes"] == 2 and exports.values["pool_name"] == pool_name
    if not joined:
        assert not pool.get("user_data") and CLUSTER_STACK not in recorder.resources
        return
    assert recorder.resources[CLUSTER_STACK].typ == "pulumi:pulumi:StackReference"
    cluster = _cluster()
    assert pool["user_data"] == render_cloud_config(cluster, cluster.pool(pool_name))
    assert rpc.is_rpc_secret(pool["join_token"]) and rpc.is_rpc_secret(pool["kubeconfig"])
    files = {f["path"]: f["content"] for f in yaml.safe_load(pool["user_data"])["write_files"]}
    config = yaml.safe_load(files[K3S_CONFIG_PATH])
    assert f"workload-type={spec.workload_type}" in config["node-label"]
    assert not config.get("node-taint") and "default-runtime" not in config  # CPU pools: no GPU taint/runtime


def _k8s(recorder: Mocks) -> dict[str, list[str]]:
    by_type: dict[str, list[str]] = {}
    for name, args in recorder.resources.items():
        by_type.setdefault(args.typ, []).append(name)
    return by_type


@pytest.mark.parametrize(
    ("flags", "deployments"),
    [
        ({}, 5),
        ({"deploy_business_intelligence": "false"}, 4),
        ({"deploy_ai_intelligence": "false"}, 3),  # its MCP server and TEI
        (
            {
                "deploy_ai_intelligence": "false",
                "deploy_data_intelligence": "false",
                "deploy_business_intelligence": "false",
            },
            1,  # the infrastructure server is always deployed
        ),
    ],
)
def test_k8s_program_deploys_the_enabled_domains_with_config_replicas(mocks, flags, deployments: int) -> None:
    recorder, _ = mocks
    config = {f"{PROJECT}:{k}": v for k, v in flags.items()}
    config[f"{PROJECT}:data-intelligence-mcp_replicas"] = "4"
    config[f"{PROJECT}:{ACCESS_TOKEN_CONFIG}"] = PULUMI_TOKEN
    pulumi.runtime.set_all_config(config, secret_keys=[f"{PROJECT}:{ACCESS_TOKEN_CONFIG}"])
    spec = build_infra_specs(profile("production")).k8s
    _run(k8s_program(spec, cluster_stack=CLUSTER_STACK))
    by_type = _k8s(recorder)
    assert len(by_type.get("kubernetes:apps/v1:Deployment", [])) == deployments
    assert len(by_type.get("kubernetes:policy/v1:PodDisruptionBudget", [])) == deployments
    assert len(by_type.get("kubernetes:core/v1:Service", [])) == deployments
    release = recorder.resources["external-secrets"].inputs
    assert release["chart"] == "external-secrets" and release["version"] == ESO_CHART_VERSION
    token = recorder.resources["secret-external-secrets-pulumi-access-token"].inputs
    assert rpc.is_rpc_secret(token["stringData"]) or rpc.is_rpc_secret(token["stringData"]["PULUMI_ACCESS_TOKEN"])
    assert rpc.is_rpc_secret(recorder.resources["k8s"].inputs["kubeconfig"])  # from the cluster stack's output
    if "deploy_data_intelligence" not in flags:
        data = recorder.resources["deployment-sophia-mcp-data-intelligence-mcp"].inputs
        assert data["spec"]["replicas"] == 4
        pod = data["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"workload-type": "data-intelligence"} and "tolerations" not in pod
    if not flags:
        ai = recorder.resources["deployment-sophia-mcp-ai-intelligence-mcp"].inputs["spec"]["template"]["spec"]
        assert ai["nodeSelector"] == {"workload-type": "ai-intelligence"}
        assert ai["tolerations"] == [
            {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
        ]
        assert "daemonset-kube-system-nvidia-device-plugin" in recorder.resources
