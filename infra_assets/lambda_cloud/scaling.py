"""Pure scaling policy for a Lambda Cloud GPU pool (no I/O)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

LIVE_STATUSES = frozenset({"booting", "active"})
"""Statuses counted as healthy pool capacity."""

GONE_STATUSES = frozenset({"terminating", "terminated", "preempted"})
"""Statuses ignored entirely: the instance is (or is about to be) gone."""

UNHEALTHY_STATUSES = frozenset({"unhealthy"})
"""Statuses that are replaced when capacity is needed and terminated first on scale-down."""

MAX_INSTANCE_NAME_LEN = 64
_SUFFIX_RE = re.compile(r"-(\d+)$")


@dataclass(frozen=True)
class PoolInstance:
    """One instance of the pool as seen by the planner."""

    id: str
    name: str | None = None
    status: str = "booting"
    ip: str | None = None
    launched_at: float | None = None
    """When the provider launched it (epoch seconds); None if unknown (e.g. adopted)."""


@dataclass(frozen=True)
class ScalingPlan:
    """What to do to reach the desired size: launch `launch` instances, terminate `terminate` ids."""

    launch: int = 0
    terminate: list[str] = field(default_factory=list)

    @property
    def is_noop(self) -> bool:
        """True when nothing has to change."""
        return self.launch == 0 and not self.terminate


def is_live(status: str) -> bool:
    """Whether an instance with this status counts toward the pool size.

    Unknown (future) statuses count as live: the planner must never terminate or double-launch for an
    instance it does not understand.
    """
    return status not in GONE_STATUSES and status not in UNHEALTHY_STATUSES


def instance_name(prefix: str, n: int) -> str:
    """Name of the pool's n-th instance, e.g. ``instance_name("train", 7) == "train-007"``."""
    if not prefix:
        raise ValueError("instance name prefix must not be empty")
    if n < 0:
        raise ValueError(f"instance sequence number must be >= 0, got {n}")
    name = f"{prefix}-{n:03d}"
    if len(name) > MAX_INSTANCE_NAME_LEN:
        raise ValueError(f"instance name {name!r} is longer than {MAX_INSTANCE_NAME_LEN} characters")
    return name


def name_suffix(name: str | None, prefix: str | None = None) -> int | None:
    """The sequence number of a name made by `instance_name`, or None if it has none.

    With `prefix`, only names of exactly the form ``{prefix}-{digits}`` match.
    """
    if not name:
        return None
    if prefix is not None:
        head, sep, tail = name.rpartition("-")
        return int(tail) if sep and head == prefix and tail.isdigit() else None
    match = _SUFFIX_RE.search(name)
    return int(match.group(1)) if match else None


def launch_order_key(instance: PoolInstance) -> tuple[int, float, int, str]:
    """Sort key, oldest first: recorded launch time, then name suffix, then id.

    Instances without a recorded launch time sort before those with one (treated as older).
    """
    suffix = name_suffix(instance.name)
    return (
        0 if instance.launched_at is None else 1,
        instance.launched_at or 0.0,
        -1 if suffix is None else suffix,
        instance.id,
    )


def plan_scaling(instances: Sequence[PoolInstance], desired: int) -> ScalingPlan:
    """Plan launches/terminations that bring the pool to `desired` live instances.

    - booting/active (and unknown statuses) are live; terminating/terminated/preempted are ignored.
    - A live instance is never replaced; live instances are only terminated on scale-down, newest first.
    - Unhealthy instances do not count as live. When live < desired they are replaced (terminated, with
      launches making up the shortfall); when live >= desired they are surplus and terminated first.
    - `desired` is clamped to >= 0.
    """
    desired = max(0, int(desired))
    present = [i for i in instances if i.status not in GONE_STATUSES]
    live = sorted((i for i in present if is_live(i.status)), key=launch_order_key)
    unhealthy = sorted((i for i in present if not is_live(i.status)), key=launch_order_key)

    terminate = [i.id for i in unhealthy]
    if len(live) >= desired:
        surplus = len(live) - desired
        newest_first = list(reversed(live))
        terminate += [i.id for i in newest_first[:surplus]]
        return ScalingPlan(launch=0, terminate=terminate)
    return ScalingPlan(launch=desired - len(live), terminate=terminate)


def order_oldest_first(instances: Sequence[PoolInstance]) -> list[PoolInstance]:
    """Instances sorted by launch order, oldest first."""
    return sorted(instances, key=launch_order_key)


def next_sequence(names: Sequence[str | None], prefix: str) -> int:
    """The next free sequence number for `instance_name(prefix, n)` given names already used."""
    used = [s for s in (name_suffix(n, prefix) for n in names) if s is not None]
    return max(used, default=0) + 1
