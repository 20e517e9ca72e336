"""Desired state of the Kubernetes cluster the project owns: a k3s server on Lambda, and the pools that join it.

The cluster is `sophia-ai-<env>` (production: `sophia-ai-production`), either a k3s server the `<env>-cluster` stack
launches on a Lambda instance (`source="k3s"`) or an existing cluster named by a kubeconfig (`source="kubeconfig"`);
`SOPHIA_CLUSTER_SOURCE` chooses. Its node pools are data (`ClusterPool`): the GPU pool (`specs/gpu_pool.py`) and the
CPU node pools (`specs/node_pools.py`) seen through one shape — instance type, region, bounds, labels, taints and the
k3s role — which `specs/cloud_init.py` renders into the `#cloud-config` each launch passes as `user_data`.

k3s is pinned: `K3S_VERSION` and the sha256 of its amd64 binary, checked by `sha256sum -c` on the node before the
binary is installed. Secrets never appear here: the join token, the server URL and the node name are placeholders
the Lambda provider fills at launch (the token from a secret input), so rendered plans carry none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from infra_assets.specs.gpu_pool import GPU_TAINT_KEY, GpuPoolSpec
from infra_assets.specs.node_pools import NodePoolSpec
from infra_assets.specs.pools import COMPONENT_LABEL, LAMBDA_REGION, SSH_KEY_NAMES, WORKLOAD_TYPE_LABEL

K3S_VERSION = "v1.36.2+k3s1"
K3S_SHA256_AMD64 = "65a55ec56c24eab44383086166ec620a491952b7e23941a49ddca6e8a4c4b4de"
K3S_BINARY_URL = "https://github.com/k3s-io/k3s/releases/download/{version}/k3s"  # `+` in the tag must be %2B
K3S_API_PORT = 6443

# Filled by the provider at launch (LambdaGpuPoolProvider); a rendered plan shows only these markers.
TOKEN_PLACEHOLDER = "@@SOPHIA_K3S_TOKEN@@"
SERVER_URL_PLACEHOLDER = "@@SOPHIA_K3S_URL@@"
NODE_NAME_PLACEHOLDER = "@@SOPHIA_NODE_NAME@@"
ADMIN_TOKEN_PLACEHOLDER = "@@SOPHIA_K3S_ADMIN_TOKEN@@"
PLACEHOLDERS = (TOKEN_PLACEHOLDER, SERVER_URL_PLACEHOLDER, NODE_NAME_PLACEHOLDER, ADMIN_TOKEN_PLACEHOLDER)

POOL_LABEL = "sophia.ai/pool"  # every node carries its pool's name (drain and scale-down select by it)
GPU_TAINT_VALUE = "present"
CLUSTER_SOURCES = ("k3s", "kubeconfig")
CLUSTER_SOURCE_ENV_VAR = "SOPHIA_CLUSTER_SOURCE"
SERVER_INSTANCE_TYPE = "cpu_4x_large"  # the control plane only (tainted): 4 vCPU / 16 GiB is plenty for k3s

Role = Literal["server", "agent"]


@dataclass(frozen=True, slots=True)
class Taint:
    """A node taint, e.g. `nvidia.com/gpu=present:NoSchedule`."""

    key: str
    value: str
    effect: str = "NoSchedule"

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}"

    def toleration(self) -> dict[str, str]:
        """The pod toleration that lets workloads onto nodes with this taint."""
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


GPU_TAINT = Taint(GPU_TAINT_KEY, GPU_TAINT_VALUE)
CONTROL_PLANE_TAINT = Taint("node-role.kubernetes.io/control-plane", "true")


@dataclass(frozen=True, slots=True)
class ClusterPool:
    """One group of identical Lambda instances in the cluster: the one shape every pool (and the server) has."""

    name: str
    instance_type: str
    region: str
    min_nodes: int
    max_nodes: int
    desired_nodes: int
    labels: Mapping[str, str]
    taints: tuple[Taint, ...] = ()
    role: Role = "agent"
    gpu: bool = False
    ssh_key_names: tuple[str, ...] = SSH_KEY_NAMES
    file_system_names: tuple[str, ...] = ()

    @property
    def node_labels(self) -> dict[str, str]:
        """What the nodes register with: the pool's labels plus `sophia.ai/pool=<name>`."""
        return {**self.labels, POOL_LABEL: self.name}

    @property
    def node_selector(self) -> dict[str, str]:
        """How workloads select this pool: its `workload-type` label."""
        return {WORKLOAD_TYPE_LABEL: self.labels[WORKLOAD_TYPE_LABEL]}

    @property
    def tolerations(self) -> list[dict[str, str]]:
        return [t.toleration() for t in self.taints]


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """The cluster `name`: where it comes from, its server (k3s) and the pools that join it."""

    name: str
    env: str
    source: str
    server: ClusterPool
    pools: tuple[ClusterPool, ...]
    k3s_version: str = K3S_VERSION
    k3s_sha256: str = K3S_SHA256_AMD64
    api_port: int = K3S_API_PORT
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def owns_server(self) -> bool:
        """True when the `<env>-cluster` stack launches the k3s server (else the kubeconfig names the cluster)."""
        return self.source == "k3s"

    @property
    def k3s_binary_url(self) -> str:
        return K3S_BINARY_URL.format(version=self.k3s_version.replace("+", "%2B"))

    def pool(self, name: str) -> ClusterPool:
        """The pool called `name` (`KeyError` naming the known ones otherwise)."""
        for p in self.pools:
            if p.name == name:
                return p
        raise KeyError(f"no cluster pool {name!r}; known: {', '.join(p.name for p in self.pools)}")

    def pool_for(self, workload_type: str) -> ClusterPool:
        """The pool whose nodes carry `workload-type: <workload_type>`."""
        for p in self.pools:
            if p.labels.get(WORKLOAD_TYPE_LABEL) == workload_type:
                return p
        raise KeyError(f"no cluster pool for workload-type {workload_type!r}")


def check_cluster_source(source: str) -> str:
    """`source` if it is one of `CLUSTER_SOURCES`, else a `ValueError` listing them."""
    if source not in CLUSTER_SOURCES:
        raise ValueError(
            f"unknown cluster source {source!r} ({CLUSTER_SOURCE_ENV_VAR}); expected one of "
            f"{', '.join(CLUSTER_SOURCES)}"
        )
    return source


def cluster_pool(pool: GpuPoolSpec | NodePoolSpec) -> ClusterPool:
    """A node pool as a cluster pool. The GPU pool is tainted `nvidia.com/gpu=present:NoSchedule`, has the NVIDIA
    runtime on and carries its SSH keys and file systems; CPU pools have no taints (selected by label)."""
    gpu = (
        {
            "taints": (GPU_TAINT,),
            "gpu": True,
            "ssh_key_names": pool.ssh_key_names,
            "file_system_names": pool.file_system_names,
        }
        if isinstance(pool, GpuPoolSpec)
        else {}
    )
    return ClusterPool(
        name=pool.pool_name,
        instance_type=pool.instance_type,
        region=pool.region,
        min_nodes=pool.min_nodes,
        max_nodes=pool.max_nodes,
        desired_nodes=pool.desired_nodes,
        labels=dict(pool.labels),
        **gpu,
    )


def build_cluster_spec(
    env: str, gpu_pool: GpuPoolSpec, node_pools: tuple[NodePoolSpec, ...], *, source: str = "k3s"
) -> ClusterSpec:
    """`sophia-ai-<env>`: one k3s server (tainted control plane) and the GPU and CPU pools as its agents."""
    name = f"sophia-ai-{env}"
    server = ClusterPool(
        name=f"{name}-server",
        instance_type=SERVER_INSTANCE_TYPE,
        region=LAMBDA_REGION,
        min_nodes=1,
        max_nodes=1,
        desired_nodes=1,
        labels={WORKLOAD_TYPE_LABEL: "control-plane", COMPONENT_LABEL: "cluster", "sophia.ai/env": env},
        taints=(CONTROL_PLANE_TAINT,),
        role="server",
    )
    pools = (cluster_pool(gpu_pool), *(cluster_pool(p) for p in node_pools))
    return ClusterSpec(name=name, env=env, source=check_cluster_source(source), server=server, pools=pools)
