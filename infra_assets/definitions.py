"""`build_infra_definitions(profile, backlog)`: the infra plane's assets, checks, jobs, sensor and resources.

Resources come from the environment through one table (`infra_assets.environment`): secrets are wired as
`dg.EnvVar` (resolved when a run starts, never here); a secret variable that is not set at load time is left
unset, so preview/apply fall back to plan with a clear reason rather than failing resource initialization.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from infra_assets.assets import ASSET_KEYS, GPU_POOL_KEY, build_infra_assets
from infra_assets.checks import build_infra_checks
from infra_assets.environment import infra_settings, pulumi_resource
from infra_assets.sensors import BacklogSignal, build_backlog_sensor
from infra_assets.settings import GPU_POOL, stack_name
from resources.profile import EnvProfile, profile
from resources.pulumi_stack import stack_run_tags

INFRA_PLAN_JOB = "infra_plan_job"
SCALE_GPU_POOL_JOB = "scale_gpu_pool_job"


def build_infra_resources(env: str | EnvProfile) -> dict[str, Any]:
    """`infra` (InfraSettings) and `pulumi` (PulumiStackResource), configured from the environment."""
    name = env.name if isinstance(env, EnvProfile) else profile(env).name
    return {"infra": infra_settings(name, secrets="env_var"), "pulumi": pulumi_resource(secrets="env_var")}


def build_infra_definitions(env: str | EnvProfile, backlog: BacklogSignal) -> dg.Definitions:
    """Infra assets, checks, `infra_plan_job`, `scale_gpu_pool_job`, the backlog sensor and resources.

    `env` is the profile (or its name); `backlog` says which data-plane assets and metadata entry report the
    embedding backlog the sensor sizes the GPU pool by.
    """
    prof = env if isinstance(env, EnvProfile) else profile(env)
    infra_plan_job = dg.define_asset_job(
        INFRA_PLAN_JOB,
        selection=dg.AssetSelection.assets(*ASSET_KEYS.values()),
        description="Plan (or preview/apply, per SOPHIA_INFRA_MODE) every infra stack, with its checks.",
    )
    scale_gpu_pool_job = dg.define_asset_job(
        SCALE_GPU_POOL_JOB,
        selection=dg.AssetSelection.assets(GPU_POOL_KEY),
        description="Resize the Lambda GPU pool: run config `desired_nodes` and `reason` for lambda_gpu_pool.",
        tags=stack_run_tags(stack_name(prof.name, GPU_POOL)),
    )
    return dg.Definitions(
        assets=build_infra_assets(prof.name),
        asset_checks=build_infra_checks(prof.name),
        jobs=[infra_plan_job, scale_gpu_pool_job],
        sensors=[build_backlog_sensor(prof, backlog, job_name=SCALE_GPU_POOL_JOB)],
        resources=build_infra_resources(prof),
    )
