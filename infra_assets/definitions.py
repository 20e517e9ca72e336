"""`build_infra_definitions(env)`: the infra plane's assets, checks, jobs, sensor and resources.

Secrets are wired with `dg.EnvVar` (resolved when a run starts, never here). A secret variable that is
not set at load time is left unset instead, so preview/apply fall back to plan with a clear reason rather
than failing resource initialization. Only presence is tested here, never the value.
"""

import os
from typing import Any

import dagster as dg

from infra_assets.assets import ASSET_KEYS, GPU_POOL_KEY, build_infra_assets
from infra_assets.checks import build_infra_checks
from infra_assets.sensors import build_backlog_sensor
from infra_assets.settings import DEFAULT_OUT_DIR, GPU_POOL, MODE_ENV_VAR, InfraSettings, stack_name
from infra_assets.specs.gpu_pool import build_gpu_pool_spec
from resources.pulumi_stack import PulumiStackResource, stack_run_tags

INFRA_PLAN_JOB = "infra_plan_job"
SCALE_GPU_POOL_JOB = "scale_gpu_pool_job"
DEFAULT_PULUMI_WORK_DIR = ".sophia/pulumi"


def _secret(name: str) -> dg.EnvVar | None:
    """`dg.EnvVar(name)` when the variable exists (its value is read only when a run starts)."""
    return dg.EnvVar(name) if name in os.environ else None


def _setting(name: str) -> str | None:
    return os.environ.get(name) or None


def build_infra_resources(env: str) -> dict[str, Any]:
    """`infra` (InfraSettings) and `pulumi` (PulumiStackResource), configured from the environment."""
    infra = InfraSettings(
        env=env,
        mode=os.environ.get(MODE_ENV_VAR, "plan"),
        out_dir=os.environ.get("SOPHIA_INFRA_OUT", DEFAULT_OUT_DIR),
        pulumi_org=os.environ.get("PULUMI_ORG", "sophia-ai"),
        lambda_api_key=_secret("LAMBDA_API_KEY"),
        lambda_api_base_url=_setting("LAMBDA_API_BASE_URL"),
        kubeconfig=_secret("KUBECONFIG"),
        kube_context=_setting("KUBE_CONTEXT"),
        kube_in_cluster="KUBERNETES_SERVICE_HOST" in os.environ,
    )
    pulumi_kwargs: dict[str, Any] = {
        "backend_url": _setting("PULUMI_BACKEND_URL"),
        "secrets_provider": _setting("PULUMI_SECRETS_PROVIDER"),
        "access_token": _secret("PULUMI_ACCESS_TOKEN"),
        "config_passphrase": _secret("PULUMI_CONFIG_PASSPHRASE"),
        # A kept workspace (git-ignored) so passphrase/KMS stacks keep their encryption settings.
        "work_dir": os.environ.get("SOPHIA_PULUMI_WORK_DIR", DEFAULT_PULUMI_WORK_DIR),
    }
    pulumi = PulumiStackResource(**{k: v for k, v in pulumi_kwargs.items() if v is not None})
    return {"infra": infra, "pulumi": pulumi}


def build_infra_definitions(env: str) -> dg.Definitions:
    """Infra assets, checks, `infra_plan_job`, `scale_gpu_pool_job`, the backlog sensor and resources."""
    assets = build_infra_assets(env)
    infra_plan_job = dg.define_asset_job(
        INFRA_PLAN_JOB,
        selection=dg.AssetSelection.assets(*ASSET_KEYS.values()),
        description="Plan (or preview/apply, per SOPHIA_INFRA_MODE) every infra stack, with its checks.",
    )
    scale_gpu_pool_job = dg.define_asset_job(
        SCALE_GPU_POOL_JOB,
        selection=dg.AssetSelection.assets(GPU_POOL_KEY),
        description="Resize the Lambda GPU pool: run config `desired_nodes` and `reason` for lambda_gpu_pool.",
        tags=stack_run_tags(stack_name(env, GPU_POOL)),
    )
    sensor = build_backlog_sensor(env, build_gpu_pool_spec(env), job_name=SCALE_GPU_POOL_JOB)
    return dg.Definitions(
        assets=assets,
        asset_checks=build_infra_checks(env),
        jobs=[infra_plan_job, scale_gpu_pool_job],
        sensors=[sensor],
        resources=build_infra_resources(env),
    )
