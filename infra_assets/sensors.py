"""The backlog sensor: sizes the GPU pool from the embedding backlog the data plane reports.

The data plane puts `pending_embedding` (chunks not yet embedded) on materializations of `chunks` and
`chunk_vectors`. The sensor reads the newer of the two, asks the pure scaling policy for a node count,
and when that differs from the last one it asked for (the cursor), requests `scale_gpu_pool_job` with run
config `{desired_nodes, reason}` for `lambda_gpu_pool`. Sizes come from the pool spec's bounds (the policy's
min/max) and pass the same `GpuPoolSpec.check_nodes` the asset applies, so a request is never out of range.
"""

import json
import time
from dataclasses import dataclass
from typing import Any

import dagster as dg

from infra_assets.assets import GPU_POOL_KEY, int_metadata
from infra_assets.scaling_policy import ScalingPolicy, decide
from infra_assets.specs.gpu_pool import GpuPoolSpec

SENSOR_NAME = "gpu_backlog_sensor"
BACKLOG_ASSETS = (dg.AssetKey("chunks"), dg.AssetKey("chunk_vectors"))
BACKLOG_METADATA = "pending_embedding"


@dataclass(frozen=True, slots=True)
class BacklogReading:
    """One `pending_embedding` value, the asset that reported it, and when."""

    backlog: int
    asset: str
    timestamp: float


def latest_backlog(instance: dg.DagsterInstance) -> BacklogReading | None:
    """The most recent `pending_embedding` reported by `chunks` or `chunk_vectors`."""
    readings: list[BacklogReading] = []
    for key in BACKLOG_ASSETS:
        event = instance.get_latest_materialization_event(key)
        backlog = int_metadata(event, BACKLOG_METADATA)
        if backlog is not None and event is not None:
            readings.append(BacklogReading(backlog, key.to_user_string(), event.timestamp))
    return max(readings, key=lambda r: r.timestamp, default=None)


def _cursor(raw: str | None) -> dict[str, Any]:
    try:
        state = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return state if isinstance(state, dict) else {}


def scale_run_config(desired_nodes: int, reason: str) -> dict[str, Any]:
    """Run config of `scale_gpu_pool_job`."""
    return {
        "ops": {GPU_POOL_KEY.to_python_identifier(): {"config": {"desired_nodes": desired_nodes, "reason": reason}}}
    }


def build_backlog_sensor(
    env: str, pool: GpuPoolSpec, *, job_name: str, cooldown_s: float = 900.0
) -> dg.SensorDefinition:
    """The sensor for `env`, requesting `job_name` (stopped by default locally, running in production)."""
    policy = ScalingPolicy.for_pool(pool, cooldown_s=cooldown_s)

    @dg.sensor(
        name=SENSOR_NAME,
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED if env == "local" else dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Scales the Lambda GPU pool ({pool.allowed_range} nodes, {pool.backlog_per_node} "
            f"chunks per node) to the embedding backlog; scale-down waits {cooldown_s:.0f}s after a change."
        ),
    )
    def gpu_backlog_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        reading = latest_backlog(context.instance)
        if reading is None:
            return dg.SkipReason(f"No {BACKLOG_METADATA} reported by chunks or chunk_vectors yet.")
        state = _cursor(context.cursor)
        current, changed_at = state.get("desired"), state.get("changed_at")
        if not isinstance(current, int):  # first tick: what the pool was last asked to run
            event = context.instance.get_latest_materialization_event(GPU_POOL_KEY)
            current = int_metadata(event, "desired_nodes")
            changed_at = event.timestamp if event else None
            current = pool.desired_nodes if current is None else current
        now = time.time()
        since = now - changed_at if isinstance(changed_at, int | float) else None
        decision = decide(policy, backlog=reading.backlog, current=current, seconds_since_change=since)
        if not decision.changed:
            context.update_cursor(json.dumps({"desired": current, "changed_at": changed_at}))
            return dg.SkipReason(f"Keeping {current} node(s): {decision.reason} ({reading.asset}).")
        desired = pool.check_nodes(decision.desired_nodes)  # the asset's rule; the policy keeps within it
        reason = f"{decision.reason}; reported by {reading.asset}"
        request = dg.RunRequest(
            run_key=f"gpu-pool-{desired}-{reading.timestamp:.6f}",
            run_config=scale_run_config(desired, reason),
            tags={"sophia/scaling": "backlog", "sophia/pending_embedding": str(reading.backlog)},
        )
        cursor = {"desired": desired, "changed_at": now, "backlog": reading.backlog}
        return dg.SensorResult(run_requests=[request], cursor=json.dumps(cursor))

    return gpu_backlog_sensor
