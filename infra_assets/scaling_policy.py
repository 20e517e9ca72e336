"""How many GPU nodes the embedding backlog calls for (pure).

Scale up as soon as the backlog needs more nodes; scale down only when the backlog has fallen well below
what the smaller pool could handle (hysteresis) *and* the last change is older than the cooldown, so a
backlog hovering around a threshold doesn't make the pool flap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra_assets.specs.gpu_pool import GpuPoolSpec


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """Thresholds and bounds of the GPU pool autoscaler."""

    min_nodes: int
    max_nodes: int
    backlog_per_node: int  # chunks one node clears between decisions
    cooldown_s: float  # minimum age of the last size change before shrinking (the profile's scale_down_cooldown_s)
    scale_down_fraction: float = 0.5  # shrink only below this share of the smaller pool's capacity

    @classmethod
    def for_pool(cls, pool: GpuPoolSpec, *, cooldown_s: float) -> ScalingPolicy:
        """Bounds and per-node backlog from the pool spec (the bounds `GpuPoolSpec.check_nodes` enforces)."""
        return cls(pool.min_nodes, pool.max_nodes, pool.backlog_per_node, cooldown_s=cooldown_s)

    def target(self, backlog: int) -> int:
        """Nodes needed to clear `backlog`, within [min, max]."""
        needed = math.ceil(max(backlog, 0) / self.backlog_per_node)
        return max(self.min_nodes, min(self.max_nodes, needed))


@dataclass(frozen=True, slots=True)
class ScalingDecision:
    """The node count to run, whether it differs from now, and why."""

    desired_nodes: int
    changed: bool
    reason: str


def decide(policy: ScalingPolicy, *, backlog: int, current: int, seconds_since_change: float | None) -> ScalingDecision:
    """The node count for `backlog` given the pool currently runs `current` nodes."""
    current_clamped = max(policy.min_nodes, min(policy.max_nodes, current))
    target = policy.target(backlog)
    if current_clamped != current:
        return ScalingDecision(current_clamped, True, f"{current} nodes is outside the pool bounds")
    if target > current:
        return ScalingDecision(target, True, f"backlog {backlog} needs {target} nodes (scale up from {current})")
    if target == current:
        return ScalingDecision(current, False, f"backlog {backlog} fits {current} nodes")
    # target < current: shrink only when clearly below capacity and the pool has been stable long enough.
    smaller = max(target, current - 1)
    threshold = smaller * policy.backlog_per_node * policy.scale_down_fraction
    if backlog > threshold:
        return ScalingDecision(current, False, f"backlog {backlog} within hysteresis band (<= {threshold:.0f})")
    if seconds_since_change is not None and seconds_since_change < policy.cooldown_s:
        wait = policy.cooldown_s - seconds_since_change
        return ScalingDecision(current, False, f"scale down to {target} held by cooldown ({wait:.0f}s left)")
    return ScalingDecision(target, True, f"backlog {backlog} needs {target} nodes (scale down from {current})")
