"""Desired state of the Lambda Cloud GPU pool that runs the embedding server.

The nodes join the Kubernetes cluster with `labels` as node labels and a `nvidia.com/gpu` NoSchedule
taint, which is why the k8s spec derives its GPU node selector and tolerations from this spec. The spec also
says how fast a node embeds and boots, which the autoscaler plans with (`infra_assets/scaling.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from infra_assets.specs.pools import (
    COMPONENT_LABEL,
    LAMBDA_REGION,
    SSH_KEY_NAMES,
    WORKLOAD_TYPE_LABEL,
    NodeCountError,
    check_node_count,
)
from resources.profile import AI_INTELLIGENCE_POOL, EnvProfile

GPU_POOL_LABEL = "sophia.ai/gpu-pool"
GPU_TAINT_KEY = "nvidia.com/gpu"
__all__ = ["GPU_POOL_LABEL", "GPU_TAINT_KEY", "GpuPoolSpec", "NodeCountError", "build_gpu_pool_spec"]


@dataclass(frozen=True, slots=True)
class GpuPoolSpec:
    """A pool of identical Lambda instances, sized between `min_nodes` and `max_nodes`."""

    pool_name: str
    instance_type: str
    region: str
    ssh_key_names: tuple[str, ...]
    file_system_names: tuple[str, ...]
    min_nodes: int
    max_nodes: int
    desired_nodes: int
    name_prefix: str
    chunks_per_s_per_node: float  # TEI's embedding throughput on one node
    drain_target_s: float  # clear the backlog within this time (below the backlog-wait SLO, above boot_time_s)
    boot_time_s: float  # from "scale up" to embedding: instance boot + TEI loading the model from the NFS cache
    max_step_up: int  # nodes added per scaling decision at most
    max_step_down: int  # nodes removed per scaling decision at most
    labels: Mapping[str, str] = field(default_factory=dict)
    taint_key: str = GPU_TAINT_KEY

    @property
    def node_selector(self) -> dict[str, str]:
        """The label that pins GPU workloads to this pool's nodes: its `workload-type`, as every workload selects
        its domain's pool (`specs/k8s.py`)."""
        return {WORKLOAD_TYPE_LABEL: self.labels[WORKLOAD_TYPE_LABEL]}

    @property
    def allowed_range(self) -> str:
        """The node counts this pool may run, e.g. `0..4`."""
        return f"{self.min_nodes}..{self.max_nodes}"

    def check_nodes(self, nodes: int) -> int:
        """`nodes` when the pool may run that many, else `NodeCountError` naming the allowed range.

        The one rule for every requested size (CLI `--desired-nodes`, the assets' run config, the sensor);
        TEI replicas follow the pool, so the k8s stack is bounded by it too.
        """
        pool = f"GPU pool {self.pool_name}"
        return check_node_count(nodes, pool=pool, min_nodes=self.min_nodes, max_nodes=self.max_nodes)

    def clamp(self, nodes: int) -> int:
        """`nodes` bounded to [min_nodes, max_nodes] (for sizes nobody asked for now, e.g. a stale record)."""
        return max(self.min_nodes, min(self.max_nodes, nodes))

    def with_desired(self, nodes: int) -> GpuPoolSpec:
        """The same pool asked to run `nodes` nodes (not clamped: validation reports out-of-range)."""
        return replace(self, desired_nodes=nodes)


def build_gpu_pool_spec(profile: EnvProfile) -> GpuPoolSpec:
    """The `ai-intelligence-pool` of gpu_1x_a10 instances in us-east-1 (A10: 24 GB, enough for TEI).

    Its size range and starting size are the profile's `gpu_pool` bounds. Its nodes carry the cluster's workload
    labels of the AI-services pool, so the cluster's node pools (`specs/node_pools.py`) and this one read alike.
    """
    bounds = profile.gpu_pool
    pool = AI_INTELLIGENCE_POOL
    return GpuPoolSpec(
        pool_name=pool,
        instance_type="gpu_1x_a10",
        region=LAMBDA_REGION,
        ssh_key_names=SSH_KEY_NAMES,
        file_system_names=(f"sophia-models-{LAMBDA_REGION}",),
        min_nodes=bounds.min_nodes,
        max_nodes=bounds.max_nodes,
        desired_nodes=bounds.desired_nodes,
        name_prefix=f"{pool}-{profile.name}",  # instance names are unique across the account's environments
        chunks_per_s_per_node=300.0,  # bge-small on one A10 (benchmarks/autoscaling_sim.py uses the same figure)
        drain_target_s=1200.0,
        boot_time_s=600.0,
        max_step_up=2,
        max_step_down=1,
        labels={
            GPU_POOL_LABEL: pool,
            "nvidia.com/gpu.product": "NVIDIA-A10",
            "sophia.ai/env": profile.name,
            WORKLOAD_TYPE_LABEL: "ai-intelligence",
            COMPONENT_LABEL: "ai-services",
        },
    )
