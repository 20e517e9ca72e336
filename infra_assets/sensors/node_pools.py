"""One sensor per CPU node pool: sizes the pool from the Dagster run queue and/or a business-hours window.

The run queue is read from the instance (queued + in-progress runs carrying the caller's `RunQueueSignal`
tags: two counts from the run storage); the window from the sensor's clock. The pool's current size comes from
the one reader (`pool_size.current_node_pool_size`: the pool stack's outputs, or the last plan in plan mode; an
unreadable stack skips this tick with the reason), its bounds, steps and boot time come from its spec
(`InfraSettings.specs().node_pool(name)`), its cooldowns from the profile; `scaling.node_pool_decision`
decides. A decision requests `scale_node_pool_job` for this pool's asset only (`asset_selection`) with run
config `{desired_nodes, reason, signal, old_size}`; anything else is a `SkipReason` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from infra_assets.node_pools import node_pool_key, scaled_by
from infra_assets.pool_size import PoolSizeUnavailable, current_node_pool_size
from infra_assets.scaling import node_pool_decision
from infra_assets.sensors.requests import MIN_INTERVAL_S, keeping, scaling_tags, transition_run_key
from infra_assets.settings import InfraSettings
from infra_assets.signals import RunQueueSignal, read_run_queue
from infra_assets.specs.node_pools import NodePoolSpec
from resources.profile import EnvProfile, sensor_status
from resources.pulumi_stack import PulumiStackResource


def node_pool_sensor_name(pool: str) -> str:
    """`data_intelligence_pool_sensor`."""
    return f"{pool.replace('-', '_')}_sensor"


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_node_pool_sensor(
    profile: EnvProfile,
    pool: NodePoolSpec,
    runs: RunQueueSignal,
    *,
    job_name: str,
    clock: Callable[[], datetime] = utc_now,
) -> dg.SensorDefinition:
    """The sensor of `pool` requesting `job_name`; running by default when the profile runs automation."""
    name, key = pool.pool_name, node_pool_key(pool.pool_name)
    status = sensor_status(profile.automation_running)
    reads = f" ({runs.names})" if pool.runs_per_node is not None else ""

    @dg.sensor(
        name=node_pool_sensor_name(name),
        job_name=job_name,
        minimum_interval_seconds=MIN_INTERVAL_S,
        default_status=status,
        description=(
            f"Scales node pool {name} ({pool.allowed_range} nodes) by {pool.describe_signal()}{reads}; scale-up "
            f"waits {profile.scale_up_cooldown_s:.0f}s and scale-down {profile.scale_down_cooldown_s:.0f}s after "
            "its size last changed."
        ),
    )
    def _sensor(
        context: dg.SensorEvaluationContext, infra: InfraSettings, pulumi: PulumiStackResource
    ) -> dg.SensorResult | dg.SkipReason:
        spec = infra.specs().node_pool(name)
        queue = read_run_queue(context.instance, runs) if spec.runs_per_node is not None else None
        try:
            size = current_node_pool_size(infra, pulumi, spec)
        except PoolSizeUnavailable as e:
            return dg.SkipReason(f"cannot size node pool {name}: {e}")
        at = clock()
        decision = node_pool_decision(profile, spec, size, queue, at)
        signal = f"{decision.signal}{reads}" if queue is not None else decision.signal
        if not decision.changed:
            return dg.SkipReason(keeping(size, decision, signal))
        desired = spec.check_nodes(decision.new_size)  # the asset's rule; the policy keeps within it
        config = {"desired_nodes": desired, "reason": decision.reason, "signal": signal, "old_size": size.nodes}
        request = dg.RunRequest(
            run_key=transition_run_key(name, size.nodes, desired, size, at.timestamp(), profile.scale_up_cooldown_s),
            run_config={"ops": {key.to_python_identifier(): {"config": config}}},
            tags=scaling_tags(scaled_by(spec), key.to_user_string(), size.nodes, desired),
            asset_selection=[key],
        )
        return dg.SensorResult(run_requests=[request])

    return _sensor
