"""The `<env>-k8s` stack: the rendered manifests as pulumi-kubernetes resources.

The program creates exactly the objects `render_manifests` produced (typed resources for core kinds,
`CustomResource` for the External Secrets objects), with explicit dependencies: namespace -> secret store
-> synced secret -> deployments. The provider reads the kubeconfig path from stack config `kubeconfig`
(absent: the ambient / in-cluster configuration).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra_assets.specs.k8s import K8sSpec, render_manifests

KUBECONFIG_CONFIG = "kubeconfig"
KUBE_CONTEXT_CONFIG = "kubeContext"
GPU_ROLLOUT_TIMEOUT_S = "1200"  # a fresh GPU node pulls the image and the model before TEI is ready

_TYPED: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
}


def resource_name(manifest: Mapping[str, Any]) -> str:
    """Stable Pulumi resource name: `kind-namespace-name` (cluster-scoped: `kind-name`)."""
    meta = manifest["metadata"]
    parts = [manifest["kind"].lower(), meta.get("namespace"), meta["name"]]
    return "-".join(p for p in parts if p)


def _with_gpu_timeout(manifest: dict[str, Any]) -> dict[str, Any]:
    pod = manifest.get("spec", {}).get("template", {}).get("spec", {})
    if manifest["kind"] != "Deployment" or "nodeSelector" not in pod:
        return manifest["metadata"]
    annotations = {**manifest["metadata"].get("annotations", {}), "pulumi.com/timeoutSeconds": GPU_ROLLOUT_TIMEOUT_S}
    return {**manifest["metadata"], "annotations": annotations}


def k8s_program(spec: K8sSpec, manifests: list[dict[str, Any]] | None = None) -> Callable[[], None]:
    """A program applying `manifests` (default: rendered from `spec`) in dependency order."""
    objects = manifests if manifests is not None else render_manifests(spec)

    def program() -> None:
        config = pulumi.Config()
        provider = k8s.Provider(
            "k8s", kubeconfig=config.get(KUBECONFIG_CONFIG), context=config.get(KUBE_CONTEXT_CONFIG)
        )
        namespaces: dict[str, pulumi.Resource] = {}
        secrets: dict[str, pulumi.Resource] = {}
        store: pulumi.Resource | None = None
        created: list[str] = []
        for m in objects:
            kind, ns = m["kind"], m["metadata"].get("namespace")
            deps: list[pulumi.Resource] = [namespaces[ns]] if ns in namespaces else []
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

    return program
