"""Desired state of the Lambda Cloud GPU pool that runs the embedding server.

The nodes join the Kubernetes cluster with `labels` as node labels and a `nvidia.com/gpu` NoSchedule
taint, which is why the k8s spec derives its GPU node selector and tolerations from this spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from resources.profile import EnvProfile

GPU_POOL_LABEL = "sophia.ai/gpu-pool"
GPU_TAINT_KEY = "nvidia.com/gpu"


class NodeCountError(ValueError):
    """A requested GPU node count outside the pool's allowed range (refused before anything is rendered)."""


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
    backlog_per_node: int  # chunks one node embeds between two scaling decisions
    labels: Mapping[str, str] = field(default_factory=dict)
    taint_key: str = GPU_TAINT_KEY

    @property
    def node_selector(self) -> dict[str, str]:
        """The label that pins GPU workloads to this pool's nodes."""
        return {GPU_POOL_LABEL: self.pool_name}

    @property
    def allowed_range(self) -> str:
        """The node counts this pool may run, e.g. `0..4`."""
        return f"{self.min_nodes}..{self.max_nodes}"

    def check_nodes(self, nodes: int) -> int:
        """`nodes` when the pool may run that many, else `NodeCountError` naming the allowed range.

        The one rule for every requested size (CLI `--desired-nodes`, the assets' run config, the sensor);
        TEI replicas follow the pool, so the k8s stack is bounded by it too.
        """
        if isinstance(nodes, bool) or not isinstance(nodes, int) or not self.min_nodes <= nodes <= self.max_nodes:
            raise NodeCountError(
                f"desired_nodes {nodes!r} is out of range for GPU pool {self.pool_name}: "
                f"allowed {self.allowed_range} node(s)"
            )
        return nodes

    def clamp(self, nodes: int) -> int:
        """`nodes` bounded to [min_nodes, max_nodes] (for sizes nobody asked for now, e.g. a stale record)."""
        return max(self.min_nodes, min(self.max_nodes, nodes))

    def with_desired(self, nodes: int) -> GpuPoolSpec:
        """The same pool asked to run `nodes` nodes (not clamped: validation reports out-of-range)."""
        return replace(self, desired_nodes=nodes)


def build_gpu_pool_spec(profile: EnvProfile) -> GpuPoolSpec:
    """The `sophia-gpu-<env>` pool of gpu_1x_a10 instances in us-east-1 (A10: 24 GB, enough for TEI).

    Its size range and starting size are the profile's `gpu_pool` bounds.
    """
    bounds = profile.gpu_pool
    pool = f"sophia-gpu-{profile.name}"
    return GpuPoolSpec(
        pool_name=pool,
        instance_type="gpu_1x_a10",
        region="us-east-1",
        ssh_key_names=("sophia-ops",),
        file_system_names=("sophia-models-us-east-1",),
        min_nodes=bounds.min_nodes,
        max_nodes=bounds.max_nodes,
        desired_nodes=bounds.desired_nodes,
        name_prefix=pool,
        backlog_per_node=50_000,
        labels={GPU_POOL_LABEL: pool, "nvidia.com/gpu.product": "NVIDIA-A10", "sophia.ai/env": profile.name},
    )
