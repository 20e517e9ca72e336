"""Replica counts of the Kubernetes workloads (pure).

- The embedding server (TEI) runs one replica per GPU node: its replicas follow the pool, never a factor.
- Every other workload (the MCP servers, one per domain) scales its current replicas by a factor, rounded up
  (never under-provisioned) and kept within its [min, max].

`scale_workloads` and `follow_gpu_pool` return a new mapping of `<workload>_replicas` entries; only the named
workload's entry changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

TEI_WORKLOAD = "text-embeddings-inference"  # the k8s spec's embedding server (one replica per GPU node)


@dataclass(frozen=True, slots=True)
class ReplicaBounds:
    """The replica range a workload may run."""

    min_replicas: int
    max_replicas: int

    def __post_init__(self) -> None:
        if not 0 <= self.min_replicas <= self.max_replicas:
            raise ValueError(f"replica bounds need 0 <= min <= max, got {self}")

    def clamp(self, replicas: int) -> int:
        return max(self.min_replicas, min(self.max_replicas, replicas))


def replicas_key(workload: str) -> str:
    """The entry of `workload` in a replicas mapping, e.g. `data-intelligence-mcp_replicas`."""
    return f"{workload}_replicas"


def scaled(replicas: int, factor: float) -> int:
    """`replicas * factor` rounded up (factor 1 keeps, factor > 1 never shrinks, factor < 1 never grows)."""
    if factor < 0 or not math.isfinite(factor):
        raise ValueError(f"scale factor must be a finite number >= 0, got {factor}")
    return math.ceil(round(replicas * factor, 9))


def replicas_for(
    workload: str, bounds: ReplicaBounds, *, gpu_nodes: int | None = None, current: int = 0, factor: float = 1.0
) -> int:
    """TEI: one replica per GPU node (`gpu_nodes`); any other workload: `current` scaled by `factor`; within bounds."""
    if workload == TEI_WORKLOAD:
        if gpu_nodes is None:
            raise ValueError(f"{TEI_WORKLOAD} replicas follow the GPU pool: give gpu_nodes")
        return bounds.clamp(gpu_nodes)
    return bounds.clamp(scaled(current, factor))


def scale_workloads(current: Mapping[str, int], workload: str, factor: float, bounds: ReplicaBounds) -> dict[str, int]:
    """`current` with `<workload>_replicas` scaled by `factor` within `bounds` (a missing entry counts as min)."""
    if workload == TEI_WORKLOAD:
        raise ValueError(f"{TEI_WORKLOAD} replicas follow the GPU pool: use follow_gpu_pool")
    key = replicas_key(workload)
    now = current.get(key, bounds.min_replicas)
    return {**current, key: replicas_for(workload, bounds, current=now, factor=factor)}


def follow_gpu_pool(current: Mapping[str, int], gpu_nodes: int, bounds: ReplicaBounds) -> dict[str, int]:
    """`current` with the TEI replicas set to one per GPU node, within `bounds`."""
    return {**current, replicas_key(TEI_WORKLOAD): replicas_for(TEI_WORKLOAD, bounds, gpu_nodes=gpu_nodes)}
