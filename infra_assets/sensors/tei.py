"""The TEI sensor: keeps the embedding server at one replica per GPU node.

It compares the GPU pool's current size (`pool_size.current_pool_size`, within the pool's bounds) with the TEI
replicas of the last k8s plan (`replicas.last_planned_replicas`); when they differ it requests
`scale_workloads_job`, whose `k8s_deployments` run sizes TEI from the pool (`workloads.replicas_for`, bounded by
the TEI workload's min..max). The GPU pool's cooldowns already pace the pool, so this sensor has none of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg

from infra_assets.assets import K8S_KEY
from infra_assets.autoscaling import TEI_WORKLOAD, ReplicaBounds, replicas_for
from infra_assets.pool_size import PoolSizeUnavailable, current_pool_size
from infra_assets.replicas import last_planned_replicas
from infra_assets.sensors.requests import MIN_INTERVAL_S, scaling_tags, transition_run_key
from infra_assets.settings import K8S, InfraSettings
from resources.profile import EnvProfile, sensor_status
from resources.pulumi_stack import PulumiStackResource

TEI_SENSOR_NAME = "tei_replicas_sensor"


def build_tei_sensor(
    profile: EnvProfile, *, job_name: str, clock: Callable[[], float] = time.time
) -> dg.SensorDefinition:
    """The sensor requesting `job_name` (a job selecting `k8s_deployments`) when TEI and the GPU pool differ."""
    status = sensor_status(profile.automation_running)

    @dg.sensor(
        name=TEI_SENSOR_NAME,
        job_name=job_name,
        minimum_interval_seconds=MIN_INTERVAL_S,
        default_status=status,
        description=f"Re-plans k8s_deployments when the TEI replicas ({TEI_WORKLOAD}) differ from the GPU pool's "
        "node count (one replica per node).",
    )
    def tei_replicas_sensor(
        context: dg.SensorEvaluationContext, infra: InfraSettings, pulumi: PulumiStackResource
    ) -> dg.SensorResult | dg.SkipReason:
        try:
            size = current_pool_size(infra, pulumi)
        except PoolSizeUnavailable as e:
            return dg.SkipReason(f"Cannot read the GPU pool's current size: {e}.")
        specs = infra.specs()
        nodes = size.usable(specs.gpu_pool)
        recorded = last_planned_replicas(infra.output_dir, infra.stack(K8S))
        if TEI_WORKLOAD not in recorded:
            return dg.SkipReason("k8s_deployments has no plan yet: TEI follows the GPU pool from its first plan.")
        tei = specs.k8s.workload(TEI_WORKLOAD)
        have = recorded[TEI_WORKLOAD]
        want = replicas_for(TEI_WORKLOAD, ReplicaBounds(tei.min_replicas, tei.max_replicas), gpu_nodes=nodes)
        signal = f"GPU pool at {nodes} node(s) (from {size.label})"
        if want == have:
            return dg.SkipReason(f"Keeping {have} TEI replica(s): in step with the {signal}.")
        reason = f"TEI follows the GPU pool: {have} -> {want} replica(s)"
        request = dg.RunRequest(
            run_key=transition_run_key("tei", have, want, size, clock(), profile.scale_up_cooldown_s),
            run_config={"ops": {K8S_KEY.to_python_identifier(): {"config": {"reason": reason, "signal": signal}}}},
            tags=scaling_tags("gpu-pool", f"{K8S_KEY.to_user_string()}.{TEI_WORKLOAD}", have, want),
        )
        return dg.SensorResult(run_requests=[request])

    return tei_replicas_sensor
