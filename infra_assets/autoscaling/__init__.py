"""Pure autoscaling policies for the cluster's pools and workloads (no I/O, no Dagster).

- `policy`: `PoolPolicy` (bounds, steps, cooldowns, hysteresis, boot time), `Demand`, `decide` -> `Decision`.
- `gpu`: the GPU pool's demand from the embedding backlog and TEI throughput per node.
- `cpu`: the CPU pools' demand from the Dagster run queue and/or a business-hours window.
- `workloads`: replica counts (TEI follows GPU nodes; MCP servers scale by a factor within bounds).

Sensors read the signals, call these, and act on the `Decision`; the invariants live in each module's docstring.
"""

from infra_assets.autoscaling.cpu import BusinessHours, RunQueue, cpu_demand, queue_demand, schedule_demand
from infra_assets.autoscaling.gpu import GpuSignal, GpuThroughput, gpu_demand
from infra_assets.autoscaling.policy import Decision, Demand, PoolPolicy, combine, decide
from infra_assets.autoscaling.workloads import (
    TEI_WORKLOAD,
    ReplicaBounds,
    follow_gpu_pool,
    replicas_for,
    scale_workloads,
)

__all__ = [
    "TEI_WORKLOAD",
    "BusinessHours",
    "Decision",
    "Demand",
    "GpuSignal",
    "GpuThroughput",
    "PoolPolicy",
    "ReplicaBounds",
    "RunQueue",
    "combine",
    "cpu_demand",
    "decide",
    "follow_gpu_pool",
    "gpu_demand",
    "queue_demand",
    "replicas_for",
    "scale_workloads",
    "schedule_demand",
]
