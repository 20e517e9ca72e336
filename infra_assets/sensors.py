"""The backlog sensor: sizes the GPU pool from the embedding backlog the data plane reports.

What it watches is data from its caller (`BacklogSignal`: the asset keys and the metadata entry holding the
backlog); the sensor reads the newest such value, the pool's current size from the one reader
(`infra_assets.pool_size.current_pool_size`: stack outputs, or the last plan in plan mode) and the bounds
from the same spec the assets use (`InfraSettings.specs()`). When the pure scaling policy wants another
size, it requests the scale job with run config `{desired_nodes, reason}` for `lambda_gpu_pool`; a request
passes the same `GpuPoolSpec.check_nodes` the asset applies, so it is never out of range.

The sensor keeps no state of its own. Scale-down waits for the profile's cooldown, measured from the reader's
`changed_at` (when the pool's size last changed); an unknown time does not hold it. A request's run key is
the size and the backlog reading, so ticks before the run lands don't request it twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from infra_assets.assets import GPU_POOL_KEY
from infra_assets.pool_size import PoolSizeUnavailable, current_pool_size
from infra_assets.scaling_policy import ScalingPolicy, decide
from infra_assets.settings import InfraSettings
from resources.profile import EnvProfile
from resources.pulumi_stack import PulumiStackResource

SENSOR_NAME = "gpu_backlog_sensor"


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
    """The most recent backlog value reported by any of the signal's assets."""
    readings: list[BacklogReading] = []
    for key in signal.asset_keys:
        event = instance.get_latest_materialization_event(key)
        backlog = int_metadata(event, signal.metadata_key)
        if backlog is not None and event is not None:
            readings.append(BacklogReading(backlog, key.to_user_string(), event.timestamp))
    return max(readings, key=lambda r: r.timestamp, default=None)


def scale_run_config(desired_nodes: int, reason: str) -> dict[str, Any]:
    """Run config of the scale job."""
    return {
        "ops": {GPU_POOL_KEY.to_python_identifier(): {"config": {"desired_nodes": desired_nodes, "reason": reason}}}
    }


def build_backlog_sensor(profile: EnvProfile, backlog: BacklogSignal, *, job_name: str) -> dg.SensorDefinition:
    """The sensor requesting `job_name`; running by default when the profile runs automation."""
    cooldown_s = profile.scale_down_cooldown_s
    bounds = profile.gpu_pool
    status = dg.DefaultSensorStatus.RUNNING if profile.automation_running else dg.DefaultSensorStatus.STOPPED

    @dg.sensor(
        name=SENSOR_NAME,
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=status,
        description=(
            f"Scales the Lambda GPU pool ({bounds.min_nodes}..{bounds.max_nodes} nodes) to the embedding backlog "
            f"`{backlog.metadata_key}` reported by {backlog.names}; scale-down waits {cooldown_s:.0f}s after "
            "the pool's size last changed."
        ),
    )
    def gpu_backlog_sensor(
        context: dg.SensorEvaluationContext, infra: InfraSettings, pulumi: PulumiStackResource
    ) -> dg.SensorResult | dg.SkipReason:
        reading = latest_backlog(context.instance, backlog)
        if reading is None:
            return dg.SkipReason(f"No {backlog.metadata_key} reported by {backlog.names} yet.")
        try:
            size = current_pool_size(infra, pulumi)
        except PoolSizeUnavailable as e:
            return dg.SkipReason(f"Cannot read the GPU pool's current size: {e}.")
        pool = infra.specs().gpu_pool
        policy = ScalingPolicy.for_pool(pool, cooldown_s=cooldown_s)
        since = None if size.changed_at is None else time.time() - size.changed_at
        decision = decide(policy, backlog=reading.backlog, current=size.nodes, seconds_since_change=since)
        if not decision.changed:
            return dg.SkipReason(
                f"Keeping {size.nodes} node(s) (from {size.label}): {decision.reason} ({reading.asset})."
            )
        desired = pool.check_nodes(decision.desired_nodes)  # the asset's rule; the policy keeps within it
        reason = f"{decision.reason}; reported by {reading.asset}"
        request = dg.RunRequest(
            run_key=f"gpu-pool-{desired}-{reading.timestamp:.6f}",
            run_config=scale_run_config(desired, reason),
            tags={"sophia/scaling": "backlog", "sophia/backlog": str(reading.backlog)},
        )
        return dg.SensorResult(run_requests=[request])

    return gpu_backlog_sensor
