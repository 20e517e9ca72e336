"""Pools join on boot and drain before terminate: the provider against the Lambda and Kubernetes stand-ins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from infra_assets.lambda_cloud.client import InsufficientCapacityError, LambdaApiError
from infra_assets.lambda_cloud.drain import DAGSTER_RUN_LABEL
from infra_assets.lambda_cloud.provider import LambdaGpuPoolProvider, LambdaPoolScalingError
from infra_assets.specs import build_infra_specs
from infra_assets.specs.cloud_init import K3S_CONFIG_PATH, render_cloud_config
from infra_assets.specs.cluster import POOL_LABEL, build_cluster_spec
from resources.profile import BUSINESS_INTELLIGENCE_POOL, DATA_INTELLIGENCE_POOL, profile
from tests.helpers import FakeTime
from tests.standins.kubernetes_api import KubernetesApiStandIn
from tests.standins.lambda_cloud import LambdaCloudStandIn

KEY = "sk-lambda-JOIN-SECRET-42"
JOIN_TOKEN = "k3s-join-token-SECRET-0123456789abcdef"
SERVER_URL = "https://192.0.2.10:6443"
POOL = "data-intelligence-pool"
LAUNCH = ("POST", "/instance-operations/launch")
TERMINATE = ("POST", "/instance-operations/terminate")


@pytest.fixture
def lam() -> Iterator[LambdaCloudStandIn]:
    with LambdaCloudStandIn(api_key=KEY) as standin:
        yield standin


@pytest.fixture
def kube() -> Iterator[KubernetesApiStandIn]:
    with KubernetesApiStandIn() as standin:
        yield standin


@pytest.fixture
def provider() -> LambdaGpuPoolProvider:
    fake = FakeTime(now=10.0)
    return LambdaGpuPoolProvider(sleep=fake.sleep, clock=fake.clock, wall_clock=fake.wall)


def _template() -> str:
    specs = build_infra_specs(profile("production"))
    cluster = build_cluster_spec("production", specs.gpu_pool, specs.node_pools)
    return render_cloud_config(cluster, cluster.pool(POOL))


def props(lam: LambdaCloudStandIn, desired: int, kube: KubernetesApiStandIn | None = None, **kw: Any) -> dict[str, Any]:
    base = {
        "pool_name": POOL,
        "instance_type": "cpu_4x_large",
        "region": "us-east-1",
        "ssh_key_names": ["sophia-ops"],
        "file_system_names": [],
        "desired_nodes": float(desired),
        "name_prefix": "data-intelligence-pool-production",
        "api_key": KEY,
        "api_base_url": lam.base_url,
        "user_data": _template(),
        "server_url": SERVER_URL,
        "join_token": JOIN_TOKEN,
        "drain_timeout_s": 60.0,
    }
    if kube is not None:
        base["kubeconfig"] = kube.kubeconfig()
    return {**base, **kw}


def _joined(kube: KubernetesApiStandIn, outs: dict[str, Any]) -> None:
    """What k3s does on boot with the user_data: each instance registers as the node of its name."""
    for name in outs["instance_names"]:
        if name not in kube.nodes:
            kube.add_node(name, {POOL_LABEL: POOL})


def test_each_launch_carries_the_filled_user_data_after_a_type_check(
    lam: LambdaCloudStandIn, provider: LambdaGpuPoolProvider
) -> None:
    outs = provider.create(props(lam, 2)).outs or {}
    launches = lam.calls(*LAUNCH)
    assert len(launches) == 2
    first_launch = lam.requests.index(launches[0])
    assert ("GET", "/api/v1/instance-types") in [(r.method, r.path) for r in lam.requests[:first_launch]]
    for request, name in zip(launches, outs["instance_names"], strict=True):
        user_data = request.body["user_data"]
        assert user_data.startswith("#cloud-config\n") and "@@" not in user_data
        files = {f["path"]: f["content"] for f in yaml.safe_load(user_data)["write_files"]}
        config = yaml.safe_load(files[K3S_CONFIG_PATH])
        assert (config["token"], config["server"], config["node-name"]) == (JOIN_TOKEN, SERVER_URL, name)
        assert "workload-type=data-intelligence" in config["node-label"]
    assert JOIN_TOKEN not in json.dumps(outs) and KEY not in json.dumps(outs)  # the filled document is not kept


def test_unknown_type_or_no_capacity_fails_before_any_launch(
    lam: LambdaCloudStandIn, provider: LambdaGpuPoolProvider
) -> None:
    with pytest.raises(LambdaApiError, match=r"no instance type 'cpu_99x_huge' \(known: cpu_4x_large, "):
        provider.create(props(lam, 1, instance_type="cpu_99x_huge"))
    lam.capacity = 0
    with pytest.raises(InsufficientCapacityError, match="no capacity for cpu_4x_large in us-east-1"):
        provider.create(props(lam, 1))
    assert lam.calls(*LAUNCH) == []


def test_scale_up_joins_then_scale_down_drains_before_terminating(
    lam: LambdaCloudStandIn, kube: KubernetesApiStandIn, provider: LambdaGpuPoolProvider
) -> None:
    created = provider.create(props(lam, 2, kube))
    outs = created.outs or {}
    _joined(kube, outs)
    newest = outs["instance_names"][-1]
    pod = kube.add_pod("sophia-mcp", "data-intelligence-mcp-1", newest)
    kube.pdb_blocks[pod] = 1  # the PodDisruptionBudget lets it go on the second ask

    down = provider.update(created.id, outs, props(lam, 1, kube)).outs or {}
    assert down["node_count"] == 1 and down["instance_names"] == outs["instance_names"][:1]
    assert newest not in kube.nodes and pod not in kube.pods  # drained, Node deleted
    (terminate,) = lam.calls(*TERMINATE)
    assert terminate.body["instance_ids"] == [outs["instance_ids"][-1]]
    evictions = [i for i, r in enumerate(kube.requests) if r.path.endswith("/eviction")]
    assert len(evictions) == 2  # blocked once, then allowed


def test_a_refused_or_impossible_drain_terminates_nothing(
    lam: LambdaCloudStandIn, kube: KubernetesApiStandIn, provider: LambdaGpuPoolProvider
) -> None:
    created = provider.create(props(lam, 1, kube))
    outs = created.outs or {}
    _joined(kube, outs)
    kube.add_pod("dagster", "run-7", outs["instance_names"][0], labels={DAGSTER_RUN_LABEL: "7"}, owner_kind="Job")
    with pytest.raises(LambdaPoolScalingError, match=r"stopped before terminating anything.*last Ready node"):
        provider.update(created.id, outs, props(lam, 0, kube))
    with pytest.raises(LambdaPoolScalingError, match="without draining them: no kubeconfig"):
        provider.update(created.id, outs, props(lam, 0))
    assert lam.calls(*TERMINATE) == [] and outs["instance_names"][0] in kube.nodes


@pytest.mark.parametrize("pool_name", [DATA_INTELLIGENCE_POOL, BUSINESS_INTELLIGENCE_POOL])
def test_every_cpu_pool_from_its_spec_joins_on_launch_and_drains_on_scale_down(
    lam: LambdaCloudStandIn, kube: KubernetesApiStandIn, provider: LambdaGpuPoolProvider, pool_name: str
) -> None:
    specs = build_infra_specs(profile("production"))
    spec = specs.node_pool(pool_name)
    cluster = build_cluster_spec("production", specs.gpu_pool, specs.node_pools)
    shape = {
        "pool_name": spec.pool_name,
        "instance_type": spec.instance_type,
        "region": spec.region,
        "ssh_key_names": list(spec.ssh_key_names),
        "file_system_names": list(spec.file_system_names),
        "name_prefix": spec.name_prefix,
        "user_data": render_cloud_config(cluster, cluster.pool(pool_name)),
    }
    created = provider.create(props(lam, 2, kube, **shape))
    outs = created.outs or {}
    launches = lam.calls(*LAUNCH)
    assert len(launches) == 2 and all(r.body["instance_type_name"] == spec.instance_type for r in launches)
    for request, name in zip(launches, outs["instance_names"], strict=True):
        config = yaml.safe_load(
            {f["path"]: f["content"] for f in yaml.safe_load(request.body["user_data"])["write_files"]}[K3S_CONFIG_PATH]
        )
        assert config["node-name"] == name and name.startswith(spec.name_prefix)
        assert f"workload-type={spec.workload_type}" in config["node-label"] and config["token"] == JOIN_TOKEN
    for name in outs["instance_names"]:
        kube.add_node(name, {POOL_LABEL: pool_name})
    newest = outs["instance_names"][-1]
    down = provider.update(created.id, outs, props(lam, 1, kube, **shape)).outs or {}
    assert down["node_count"] == 1 and newest not in kube.nodes  # drained and its Node deleted first
    (terminate,) = lam.calls(*TERMINATE)
    assert terminate.body["instance_ids"] == [outs["instance_ids"][-1]]
