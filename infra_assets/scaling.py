"""The pure autoscaling policies (`infra_assets.autoscaling`) applied to this platform's pools.

Bounds come from the specs (which take them from the profile), cooldowns from the profile, throughput, boot
time and step limits from each pool's spec; nothing here keeps a number of its own. The sensors read the
signals and the current size, call `gpu_decision` / `node_pool_decision`, and act on the `Decision`.
"""

from __future__ import annotations

from datetime import datetime

from infra_assets.autoscaling import (
    Decision,
    Demand,
    GpuSignal,
    GpuThroughput,
    PoolPolicy,
    RunQueue,
    combine,
    decide,
    gpu_demand,
    queue_demand,
    schedule_demand,
)
from infra_assets.pool_size import PoolSize
from infra_assets.specs.gpu_pool import GpuPoolSpec
from infra_assets.specs.node_pools import NodePoolSpec
from resources.profile import EnvProfile


def pool_policy(profile: EnvProfile, pool: GpuPoolSpec | NodePoolSpec) -> PoolPolicy:
    """The pool's bounds, steps and boot time with the profile's cooldowns."""
    return PoolPolicy(
        min_nodes=pool.min_nodes,
        max_nodes=pool.max_nodes,
        max_step_up=pool.max_step_up,
        max_step_down=pool.max_step_down,
        up_cooldown_s=profile.scale_up_cooldown_s,
        down_cooldown_s=profile.scale_down_cooldown_s,
        boot_time_s=pool.boot_time_s,
    )


def gpu_throughput(pool: GpuPoolSpec) -> GpuThroughput:
    return GpuThroughput(chunks_per_s_per_node=pool.chunks_per_s_per_node, drain_target_s=pool.drain_target_s)


def since_change(size: PoolSize, now: float) -> float | None:
    """Seconds since the pool's size last changed (None: unknown, so no cooldown holds)."""
    return None if size.changed_at is None else max(0.0, now - size.changed_at)


def booting_s_left(size: PoolSize, boot_time_s: float, now: float) -> tuple[float, ...]:
    """Seconds each node added by the last change still needs to boot (none when that change is unknown)."""
    age = since_change(size, now)
    if age is None or size.previous is None or age >= boot_time_s:
        return ()
    added = max(0, size.nodes - max(size.previous, 0))
    return (boot_time_s - age,) * added


def gpu_decision(profile: EnvProfile, pool: GpuPoolSpec, size: PoolSize, backlog: int, now: float) -> Decision:
    """The GPU pool's size for `backlog` chunks (a negative reading counts as none) given its current size."""
    policy = pool_policy(profile, pool)
    booting = booting_s_left(size, pool.boot_time_s, now)
    ready = max(0, size.nodes - len(booting))
    demand = gpu_demand(policy, gpu_throughput(pool), GpuSignal(max(backlog, 0), ready, booting))
    return decide(policy, demand, current=size.nodes, since_change_s=since_change(size, now))


def node_pool_demand(policy: PoolPolicy, pool: NodePoolSpec, queue: RunQueue | None, at: datetime) -> Demand:
    """What the pool's declared signals ask: the run queue, business hours, or the larger of both."""
    demands: list[Demand] = []
    if pool.runs_per_node is not None:
        if queue is None:
            raise ValueError(f"node pool {pool.pool_name} is sized by the run queue: give the queue")
        demands.append(queue_demand(policy, queue, pool.runs_per_node))
    if pool.business_hours is not None:
        demands.append(schedule_demand(policy, pool.business_hours, at))
    if not demands:
        raise ValueError(f"node pool {pool.pool_name} declares no signal (runs_per_node or business_hours)")
    return combine(*demands)


def node_pool_decision(
    profile: EnvProfile, pool: NodePoolSpec, size: PoolSize, queue: RunQueue | None, at: datetime
) -> Decision:
    """The CPU pool's size for its signals at time `at` (timezone-aware) given its current size."""
    policy = pool_policy(profile, pool)
    demand = node_pool_demand(policy, pool, queue, at)
    return decide(policy, demand, current=size.nodes, since_change_s=since_change(size, at.timestamp()))
