"""The pools the infrastructure tools scale, read from the infra specs of the current profile (never by name here).

A pool is the Lambda GPU pool (`lambda_gpu_pool`, scaled by `scale_gpu_pool_job`) or a CPU node pool
(`node_pool/<name>`, scaled by `scale_node_pool_job` with that asset selected). `plan` applies the autoscaler's
policy (bounds, steps, cooldowns: `infra_assets.scaling`) to a requested size; `scale_request` is the run an
operator's explicit request launches: exactly the size asked for, refused outside the pool's min..max.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from infra_assets.assets import GPU_POOL_KEY
from infra_assets.autoscaling import Demand, decide
from infra_assets.definitions import SCALE_GPU_POOL_JOB, SCALE_NODE_POOL_JOB
from infra_assets.environment import infra_settings, pulumi_resource
from infra_assets.node_pools import node_pool_key
from infra_assets.pool_size import PoolSize, PoolSizeUnavailable, current_node_pool_size, current_pool_size
from infra_assets.scaling import pool_policy, since_change
from infra_assets.sensors import scale_run_config
from infra_assets.sensors.requests import scaling_tags
from infra_assets.settings import InfraSettings
from infra_assets.specs.gpu_pool import GpuPoolSpec
from infra_assets.specs.node_pools import NodePoolSpec
from infra_assets.specs.pools import NodeCountError
from resources.profile import current_env
from sophia_mcp.errors import Refused

MCP_SIGNAL = "mcp"  # the scaling tag of runs an operator requested through the infrastructure server


@dataclass(frozen=True)
class Pool:
    """One scalable pool: its spec, the asset that sizes it and the job that runs that asset."""

    spec: GpuPoolSpec | NodePoolSpec
    asset_key: Any  # dg.AssetKey
    job: str

    @property
    def name(self) -> str:
        return self.spec.pool_name

    @property
    def kind(self) -> str:
        return "gpu" if isinstance(self.spec, GpuPoolSpec) else "cpu"


def settings() -> InfraSettings:
    """The infra settings of the current profile, from the environment (plan mode unless SOPHIA_INFRA_MODE)."""
    return infra_settings(current_env(), secrets="value")


def pools(infra: InfraSettings) -> list[Pool]:
    """Every pool of the profile: the GPU pool first, then the CPU node pools."""
    specs = infra.specs()
    gpu = Pool(specs.gpu_pool, GPU_POOL_KEY, SCALE_GPU_POOL_JOB)
    return [gpu, *(Pool(p, node_pool_key(p.pool_name), SCALE_NODE_POOL_JOB) for p in specs.node_pools)]


def find_pool(infra: InfraSettings, name: str) -> Pool:
    known = pools(infra)
    for pool in known:
        if pool.name == name.strip():
            return pool
    raise Refused(f"unknown pool {name!r}; known: {', '.join(p.name for p in known)}")


def current_size(infra: InfraSettings, pool: Pool) -> PoolSize:
    """The pool's size now (`infra_assets.pool_size`: stack outputs, last plan, or the spec's default)."""
    pulumi = pulumi_resource(secrets="value")
    try:
        if isinstance(pool.spec, NodePoolSpec):
            return current_node_pool_size(infra, pulumi, pool.spec)
        return current_pool_size(infra, pulumi)
    except PoolSizeUnavailable as exc:
        raise Refused(str(exc)) from None


def describe(pool: Pool, size: PoolSize) -> dict[str, Any]:
    spec = pool.spec
    return {
        "pool": pool.name,
        "kind": pool.kind,
        "instance_type": spec.instance_type,
        "nodes": size.nodes,
        "size_from": size.label,
        "min_nodes": spec.min_nodes,
        "max_nodes": spec.max_nodes,
        "scaled_by_job": pool.job,
    }


def plan(infra: InfraSettings, pool: Pool, nodes: int, now: float | None = None) -> dict[str, Any]:
    """What the policy and the bounds make of a request for `nodes` (no side effects)."""
    size = current_size(infra, pool)
    policy = pool_policy(infra.profile, pool.spec)
    demand = Demand(signal=f"requested {nodes} node(s)", up_to=max(nodes, 0), down_to=max(nodes, 0), has_work=False)
    decision = decide(policy, demand, current=size.nodes, since_change_s=since_change(size, now or time.time()))
    try:
        pool.spec.check_nodes(nodes)
        request = f"request_scaling would launch {pool.job} to run {nodes} node(s) now"
    except NodeCountError as exc:
        request = f"request_scaling would be refused: {exc}"
    return {
        **describe(pool, size),
        "requested": nodes,
        "within_bounds": pool.spec.min_nodes <= nodes <= pool.spec.max_nodes,
        "policy": {
            "new_size": decision.new_size,
            "changes": decision.changed,
            "reason": decision.reason,
            "max_step_up": policy.max_step_up,
            "max_step_down": policy.max_step_down,
            "up_cooldown_s": policy.up_cooldown_s,
            "down_cooldown_s": policy.down_cooldown_s,
        },
        "request_scaling": request,
    }


def scale_request(pool: Pool, old: int, nodes: int, reason: str) -> dict[str, Any]:
    """The run an explicit request for `nodes` launches: job, run config, tags, asset selection."""
    try:
        pool.spec.check_nodes(nodes)
    except NodeCountError as exc:
        raise Refused(f"refused: {exc}") from None
    if isinstance(pool.spec, GpuPoolSpec):
        run_config = scale_run_config(nodes, reason, signal=MCP_SIGNAL, old_size=old)
        selection = None
    else:
        config = {"desired_nodes": nodes, "reason": reason, "signal": MCP_SIGNAL, "old_size": old}
        run_config = {"ops": {pool.asset_key.to_python_identifier(): {"config": config}}}
        selection = [list(pool.asset_key.path)]
    tags = scaling_tags(MCP_SIGNAL, pool.asset_key.to_user_string(), old, nodes)
    return {"job": pool.job, "run_config": run_config, "tags": tags, "asset_selection": selection}
