"""Desired state of the cluster's CPU node pools, and the signal each is sized by (pure).

Each pool is a group of identical nodes carrying the cluster's workload labels (`workload-type`,
`sophia-component`); workloads select them by those labels. Its size range and starting size are the profile's
`cpu_pools[<pool name>]`; its shape (instance type, labels, boot time, steps) and its signal are declared here:

- `data-intelligence-pool` (cpu_4x_large): the Dagster run pods of the data plane, sized by the run queue
  (queued + in-progress runs, `runs_per_node` run pods per node);
- `business-intelligence-pool` (cpu_8x_large): the analytics workloads people use interactively, sized by a
  business-hours window (the pool's max inside it, its min outside).

Each pool is its own stack `<env>-<pool name>` run by the same Lambda dynamic provider as the GPU pool
(`programs/gpu_pool.py`): its nodes join the cluster on boot and are drained before termination.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from infra_assets.autoscaling.cpu import BusinessHours
from infra_assets.specs.pools import (
    COMPONENT_LABEL,
    LAMBDA_REGION,
    SSH_KEY_NAMES,
    WORKLOAD_TYPE_LABEL,
    check_node_count,
)
from resources.profile import BUSINESS_INTELLIGENCE_POOL, DATA_INTELLIGENCE_POOL, EnvProfile, PoolBounds


@dataclass(frozen=True, slots=True)
class NodePoolSpec:
    """One CPU node pool: its nodes, its bounds and what sizes it (the run queue, business hours, or both)."""

    pool_name: str
    instance_type: str
    min_nodes: int
    max_nodes: int
    desired_nodes: int  # the size it starts at (later runs keep the current size)
    name_prefix: str  # instances are named `<name_prefix>-NNN` (unique across the account's environments)
    boot_time_s: float  # from "scale up" to a node taking pods
    max_step_up: int
    max_step_down: int
    labels: Mapping[str, str] = field(default_factory=dict)
    region: str = LAMBDA_REGION
    ssh_key_names: tuple[str, ...] = SSH_KEY_NAMES
    file_system_names: tuple[str, ...] = ()  # CPU pools mount no model cache
    runs_per_node: int | None = None  # sized by the run queue: run pods one node holds
    business_hours: BusinessHours | None = None  # sized by this window: max inside, min outside

    @property
    def allowed_range(self) -> str:
        return f"{self.min_nodes}..{self.max_nodes}"

    @property
    def workload_type(self) -> str:
        return self.labels.get(WORKLOAD_TYPE_LABEL, "")

    def check_nodes(self, nodes: int) -> int:
        """`nodes` when the pool may run that many, else `NodeCountError` naming the allowed range."""
        pool = f"node pool {self.pool_name}"
        return check_node_count(nodes, pool=pool, min_nodes=self.min_nodes, max_nodes=self.max_nodes)

    def clamp(self, nodes: int) -> int:
        """`nodes` bounded to [min_nodes, max_nodes] (for a recorded size nobody asked for now)."""
        return max(self.min_nodes, min(self.max_nodes, nodes))

    def with_desired(self, nodes: int) -> NodePoolSpec:
        return replace(self, desired_nodes=self.check_nodes(nodes))

    def describe_signal(self) -> str:
        """What sizes this pool, for descriptions and metadata."""
        parts = []
        if self.runs_per_node is not None:
            parts.append(f"the run queue (queued + in-progress runs, {self.runs_per_node} run pods per node)")
        if self.business_hours is not None:
            parts.append(f"business hours ({self.business_hours.describe()}: max inside, min outside)")
        return " and ".join(parts) or "nothing (no signal declared)"


def _bounds(profile: EnvProfile, pool: str) -> PoolBounds:
    if pool not in profile.cpu_pools:
        raise ValueError(f"profile {profile.name!r} has no bounds for node pool {pool} (EnvProfile.cpu_pools)")
    return profile.cpu_pools[pool]


def _pool(
    profile: EnvProfile,
    name: str,
    instance_type: str,
    labels: tuple[str, str],
    *,
    runs_per_node: int | None = None,
    business_hours: BusinessHours | None = None,
) -> NodePoolSpec:
    bounds = _bounds(profile, name)
    workload, component = labels
    return NodePoolSpec(
        pool_name=name,
        instance_type=instance_type,
        min_nodes=bounds.min_nodes,
        max_nodes=bounds.max_nodes,
        desired_nodes=bounds.desired_nodes,
        name_prefix=f"{name}-{profile.name}",
        boot_time_s=180.0,  # a CPU instance joins the cluster and pulls the run image in about 3 minutes
        max_step_up=1,
        max_step_down=1,
        labels={WORKLOAD_TYPE_LABEL: workload, COMPONENT_LABEL: component, "sophia.ai/env": profile.name},
        runs_per_node=runs_per_node,
        business_hours=business_hours,
    )


def build_node_pool_specs(profile: EnvProfile) -> tuple[NodePoolSpec, ...]:
    """The cluster's CPU node pools for `profile` (bounds from `profile.cpu_pools`)."""
    return (
        _pool(profile, DATA_INTELLIGENCE_POOL, "cpu_4x_large", ("data-intelligence", "data-services"), runs_per_node=4),
        _pool(
            profile,
            BUSINESS_INTELLIGENCE_POOL,
            "cpu_8x_large",
            ("business-intelligence", "analytics"),
            business_hours=BusinessHours(off_hours_nodes=0),  # outside the window: the pool's min
        ),
    )
