"""The environment variables the infra plane reads: one table, used by Dagster and by the CLI.

Each variable feeds one field of `InfraSettings` (`infra`) or `PulumiStackResource` (`pulumi`). Dagster wraps
secret ones in `dg.EnvVar` (resolved when a run starts, never at load time); the CLI, which has no run, reads
their values directly. A variable that is unset or empty leaves the field at its default (a secret stays
unset, so preview/apply fall back to plan and name what is missing).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import dagster as dg

from infra_assets.settings import DEFAULT_OUT_DIR, MODE_ENV_VAR, InfraSettings
from infra_assets.specs.cluster import CLUSTER_SOURCE_ENV_VAR
from infra_assets.specs.images import IMAGE_TAG, IMAGE_TAG_ENV_VAR
from resources.pulumi_stack import PulumiStackResource

Target = Literal["infra", "pulumi"]
Secrets = Literal["env_var", "value"]  # Dagster: `dg.EnvVar(name)`; CLI: the value itself

DEFAULT_PULUMI_WORK_DIR = ".sophia/pulumi"  # kept (git-ignored) so passphrase/KMS stacks keep their settings


@dataclass(frozen=True, slots=True)
class InfraVariable:
    """One environment variable and the resource field it sets."""

    name: str
    target: Target
    field: str
    secret: bool = False
    default: str | None = None  # used when the variable is unset or empty
    presence: bool = False  # the field is True when the variable is set at all (its value is ignored)


INFRA_VARIABLES: tuple[InfraVariable, ...] = (
    InfraVariable(MODE_ENV_VAR, "infra", "mode", default="plan"),
    InfraVariable("SOPHIA_INFRA_OUT", "infra", "out_dir", default=DEFAULT_OUT_DIR),
    InfraVariable("PULUMI_ORG", "infra", "pulumi_org", default="sophia-ai"),
    InfraVariable("LAMBDA_API_KEY", "infra", "lambda_api_key", secret=True),
    InfraVariable("LAMBDA_API_BASE_URL", "infra", "lambda_api_base_url"),
    InfraVariable("KUBECONFIG", "infra", "kubeconfig", secret=True),
    InfraVariable("KUBE_CONTEXT", "infra", "kube_context"),
    InfraVariable("KUBERNETES_SERVICE_HOST", "infra", "kube_in_cluster", presence=True),
    InfraVariable(IMAGE_TAG_ENV_VAR, "infra", "image_tag", default=IMAGE_TAG),
    InfraVariable(CLUSTER_SOURCE_ENV_VAR, "infra", "cluster_source", default="k3s"),
    InfraVariable("PULUMI_BACKEND_URL", "pulumi", "backend_url"),
    InfraVariable("PULUMI_SECRETS_PROVIDER", "pulumi", "secrets_provider"),
    InfraVariable("PULUMI_ACCESS_TOKEN", "pulumi", "access_token", secret=True),
    InfraVariable("PULUMI_CONFIG_PASSPHRASE", "pulumi", "config_passphrase", secret=True),
    InfraVariable("SOPHIA_PULUMI_WORK_DIR", "pulumi", "work_dir", default=DEFAULT_PULUMI_WORK_DIR),
)


def resource_fields(target: Target, *, secrets: Secrets, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Field values of the `target` resource from the environment (unset fields are left out)."""
    env = os.environ if environ is None else environ
    fields: dict[str, Any] = {}
    for var in INFRA_VARIABLES:
        if var.target != target:
            continue
        raw = env.get(var.name) or None
        if var.presence:
            fields[var.field] = var.name in env
        elif raw is None:
            if var.default is not None:
                fields[var.field] = var.default
        elif var.secret and secrets == "env_var":
            fields[var.field] = dg.EnvVar(var.name)
        else:
            fields[var.field] = raw
    return fields


def infra_settings(env: str, *, secrets: Secrets, **overrides: Any) -> InfraSettings:
    """`InfraSettings` for the profile `env`, from the environment; `overrides` win (e.g. the CLI's mode)."""
    return InfraSettings(env=env, **{**resource_fields("infra", secrets=secrets), **overrides})


def pulumi_resource(*, secrets: Secrets) -> PulumiStackResource:
    """`PulumiStackResource` from the environment."""
    return PulumiStackResource(**resource_fields("pulumi", secrets=secrets))
