"""The `<env>-k8s` stack: the rendered manifests as pulumi-kubernetes resources, plus the cluster's bootstrap.

The program creates the objects `render_manifests` produced (typed resources for core kinds, `CustomResource` for
the External Secrets objects), with explicit dependencies: namespace -> secret store -> synced secret ->
deployments. Stack config:

- `deploy_ai_intelligence`, `deploy_data_intelligence`, `deploy_business_intelligence` (bool, default true): a
  domain switched off gets none of its Deployments, Services or PodDisruptionBudgets (shared objects stay).
- `<workload>_replicas` (int, e.g. `data-intelligence-mcp_replicas`): the replicas of that workload (`python -m
  infra_assets scale` and the `scale_workloads_job` set it from the spec, within the workload's bounds).
- `kubeconfig` (a path) / `kubeContext`; absent: the `<env>-cluster` stack's secret `kubeconfig` output when a
  cluster stack is given, else the ambient / in-cluster configuration.
- `pulumiAccessToken` (secret): becomes the Secret `external-secrets/pulumi-access-token` the secret store reads.

Bootstrap, as stack resources: the External Secrets Operator (Helm chart `external-secrets`, pinned) before the
secret store, the token Secret, and the NVIDIA device plugin (a DaemonSet in the manifests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra_assets.autoscaling.workloads import replicas_key
from infra_assets.specs.k8s import DOMAINS, K8sSpec, deploy_flag, manifest_domain, render_manifests

KUBECONFIG_CONFIG = "kubeconfig"
KUBE_CONTEXT_CONFIG = "kubeContext"
ACCESS_TOKEN_CONFIG = "pulumiAccessToken"
GPU_ROLLOUT_TIMEOUT_S = "1200"  # a fresh GPU node pulls the image and the model before TEI is ready
ESO_CHART, ESO_CHART_VERSION, ESO_REPO = "external-secrets", "2.11.0", "https://charts.external-secrets.io"

_TYPED: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
}


def resource_name(manifest: Mapping[str, Any]) -> str:
    """Stable Pulumi resource name: `kind-namespace-name` (cluster-scoped: `kind-name`)."""
    meta = manifest["metadata"]
    parts = [manifest["kind"].lower(), meta.get("namespace"), meta["name"]]
    return "-".join(p for p in parts if p)


def _with_gpu_timeout(manifest: dict[str, Any]) -> dict[str, Any]:
    pod = manifest.get("spec", {}).get("template", {}).get("spec", {})
    gpu = any("nvidia.com/gpu" in c.get("resources", {}).get("limits", {}) for c in pod.get("containers", []))
    if manifest["kind"] != "Deployment" or not gpu:
        return manifest["metadata"]
    annotations = {**manifest["metadata"].get("annotations", {}), "pulumi.com/timeoutSeconds": GPU_ROLLOUT_TIMEOUT_S}
    return {**manifest["metadata"], "annotations": annotations}


def deployed(manifests: list[dict[str, Any]], enabled: Mapping[str, bool]) -> list[dict[str, Any]]:
    """The manifests whose domain is enabled (shared objects and always-on domains stay)."""
    return [m for m in manifests if enabled.get(manifest_domain(m) or "", True)]


def with_config_replicas(manifest: dict[str, Any], config: pulumi.Config) -> dict[str, Any]:
    """A Deployment with `<workload>_replicas` from stack config when set (other objects unchanged)."""
    if manifest["kind"] != "Deployment":
        return manifest
    replicas = config.get_int(replicas_key(manifest["metadata"]["name"]))
    if replicas is None:
        return manifest
    return {**manifest, "spec": {**manifest["spec"], "replicas": replicas}}


def k8s_program(
    spec: K8sSpec, manifests: list[dict[str, Any]] | None = None, *, cluster_stack: str | None = None
) -> Callable[[], None]:
    """A program applying `manifests` (default: rendered from `spec`) in dependency order."""
    objects = manifests if manifests is not None else render_manifests(spec)

    def program() -> None:
        config = pulumi.Config()
        kubeconfig: Any = config.get(KUBECONFIG_CONFIG)
        if kubeconfig is None and cluster_stack:
            kubeconfig = pulumi.StackReference(cluster_stack).get_output("kubeconfig")
        provider = k8s.Provider("k8s", kubeconfig=kubeconfig, context=config.get(KUBE_CONTEXT_CONFIG))
        enabled = {d: config.get_bool(deploy_flag(d)) is not False for d in DOMAINS}
        bootstrap = _bootstrap(spec, config, provider)
        namespaces: dict[str, pulumi.Resource] = {}
        secrets: dict[str, pulumi.Resource] = {}
        store: pulumi.Resource | None = None
        created: list[str] = []
        for m in deployed(objects, enabled):
            m = with_config_replicas(m, config)
            kind, ns = m["kind"], m["metadata"].get("namespace")
            deps: list[pulumi.Resource] = [namespaces[ns]] if ns in namespaces else []
            if kind == "ClusterSecretStore":
                deps += bootstrap
            if kind == "ExternalSecret" and store is not None:
                deps.append(store)
            if kind == "Deployment" and ns in secrets:
                deps.append(secrets[ns])
            opts = pulumi.ResourceOptions(provider=provider, depends_on=deps)
            name = resource_name(m)
            typed = _TYPED.get((m["apiVersion"], kind))
            if typed is not None:
                res = typed(name, metadata=_with_gpu_timeout(m), spec=m.get("spec"), opts=opts)
            else:
                res = k8s.apiextensions.CustomResource(
                    name, api_version=m["apiVersion"], kind=kind, metadata=m["metadata"], spec=m.get("spec"), opts=opts
                )
            if kind == "Namespace":
                namespaces[m["metadata"]["name"]] = res
            elif kind == "ClusterSecretStore":
                store = res
            elif kind == "ExternalSecret" and ns:
                secrets[ns] = res
            created.append(name)
        pulumi.export("namespaces", sorted(namespaces))
        pulumi.export("resources", created)
        pulumi.export("resource_count", len(created))
        pulumi.export("domains", {d: on for d, on in enabled.items()})

    return program


def _bootstrap(spec: K8sSpec, config: pulumi.Config, provider: k8s.Provider) -> list[pulumi.Resource]:
    """The External Secrets Operator and the token Secret its store authenticates with (what the store needs)."""
    token_ns, token_name, token_key = spec.eso_token_secret
    opts = pulumi.ResourceOptions(provider=provider)
    operator = k8s.helm.v3.Release(
        "external-secrets",
        chart=ESO_CHART,
        version=ESO_CHART_VERSION,
        namespace=token_ns,
        create_namespace=True,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ESO_REPO),
        values={"installCRDs": True},
        opts=opts,
    )
    resources: list[pulumi.Resource] = [operator]
    token = config.get_secret(ACCESS_TOKEN_CONFIG)
    if token is not None:
        secret = k8s.core.v1.Secret(
            f"secret-{token_ns}-{token_name}",
            metadata={"name": token_name, "namespace": token_ns},
            string_data={token_key: token},
            type="Opaque",
            opts=pulumi.ResourceOptions(provider=provider, depends_on=[operator]),
        )
        resources.append(secret)
    return resources
