"""The backlog sensor: sizes the GPU pool from the embedding backlog the data plane reports.

What it watches is data from its caller (`BacklogSignal`: the asset keys and the metadata entry holding the
backlog); the sensor reads the newest such value (one event per asset: O(1) in the backlog's size), the pool's
current size from the one reader (`infra_assets.pool_size.current_pool_size`: stack outputs, or the last plan in
plan mode) and the pool's spec (`InfraSettings.specs()`: bounds, TEI throughput per node, boot time, step limits),
and decides with the GPU policy (`infra_assets.scaling.gpu_decision`): nodes still booting count as capacity to
come, growth and shrinking wait for the profile's separate cooldowns, measured from the reader's `changed_at`.

A decision requests the scale job with run config `{desired_nodes, reason, signal, old_size}` for
`lambda_gpu_pool`; it passes the same `GpuPoolSpec.check_nodes` the asset applies, so it is never out of range.
Anything else is a `SkipReason` saying the size kept and why. The sensor keeps no state of its own; a request's
run key is the size and the backlog reading, so ticks before the run lands don't request it twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import dagster as dg

from infra_assets.assets import GPU_POOL_KEY
from infra_assets.pool_size import PoolSizeUnavailable, current_pool_size
from infra_assets.scaling import gpu_decision
from infra_assets.sensors.requests import MIN_INTERVAL_S, keeping, scaling_tags
from infra_assets.settings import InfraSettings
from infra_assets.signals import BacklogSignal, latest_backlog
from resources.profile import EnvProfile, sensor_status
from resources.pulumi_stack import PulumiStackResource

SENSOR_NAME = "gpu_backlog_sensor"


def scale_run_config(
    desired_nodes: int, reason: str, *, signal: str | None = None, old_size: int | None = None
) -> dict[str, Any]:
    """Run config of the scale job (`PoolScaleConfig` of `lambda_gpu_pool`)."""
    config: dict[str, Any] = {"desired_nodes": desired_nodes, "reason": reason}
    if signal is not None:
        config["signal"] = signal
    if old_size is not None:
        config["old_size"] = old_size
    return {"ops": {GPU_POOL_KEY.to_python_identifier(): {"config": config}}}


def build_backlog_sensor(
    profile: EnvProfile, backlog: BacklogSignal, *, job_name: str, clock: Callable[[], float] = time.time
) -> dg.SensorDefinition:
    """The sensor requesting `job_name`; running by default when the profile runs automation."""
    bounds = profile.gpu_pool
    status = sensor_status(profile.automation_running)

    @dg.sensor(
        name=SENSOR_NAME,
        job_name=job_name,
        minimum_interval_seconds=MIN_INTERVAL_S,
        default_status=status,
        description=(
            f"Scales the Lambda GPU pool ({bounds.min_nodes}..{bounds.max_nodes} nodes) to the embedding backlog "
            f"`{backlog.metadata_key}` reported by {backlog.names}, at the TEI throughput per node, counting "
            f"booting nodes; scale-up waits {profile.scale_up_cooldown_s:.0f}s and scale-down waits "
            f"{profile.scale_down_cooldown_s:.0f}s after the pool's size last changed."
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
        decision = gpu_decision(profile, pool, size, reading.backlog, clock())
        signal = f"{decision.signal} (reported by {reading.asset})"
        if not decision.changed:
            return dg.SkipReason(keeping(size, decision, signal))
        desired = pool.check_nodes(decision.new_size)  # the asset's rule; the policy keeps within it
        reason = f"{decision.reason}; {signal}"
        tags = scaling_tags("backlog", GPU_POOL_KEY.to_user_string(), size.nodes, desired)
        request = dg.RunRequest(
            run_key=f"gpu-pool-{desired}-{reading.timestamp:.6f}",
            run_config=scale_run_config(desired, reason, signal=signal, old_size=size.nodes),
            tags={**tags, "sophia/backlog": str(reading.backlog)},
        )
        return dg.SensorResult(run_requests=[request])

    return gpu_backlog_sensor
