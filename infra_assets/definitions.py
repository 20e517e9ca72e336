"""`build_infra_definitions(profile, backlog, runs)`: the infra plane's assets, checks, jobs, sensors and resources.

Resources come from the environment through one table (`infra_assets.environment`): secrets are wired as
`dg.EnvVar` (resolved when a run starts, never here); a secret variable that is not set at load time is left
unset, so preview/apply fall back to plan with a clear reason rather than failing resource initialization.

What scales what (each a sensor requesting a job, see docs/infrastructure.md "What scales what"):
`gpu_backlog_sensor` -> `scale_gpu_pool_job` (lambda_gpu_pool), one `<pool>_sensor` per CPU node pool ->
`scale_node_pool_job` (node_pool/<pool>), `tei_replicas_sensor` -> `scale_workloads_job` (k8s_deployments).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from infra_assets.assets import ASSET_KEYS, GPU_POOL_KEY, K8S_KEY, build_infra_assets
from infra_assets.checks import build_infra_checks
from infra_assets.environment import infra_settings, pulumi_resource
from infra_assets.node_pools import build_node_pool_assets, node_pool_key
from infra_assets.sensors import build_backlog_sensor, build_node_pool_sensor, build_tei_sensor
from infra_assets.settings import GPU_POOL, K8S, stack_name
from infra_assets.signals import BacklogSignal, RunQueueSignal
from infra_assets.specs.node_pools import build_node_pool_specs
from resources.profile import EnvProfile, profile
from resources.pulumi_stack import stack_run_tags

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

INFRA_PLAN_JOB = "infra_plan_job"
SCALE_GPU_POOL_JOB = "scale_gpu_pool_job"
SCALE_NODE_POOL_JOB = "scale_node_pool_job"
SCALE_WORKLOADS_JOB = "scale_workloads_job"
INFRA_RUN_TAGS = {"sophia/plane": "infra"}


def build_infra_resources(env: str | EnvProfile) -> dict[str, Any]:
    """`infra` (InfraSettings) and `pulumi` (PulumiStackResource), configured from the environment."""
    name = env.name if isinstance(env, EnvProfile) else profile(env).name
    return {"infra": infra_settings(name, secrets="env_var"), "pulumi": pulumi_resource(secrets="env_var")}


def build_infra_jobs(prof: EnvProfile, node_pool_keys: list[dg.AssetKey]) -> list[UnresolvedAssetJobDefinition]:
    """The plan job and one scaling job per kind of thing scaled."""
    return [
        dg.define_asset_job(
            INFRA_PLAN_JOB,
            selection=dg.AssetSelection.assets(*ASSET_KEYS.values(), *node_pool_keys),
            description="Plan (or preview/apply, per SOPHIA_INFRA_MODE) every infra stack and node pool, with "
            "their checks.",
            tags=INFRA_RUN_TAGS,
        ),
        dg.define_asset_job(
            SCALE_GPU_POOL_JOB,
            selection=dg.AssetSelection.assets(GPU_POOL_KEY),
            description="Resize the Lambda GPU pool: run config `desired_nodes` and `reason` for lambda_gpu_pool.",
            tags={**INFRA_RUN_TAGS, **stack_run_tags(stack_name(prof.name, GPU_POOL))},
        ),
        dg.define_asset_job(
            SCALE_NODE_POOL_JOB,
            selection=dg.AssetSelection.assets(*node_pool_keys),
            description="Resize a CPU node pool: run one node_pool/<pool> asset (asset selection) with run config "
            "`desired_nodes` and `reason`.",
            tags=INFRA_RUN_TAGS,
        ),
        dg.define_asset_job(
            SCALE_WORKLOADS_JOB,
            selection=dg.AssetSelection.assets(K8S_KEY),
            description="Scale Kubernetes workloads: run config `replicas: {workload: n}` for k8s_deployments "
            "(each within its min..max; TEI follows the GPU pool).",
            tags={**INFRA_RUN_TAGS, **stack_run_tags(stack_name(prof.name, K8S))},
        ),
    ]


def build_infra_definitions(env: str | EnvProfile, backlog: BacklogSignal, runs: RunQueueSignal) -> dg.Definitions:
    """Infra assets (with the CPU node pools), checks, the plan and scaling jobs, the scaling sensors, resources.

    `env` is the profile (or its name); `backlog` says which data-plane assets and metadata entry report the
    embedding backlog the GPU pool is sized by; `runs` which Dagster runs the run-queue node pools carry.
    """
    prof = env if isinstance(env, EnvProfile) else profile(env)
    pools = build_node_pool_specs(prof)
    node_pool_keys = [node_pool_key(p.pool_name) for p in pools]
    sensors = [
        build_backlog_sensor(prof, backlog, job_name=SCALE_GPU_POOL_JOB),
        *(build_node_pool_sensor(prof, pool, runs, job_name=SCALE_NODE_POOL_JOB) for pool in pools),
        build_tei_sensor(prof, job_name=SCALE_WORKLOADS_JOB),
    ]
    return dg.Definitions(
        assets=[*build_infra_assets(prof.name, backlog), *build_node_pool_assets(prof.name)],
        asset_checks=build_infra_checks(prof.name),
        jobs=build_infra_jobs(prof, node_pool_keys),
        sensors=sensors,
        resources=build_infra_resources(prof),
    )
