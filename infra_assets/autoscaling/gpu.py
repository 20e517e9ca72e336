"""The GPU pool's demand from the embedding backlog and TEI's throughput per node (pure).

Plan over a horizon, the drain target H (kept below the backlog-wait SLO): within H the pool must embed the
backlog plus the chunks arriving meanwhile, `need = backlog + arrival/s * H`. A ready node embeds `T * H` chunks
in that time (T = chunks/s per node); a node still booting embeds `T * (H - its boot time left)`: capacity to
come, so the pool is not grown again while earlier nodes boot. A node asked for now embeds `T * (H - boot_time)`.

- `up_to`: the nodes needed to meet `need` (booting nodes counted as capacity to come); when new nodes cannot
  boot within H and the pool falls short, as many nodes as allowed.
- `down_to`: the smallest pool that meets `need` while filled to at most `scale_down_fraction` (hysteresis).

If the arrival rate stays as measured, a pool sized by `up_to` still suffices one decision later while its new
nodes boot (the backlog grows by what the ready nodes cannot absorb, exactly what the booting nodes gain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra_assets.autoscaling.policy import Demand, PoolPolicy

_EPS = 1e-9  # float slack so 2.0000000001 nodes is 2


@dataclass(frozen=True, slots=True)
class GpuThroughput:
    """How fast one GPU node embeds and how soon the backlog should be cleared."""

    chunks_per_s_per_node: float  # TEI's measured throughput on one node
    drain_target_s: float  # clear backlog + arrivals within this time (below the wait SLO, above the boot time)

    def __post_init__(self) -> None:
        if self.chunks_per_s_per_node <= 0 or self.drain_target_s <= 0:
            raise ValueError(f"GPU throughput and drain target must be > 0, got {self}")

    @property
    def chunks_per_node(self) -> float:
        """Chunks one ready node embeds within the drain target."""
        return self.chunks_per_s_per_node * self.drain_target_s


@dataclass(frozen=True, slots=True)
class GpuSignal:
    """The embedding backlog and the pool's nodes as the sensor sees them."""

    backlog: int  # chunks waiting to be embedded
    ready_nodes: int
    booting_s_left: tuple[float, ...] = ()  # per node asked for but not ready: seconds until it embeds
    arrival_per_s: float = 0.0  # recent rate of new chunks

    def __post_init__(self) -> None:
        if (
            self.backlog < 0
            or self.ready_nodes < 0
            or self.arrival_per_s < 0
            or min(self.booting_s_left, default=0) < 0
        ):
            raise ValueError(f"GPU signal values must be >= 0, got {self}")

    @property
    def nodes(self) -> int:
        """Nodes asked for: ready plus booting."""
        return self.ready_nodes + len(self.booting_s_left)

    def describe(self) -> str:
        booting = f" + {len(self.booting_s_left)} booting" if self.booting_s_left else ""
        return (
            f"backlog {self.backlog:,} chunks, {self.arrival_per_s:,.0f}/s arriving, {self.ready_nodes} ready{booting}"
        )


def _ceil(x: float) -> int:
    return max(0, math.ceil(x - _EPS))


def gpu_demand(policy: PoolPolicy, throughput: GpuThroughput, signal: GpuSignal) -> Demand:
    """The nodes the backlog needs now and the nodes still clearly enough (see the module docstring)."""
    horizon, rate = throughput.drain_target_s, throughput.chunks_per_s_per_node
    need = signal.backlog + signal.arrival_per_s * horizon
    full = throughput.chunks_per_node
    supply = signal.ready_nodes * full + sum(rate * max(0.0, horizon - left) for left in signal.booting_s_left)
    per_new = rate * max(0.0, horizon - policy.boot_time_s)
    if need <= supply + _EPS:
        up_to = _ceil(need / full)
    elif per_new > 0:
        up_to = signal.nodes + _ceil((need - supply) / per_new)
    else:  # a new node cannot boot within the horizon: grow as far as allowed
        up_to = max(policy.max_nodes, signal.nodes + 1)
    down_to = max(up_to, _ceil(need / (full * policy.scale_down_fraction)))
    return Demand(signal.describe(), up_to=up_to, down_to=down_to, has_work=signal.backlog > 0)
