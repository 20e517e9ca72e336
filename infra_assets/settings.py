"""Settings of the infra plane (the `infra` resource) and the pure rules that pick the run mode.

Modes: `plan` renders the desired state to files and metadata and needs nothing but this package;
`preview` and `apply` run Pulumi through the Automation API. When preview/apply is requested but the
Pulumi CLI or a credential is missing, assets fall back to `plan` and say why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field

from infra_assets.specs import InfraSpecs, build_infra_specs
from infra_assets.specs.cluster import ClusterSpec, build_cluster_spec
from infra_assets.specs.images import IMAGE_TAG
from resources.profile import DEFAULT_ENV, PROFILES, EnvProfile, profile

MODES = ("plan", "preview", "apply")
MODE_ENV_VAR = "SOPHIA_INFRA_MODE"
ESC, CLUSTER, GPU_POOL, K8S = "esc", "cluster", "gpu-pool", "k8s"
COMPONENTS = (ESC, CLUSTER, GPU_POOL, K8S)  # in dependency order: the pools join the cluster, k8s deploys onto it
NODE_POOL = "node-pool"  # the kind of a CPU node pool's stack (`<env>-<pool name>`, `node_pool_plan`)
PULUMI_PROJECT = "sophia-ai"
DEFAULT_OUT_DIR = ".sophia/infra"
_DIY_SCHEMES = ("file://", "s3://", "gs://", "azblob://", "postgres://")
_PASSPHRASE_PROVIDERS = (None, "", "passphrase", "default")


def check_mode(mode: str) -> str:
    """`mode` if it is one of `MODES`, else a `ValueError` listing them."""
    if mode not in MODES:
        raise ValueError(f"unknown infra mode {mode!r}; expected one of {', '.join(MODES)}")
    return mode


def check_env(env: str) -> str:
    """`env` if it names a profile (`resources.profile.PROFILES`), else a `ValueError` listing them."""
    if env not in PROFILES:
        raise ValueError(f"unknown environment {env!r}; expected one of {', '.join(PROFILES)}")
    return env


def stack_name(env: str, component: str) -> str:
    """`production-k8s` etc.: one stack per asset, all in project `sophia-ai`."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown infra component {component!r}; expected one of {', '.join(COMPONENTS)}")
    return f"{env}-{component}"


def node_pool_plan(env: str, pool: str) -> str:
    """`production-data-intelligence-pool`: a CPU node pool's stack, also where its plan is written."""
    return f"{env}-{pool}"


def env_stacks(env: str) -> list[str]:
    """Every stack of `env` in dependency order: esc, cluster, the GPU pool, each CPU node pool, k8s."""
    pools = [node_pool_plan(env, p) for p in profile(check_env(env)).cpu_pools]
    return [stack_name(env, ESC), stack_name(env, CLUSTER), stack_name(env, GPU_POOL), *pools, stack_name(env, K8S)]


def parse_pool_stack(stack: str) -> tuple[str, str] | None:
    """(env, pool name) when `stack` is a CPU node pool's stack of a known environment, else None."""
    for env, prof in PROFILES.items():
        for pool in prof.cpu_pools:
            if stack == node_pool_plan(env, pool):
                return env, pool
    return None


def parse_stack_name(stack: str) -> tuple[str, str]:
    """(env, component) from a stack name made by `stack_name`."""
    for component in COMPONENTS:
        suffix = f"-{component}"
        if stack.endswith(suffix) and len(stack) > len(suffix):
            return stack[: -len(suffix)], component
    raise ValueError(f"{stack!r} is not an infra stack (<env>-{{{','.join(COMPONENTS)}}})")


@dataclass(frozen=True, slots=True)
class ModeDecision:
    """The mode asked for, the mode that runs, and the reason when they differ."""

    requested: str
    effective: str  # what actually runs
    reason: str | None = None  # why it fell back to plan

    @property
    def label(self) -> str:
        """`apply`, or `plan (fallback: pulumi CLI not found)`: what asset metadata shows as `mode`."""
        return f"plan (fallback: {self.reason})" if self.reason else self.effective


def decide_mode(requested: str, *, cli_found: bool, missing: list[str]) -> ModeDecision:
    """Run `requested` if possible; otherwise plan, with the reason."""
    if check_mode(requested) == "plan":
        return ModeDecision(requested, "plan")
    if not cli_found:
        return ModeDecision(requested, "plan", "pulumi CLI not found on PATH")
    if missing:
        return ModeDecision(requested, "plan", f"missing credentials: {', '.join(missing)}")
    return ModeDecision(requested, requested)


def missing_backend_credentials(
    *, backend_url: str | None, secrets_provider: str | None, has_access_token: bool, has_passphrase: bool
) -> list[str]:
    """What the state backend needs: Pulumi Cloud a token, a DIY backend with passphrase secrets a passphrase."""
    url = backend_url or ""
    if not url.startswith(_DIY_SCHEMES):
        return [] if has_access_token else ["PULUMI_ACCESS_TOKEN"]
    if secrets_provider in _PASSPHRASE_PROVIDERS and not has_passphrase:
        return ["PULUMI_CONFIG_PASSPHRASE"]
    return []


class InfraSettings(dg.ConfigurableResource):
    """Environment, mode, plan output directory and the infra credentials (secrets come via `dg.EnvVar`)."""

    env: str = Field(
        default=DEFAULT_ENV, description="Profile name (resources.profile); names the stacks (<env>-<component>)."
    )
    mode: str = Field(default="plan", description="plan | preview | apply (SOPHIA_INFRA_MODE).")
    out_dir: str = Field(default=DEFAULT_OUT_DIR, description="Where plan mode writes files (SOPHIA_INFRA_OUT).")
    pulumi_org: str = Field(default="sophia-ai", description="Pulumi Cloud organization owning the ESC env.")
    lambda_api_key: str | None = Field(default=None, description="Lambda Cloud API key (secret; LAMBDA_API_KEY).")
    lambda_api_base_url: str | None = Field(default=None, description="Override of the Lambda API base URL.")
    kubeconfig: str | None = Field(default=None, description="Path of the kubeconfig to deploy with (KUBECONFIG).")
    kube_context: str | None = Field(default=None, description="kubeconfig context (default: current).")
    kube_in_cluster: bool = Field(default=False, description="Use the in-cluster service account, no kubeconfig.")
    image_tag: str = Field(default=IMAGE_TAG, description="Tag of the platform image (SOPHIA_IMAGE_TAG).")
    cluster_source: str = Field(default="k3s", description="k3s (the cluster stack owns a k3s server) | kubeconfig.")

    @property
    def requested_mode(self) -> str:
        return check_mode(self.mode)

    @property
    def profile(self) -> EnvProfile:
        """The environment profile `env` names (pool bounds, replicas, protection, ...)."""
        return profile(check_env(self.env))

    @property
    def output_dir(self) -> Path:
        return Path(self.out_dir)

    def stack(self, component: str) -> str:
        return stack_name(self.env, component)

    def stack_ref(self, component: str) -> str:
        """The fully qualified stack name a `StackReference` reads, e.g. `sophia-ai/sophia-ai/production-cluster`."""
        return f"{self.pulumi_org}/{PULUMI_PROJECT}/{self.stack(component)}"

    def specs(self, desired_nodes: int | None = None) -> InfraSpecs:
        """The desired state of every stack (override in tests to inject a deliberately bad spec)."""
        return build_infra_specs(
            self.profile, organization=self.pulumi_org, desired_nodes=desired_nodes, image_tag=self.image_tag
        )

    def cluster(self) -> ClusterSpec:
        """The cluster spec: the k3s server (or an existing cluster) and the pools that join it."""
        specs = self.specs()
        return build_cluster_spec(self.env, specs.gpu_pool, specs.node_pools, source=self.cluster_source)

    def missing_component_credentials(self, component: str) -> list[str]:
        """Credentials a component needs beyond the state backend."""
        if component == ESC:
            return []  # the pulumiservice provider needs PULUMI_ACCESS_TOKEN; checked with the backend
        if component == CLUSTER:
            if self.cluster().owns_server:
                return [] if self.lambda_api_key else ["LAMBDA_API_KEY"]
            return [] if self.kubeconfig else ["KUBECONFIG"]
        if component in (GPU_POOL, NODE_POOL):
            return [] if self.lambda_api_key else ["LAMBDA_API_KEY"]
        if component == K8S:  # `python -m infra_assets bootstrap` writes the cluster stack's kubeconfig to a file
            return [] if (self.kubeconfig or self.kube_in_cluster) else ["KUBECONFIG"]
        raise ValueError(f"unknown infra component {component!r}")

    def secret_values(self) -> list[str]:
        """Secret strings this resource holds (for redacting Pulumi output)."""
        return [v for v in (self.lambda_api_key,) if v]
