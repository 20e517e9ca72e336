"""One scaling decision for one pool, from the size a signal asks for (pure, no I/O).

A signal (GPU backlog, run queue, business hours; see `gpu.py`, `cpu.py`) condenses into a `Demand`: the size
it needs now (`up_to`) and the size that would still be clearly enough (`down_to` >= `up_to`, the hysteresis
band). `decide` turns a demand into a `Decision` and guarantees, whatever the inputs:

- the new size lies in [min_nodes, max_nodes] (a current size outside the bounds is corrected at once);
- the new size is >= 1 while work is queued, even when min_nodes is 0 (max_nodes >= 1 is enforced);
- the pool grows only when the signal needs more than it has, and shrinks only to a size that is still
  clearly enough (`down_to`): a signal inside the band [up_to, down_to] changes nothing, so the pool does not flap;
- no growth before `up_cooldown_s` and no shrinking before `down_cooldown_s` since the last size change;
- at most `max_step_up` nodes added or `max_step_down` removed per decision.

Bounds and the work floor win over cooldowns and steps: they correct a size that must not stand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PoolPolicy:
    """Bounds, step limits, cooldowns and hysteresis of one pool's autoscaler."""

    min_nodes: int
    max_nodes: int
    max_step_up: int = 2
    max_step_down: int = 1
    up_cooldown_s: float = 60.0
    down_cooldown_s: float = 900.0
    scale_down_fraction: float = 0.75  # shrink only to a size the load fills to at most this share
    boot_time_s: float = 0.0  # from "scale up" to a node doing work (instance boot + workload start)

    def __post_init__(self) -> None:
        if not 0 <= self.min_nodes <= self.max_nodes or self.max_nodes < 1:
            raise ValueError(f"pool policy needs 0 <= min_nodes <= max_nodes and max_nodes >= 1, got {self}")
        if self.max_step_up < 1 or self.max_step_down < 1:
            raise ValueError(f"pool policy steps must be >= 1, got {self}")
        if self.up_cooldown_s < 0 or self.down_cooldown_s < 0 or self.boot_time_s < 0:
            raise ValueError(f"pool policy cooldowns and boot time must be >= 0, got {self}")
        if not 0 < self.scale_down_fraction <= 1:
            raise ValueError(f"scale_down_fraction must be in (0, 1], got {self.scale_down_fraction}")

    def floor(self, has_work: bool) -> int:
        """The smallest size allowed now: min_nodes, and at least one node while work is queued."""
        return max(self.min_nodes, 1 if has_work else 0)

    def clamp(self, nodes: int, *, has_work: bool = False) -> int:
        """`nodes` within [floor, max_nodes]."""
        return max(self.floor(has_work), min(self.max_nodes, nodes))


@dataclass(frozen=True, slots=True)
class Demand:
    """What a signal asks of a pool: the size it needs, the size still clearly enough, and whether work waits."""

    signal: str  # human-readable reading, e.g. "backlog 120,000 chunks, 1 ready + 1 booting"
    up_to: int  # grow when the pool is smaller than this
    down_to: int  # shrink only when the pool is larger than this (>= up_to: the hysteresis band)
    has_work: bool  # work is queued: never size the pool to zero

    def __post_init__(self) -> None:
        if self.up_to < 0 or self.down_to < 0:
            raise ValueError(f"demand sizes must be >= 0, got {self}")


@dataclass(frozen=True, slots=True)
class Decision:
    """The size to run, whether it differs from the current size, what was read, and why."""

    new_size: int
    changed: bool
    signal: str
    old_size: int
    reason: str  # for a non-decision, the skip reason ("within band", "at max", "scale-down cooldown 4 min left")


def combine(*demands: Demand) -> Demand:
    """The larger of several demands on one pool (e.g. run queue and business hours): each must be satisfied."""
    if not demands:
        raise ValueError("combine needs at least one demand")
    return Demand(
        signal="; ".join(d.signal for d in demands),
        up_to=max(d.up_to for d in demands),
        down_to=max(d.down_to for d in demands),
        has_work=any(d.has_work for d in demands),
    )


def format_wait(seconds: float) -> str:
    """`seconds` for a reason: "45 s" under a minute, else whole minutes rounded up ("4 min")."""
    return f"{math.ceil(seconds)} s" if seconds < 60 else f"{math.ceil(seconds / 60)} min"


def _nodes(n: int) -> str:
    return f"{n} node" if n == 1 else f"{n} nodes"


def decide(policy: PoolPolicy, demand: Demand, *, current: int, since_change_s: float | None) -> Decision:
    """The size to run given `demand`, a pool of `current` nodes and the age of its last size change.

    `since_change_s` is None when the last change is unknown (no cooldown applies). See the module docstring
    for the invariants.
    """

    def hold(reason: str) -> Decision:
        return Decision(current, False, demand.signal, current, reason)

    def move(new: int, reason: str) -> Decision:
        return Decision(new, True, demand.signal, current, reason)

    floor = policy.floor(demand.has_work)
    if current > policy.max_nodes:
        return move(policy.max_nodes, f"{_nodes(current)} is above max {policy.max_nodes}")
    if current < floor:
        why = f"below min {policy.min_nodes}" if current < policy.min_nodes else "empty while work is queued"
        return move(floor, f"{_nodes(current)} is {why}")

    up = policy.clamp(demand.up_to, has_work=demand.has_work)
    down = policy.clamp(max(demand.down_to, demand.up_to), has_work=demand.has_work)
    age = math.inf if since_change_s is None else since_change_s
    if demand.up_to > current:
        if current >= policy.max_nodes:
            return hold(f"at max ({_nodes(policy.max_nodes)}; needs {demand.up_to})")
        if age < policy.up_cooldown_s:
            return hold(f"scale-up cooldown {format_wait(policy.up_cooldown_s - age)} left (needs {up})")
        new = min(up, current + policy.max_step_up)
        capped = f" (step limit {policy.max_step_up})" if new < up else ""
        return move(new, f"scale up {current} -> {new}: needs {_nodes(up)}{capped}")
    if down < current:
        if age < policy.down_cooldown_s:
            return hold(f"scale-down cooldown {format_wait(policy.down_cooldown_s - age)} left (enough: {down})")
        new = max(down, current - policy.max_step_down)
        capped = f" (step limit {policy.max_step_down})" if new > down else ""
        return move(new, f"scale down {current} -> {new}: {_nodes(down)} clearly enough{capped}")
    if max(demand.down_to, demand.up_to) < current:  # would shrink, but the floor holds it
        return hold(f"at min ({_nodes(current)})" if current == policy.min_nodes else "work is queued (1 node kept)")
    return hold(f"within band (needs {demand.up_to}, clearly enough at {demand.down_to}, runs {current})")
