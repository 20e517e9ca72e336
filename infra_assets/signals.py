"""What the scaling sensors read: signals handed in by the code location, read from the Dagster instance.

The infra plane never spells the data plane's names: the code location (`sophia_platform/defs/infrastructure`)
says which assets report the embedding backlog (`BacklogSignal`) and which runs occupy the run-queue pools
(`RunQueueSignal`). Both are read in O(1) of the data: the newest materialization event of each backlog asset
(its metadata entry, never the tables), and two run counts from the run storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from infra_assets.autoscaling import RunQueue

QUEUED_STATUSES = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED)
IN_PROGRESS_STATUSES = (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING)


@dataclass(frozen=True, slots=True)
class BacklogSignal:
    """Where the data plane reports the embedding backlog: assets and the integer metadata entry they carry."""

    asset_keys: tuple[dg.AssetKey, ...]
    metadata_key: str

    @classmethod
    def of(cls, asset_keys: Sequence[dg.AssetKey | str], metadata_key: str) -> BacklogSignal:
        """A signal from keys given as `AssetKey`s or strings."""
        return cls(tuple(dg.AssetKey.from_coercible(k) for k in asset_keys), metadata_key)

    @property
    def names(self) -> str:
        return " or ".join(k.to_user_string() for k in self.asset_keys)


@dataclass(frozen=True, slots=True)
class BacklogReading:
    """One backlog value, the asset that reported it, and when."""

    backlog: int
    asset: str
    timestamp: float


def int_metadata(event: dg.EventLogEntry | None, name: str) -> int | None:
    """An integer metadata value of a materialization event, if it has one."""
    materialization = event.asset_materialization if event else None
    if materialization is None or name not in materialization.metadata:
        return None
    value = getattr(materialization.metadata[name], "value", materialization.metadata[name])
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def latest_backlog(instance: dg.DagsterInstance, signal: BacklogSignal) -> BacklogReading | None:
    """The most recent backlog value reported by any of the signal's assets (one event read per asset)."""
    readings: list[BacklogReading] = []
    for key in signal.asset_keys:
        event = instance.get_latest_materialization_event(key)
        backlog = int_metadata(event, signal.metadata_key)
        if backlog is not None and event is not None:
            readings.append(BacklogReading(backlog, key.to_user_string(), event.timestamp))
    return max(readings, key=lambda r: r.timestamp, default=None)


@dataclass(frozen=True, slots=True)
class RunQueueSignal:
    """Which Dagster runs land on the run-queue pools: runs carrying every one of `tags` (empty: every run)."""

    tags: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, tags: Mapping[str, str]) -> RunQueueSignal:
        return cls(tuple(sorted(tags.items())))

    @property
    def names(self) -> str:
        return "runs tagged " + ", ".join(f"{k}={v}" for k, v in self.tags) if self.tags else "all runs"


def read_run_queue(instance: dg.DagsterInstance, signal: RunQueueSignal) -> RunQueue:
    """Queued and in-progress runs matching `signal`, counted by the instance's run storage."""
    tags = dict(signal.tags)

    def count(statuses: Sequence[dg.DagsterRunStatus]) -> int:
        return instance.get_runs_count(dg.RunsFilter(statuses=list(statuses), tags=tags))

    return RunQueue(queued=count(QUEUED_STATUSES), in_progress=count(IN_PROGRESS_STATUSES))
