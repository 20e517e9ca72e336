"""The CPU pools' demand: the Dagster run queue, and a business-hours window (pure).

- `queue_demand`: run pods (queued + in progress) over the run pods one node holds. A pool with runs never
  goes to zero; it shrinks only to a size the runs fill to at most `scale_down_fraction`.
- `schedule_demand`: the pool's max inside the window (weekdays 08:00-20:00 UTC by default), `off_hours_nodes`
  outside it. For a pool people use interactively, where the queue reacts too late.
- `cpu_demand`: the queue, and the window when given, whichever asks for more (`combine`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from infra_assets.autoscaling.policy import Demand, PoolPolicy, combine

WEEKDAYS = frozenset(range(5))  # Monday..Friday (datetime.weekday())
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class RunQueue:
    """Dagster run pods waiting for or running on a pool."""

    queued: int
    in_progress: int

    def __post_init__(self) -> None:
        if self.queued < 0 or self.in_progress < 0:
            raise ValueError(f"run counts must be >= 0, got {self}")

    @property
    def pods(self) -> int:
        return self.queued + self.in_progress


def queue_demand(policy: PoolPolicy, queue: RunQueue, runs_per_node: int) -> Demand:
    """Nodes for the run pods (`runs_per_node` each), with the hysteresis band of `policy`."""
    if runs_per_node < 1:
        raise ValueError(f"runs_per_node must be >= 1, got {runs_per_node}")
    up_to = math.ceil(queue.pods / runs_per_node)
    down_to = max(up_to, math.ceil(queue.pods / (runs_per_node * policy.scale_down_fraction) - 1e-9))
    signal = f"{queue.queued} queued + {queue.in_progress} running runs ({runs_per_node}/node)"
    return Demand(signal, up_to=up_to, down_to=down_to, has_work=queue.pods > 0)


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """A weekly window (UTC) in which a pool runs at its max."""

    start_hour: int = 8
    end_hour: int = 20  # exclusive
    weekdays: frozenset[int] = WEEKDAYS
    off_hours_nodes: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.start_hour < self.end_hour <= 24 or not self.weekdays <= frozenset(range(7)):
            raise ValueError(f"business hours need 0 <= start < end <= 24 and weekdays in 0..6, got {self}")
        if self.off_hours_nodes < 0:
            raise ValueError(f"off_hours_nodes must be >= 0, got {self.off_hours_nodes}")

    def contains(self, at: datetime) -> bool:
        """Whether `at` (timezone-aware) falls inside the window."""
        if at.tzinfo is None:
            raise ValueError("business hours need a timezone-aware datetime")
        utc = at.astimezone(UTC)
        return utc.weekday() in self.weekdays and self.start_hour <= utc.hour < self.end_hour

    def describe(self) -> str:
        days = ",".join(_DAY_NAMES[d] for d in sorted(self.weekdays))
        return f"{days} {self.start_hour:02d}:00-{self.end_hour:02d}:00 UTC"


def schedule_demand(policy: PoolPolicy, hours: BusinessHours, at: datetime) -> Demand:
    """The pool's max inside `hours`, `off_hours_nodes` outside (no band: the schedule is the size)."""
    inside = hours.contains(at)
    nodes = policy.max_nodes if inside else hours.off_hours_nodes
    utc = at.astimezone(UTC)
    where = "inside" if inside else "outside"
    signal = f"{_DAY_NAMES[utc.weekday()]} {utc:%H:%M} UTC {where} business hours ({hours.describe()})"
    return Demand(signal, up_to=nodes, down_to=nodes, has_work=False)


def cpu_demand(
    policy: PoolPolicy,
    queue: RunQueue,
    runs_per_node: int,
    hours: BusinessHours | None = None,
    at: datetime | None = None,
) -> Demand:
    """The run queue's demand, or the larger of it and the business-hours window when `hours` is given."""
    by_queue = queue_demand(policy, queue, runs_per_node)
    if hours is None:
        return by_queue
    if at is None:
        raise ValueError("a business-hours demand needs the time `at`")
    return combine(by_queue, schedule_demand(policy, hours, at))
