"""Desired state of the Kubernetes workloads, rendered to plain manifests.

Workloads read credentials only through `secretKeyRef`s to one Secret per namespace that the External
Secrets Operator syncs from the ESC environment (ClusterSecretStore `pulumi` provider + ExternalSecret);
no Secret object with data is ever rendered.

Placement: every workload belongs to a domain and runs on that domain's node pool (`nodeSelector` on the pool's
`workload-type` label; the AI pool's GPU taint is tolerated by the AI workloads); GPU workloads additionally select
the GPU pool by its own label. Each Deployment has a PodDisruptionBudget (`maxUnavailable: 1`), which the drain
before a node's termination respects. Each domain's workloads are deployed only when its `deploy_<domain>` flag is
on (stack config of the k8s stack, default on; the infrastructure server is always deployed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from infra_assets.autoscaling.workloads import TEI_WORKLOAD
from infra_assets.specs.cluster import GPU_TAINT
from infra_assets.specs.esc import EscEnvironmentSpec
from infra_assets.specs.gpu_pool import GpuPoolSpec
from infra_assets.specs.images import MCP_HEALTH_PATH, MCP_PORT, image_ref, mcp_server_args
from infra_assets.specs.pools import WORKLOAD_TYPE_LABEL
from resources.profile import ENV_VAR, TEI_MODEL, EnvProfile

ESC_SECRET_NAME = "sophia-esc-secrets"
ESO_API_VERSION = "external-secrets.io/v1"
PART_OF = "sophia-ai"
DOMAIN_LABEL = "sophia.ai/domain"
AI_INTELLIGENCE, DATA_INTELLIGENCE, BUSINESS_INTELLIGENCE = (
    "ai-intelligence",
    "data-intelligence",
    "business-intelligence",
)
DOMAINS = (AI_INTELLIGENCE, DATA_INTELLIGENCE, BUSINESS_INTELLIGENCE)  # each behind a `deploy_<domain>` flag
INFRASTRUCTURE = "infrastructure"  # always deployed; runs on the data-intelligence pool


def deploy_flag(domain: str) -> str:
    """Stack config key of a domain's flag, e.g. `deploy_ai_intelligence`."""
    return f"deploy_{domain.replace('-', '_')}"


class ReplicaCountError(ValueError):
    """Replicas asked of a workload outside its bounds, of an unknown workload, or of one that follows the GPU pool."""


@dataclass(frozen=True, slots=True)
class Resources:
    """Container requests/limits; `gpus` > 0 requests `nvidia.com/gpu`."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str
    gpus: int = 0


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """One Deployment plus its ClusterIP Service."""

    name: str
    namespace: str
    image: str  # pinned: a version tag or an @sha256 digest
    replicas: int
    min_replicas: int
    max_replicas: int
    resources: Resources
    port: int = 8080
    probe_path: str = "/health"
    args: tuple[str, ...] = ()
    command: tuple[str, ...] = ()  # overrides the image's entrypoint when set
    env: Mapping[str, str] = field(default_factory=dict)  # plain, non-secret configuration
    secret_env: tuple[str, ...] = ()  # keys of the ESC-synced Secret, exposed under the same names
    on_gpu_pool: bool = False
    startup_grace_s: int = 0  # extra startup time (model download) before liveness applies
    host_volumes: Mapping[str, str] = field(default_factory=dict)  # mount path -> host path
    domain: str = INFRASTRUCTURE  # which `deploy_<domain>` flag deploys it
    node_selector: Mapping[str, str] = field(default_factory=dict)  # its domain's pool
    tolerations: tuple[Mapping[str, str], ...] = ()

    @property
    def version(self) -> str:
        return self.image.rsplit("@", 1)[-1] if "@" in self.image else self.image.rsplit(":", 1)[-1]

    @property
    def allowed_range(self) -> str:
        return f"{self.min_replicas}..{self.max_replicas}"

    def check_replicas(self, replicas: int) -> int:
        """`replicas` when the workload may run that many, else `ReplicaCountError` naming the range.

        The one rule for asked-for replicas (the k8s asset's run config, `python -m infra_assets scale`).
        A workload on the GPU pool runs one replica per node: it is sized by the pool, never directly.
        """
        if self.on_gpu_pool:
            raise ReplicaCountError(f"{self.name} runs one replica per GPU node: size the GPU pool instead")
        if isinstance(replicas, bool) or not isinstance(replicas, int):
            raise ReplicaCountError(f"replicas {replicas!r} of {self.name} is not a whole number")
        if not self.min_replicas <= replicas <= self.max_replicas:
            raise ReplicaCountError(
                f"replicas {replicas} is out of range for workload {self.name}: allowed {self.allowed_range}"
            )
        return replicas

    def clamp(self, replicas: int) -> int:
        """`replicas` within [min_replicas, max_replicas] (for a recorded count nobody asked for now)."""
        return max(self.min_replicas, min(self.max_replicas, replicas))


@dataclass(frozen=True, slots=True)
class K8sSpec:
    """All namespaces and workloads of one environment, plus where their secrets come from."""

    env: str
    namespaces: tuple[str, ...]
    workloads: tuple[WorkloadSpec, ...]
    esc: EscEnvironmentSpec
    gpu_node_selector: Mapping[str, str]
    gpu_taint_key: str
    kubernetes_version: str = "1.30"
    secret_name: str = ESC_SECRET_NAME
    eso_token_secret: tuple[str, str, str] = (
        "external-secrets",
        "pulumi-access-token",
        "PULUMI_ACCESS_TOKEN",
    )

    @property
    def secret_store_name(self) -> str:
        return f"pulumi-esc-{self.env}"

    def workload(self, name: str) -> WorkloadSpec:
        """The workload called `name` (`ReplicaCountError` naming the known ones otherwise)."""
        for w in self.workloads:
            if w.name == name:
                return w
        known = ", ".join(w.name for w in self.workloads)
        raise ReplicaCountError(f"unknown workload {name!r}; known: {known}")

    @property
    def replicas(self) -> dict[str, int]:
        """Replicas per workload, e.g. `{"data-intelligence-mcp": 2, "text-embeddings-inference": 1}`."""
        return {w.name: w.replicas for w in self.workloads}

    def with_replicas(self, replicas: Mapping[str, int]) -> K8sSpec:
        """The same spec with `replicas` (workload -> count) set, each checked by `WorkloadSpec.check_replicas`."""
        for name, count in replicas.items():
            self.workload(name).check_replicas(count)
        workloads = tuple(replace(w, replicas=replicas.get(w.name, w.replicas)) for w in self.workloads)
        return replace(self, workloads=workloads)


def _placement(domain: str, pool_type: str) -> dict[str, Any]:
    """Domain, pool selector and tolerations of a workload of `domain` running on the `pool_type` pool."""
    tolerations = (GPU_TAINT.toleration(),) if pool_type == AI_INTELLIGENCE else ()
    return {"domain": domain, "node_selector": {WORKLOAD_TYPE_LABEL: pool_type}, "tolerations": tolerations}


def _mcp(name: str, image: str, env: str, replicas: int, secret_env: tuple[str, ...], **kw: Any) -> WorkloadSpec:
    """An MCP server: the platform image running `python -m <module> --transport http ...` (`specs/images.py`)."""
    domain = name.removesuffix("-mcp")
    pool_type = domain if domain in DOMAINS else DATA_INTELLIGENCE
    kw = {**_placement(domain, pool_type), **kw}
    command = mcp_server_args(name)
    return WorkloadSpec(
        name=name,
        namespace="sophia-mcp",
        image=image,
        replicas=replicas,
        min_replicas=1,
        max_replicas=6,
        resources=Resources("250m", "512Mi", "1", "1Gi"),
        port=MCP_PORT,
        probe_path=MCP_HEALTH_PATH,
        command=command[:3],
        args=command[3:],
        env={ENV_VAR: env, "LOG_LEVEL": "info", **kw.pop("extra_env", {})},
        secret_env=(MCP_AUTH_ENV, *secret_env),
        **kw,
    )


SNOWFLAKE_ENV = (
    "SNOWFLAKE_ACCOUNT",
    "SNOWFLAKE_USER",
    "SNOWFLAKE_PASSWORD",
    "SNOWFLAKE_PRIVATE_KEY",  # key-pair auth, rotated by ESC (docs/secrets.md); used instead of the password when set
    "SNOWFLAKE_ROLE",
    "SNOWFLAKE_WAREHOUSE",
    "SNOWFLAKE_DATABASE",
    "SNOWFLAKE_SCHEMA",
)
PINECONE_ENV = ("PINECONE_API_KEY", "PINECONE_INDEX_HOST")
MCP_AUTH_ENV = "MCP_AUTH_TOKEN"  # the bearer token of the MCP servers' HTTP transport (sophia_mcp/auth.py)
# The Dagster webserver of the Helm release `dagster` in namespace `dagster` (deploy/helm/values.yaml); the MCP write
# tools launch runs through its GraphQL API.
DAGSTER_GRAPHQL_URL = "http://dagster-dagster-webserver.dagster.svc.cluster.local/graphql"
TEI_IMAGE = "ghcr.io/huggingface/text-embeddings-inference:86-1.7"  # 86 = Ampere A10 build
TEI_SERVICE_URL = "http://text-embeddings-inference.sophia-inference.svc.cluster.local"


def build_k8s_spec(
    profile: EnvProfile,
    *,
    esc: EscEnvironmentSpec,
    gpu_pool: GpuPoolSpec,
    gpu_nodes: int | None = None,
    image_tag: str | None = None,
) -> K8sSpec:
    """The four MCP servers (`profile.mcp_replicas` each, infrastructure-mcp one; all the one platform image) and
    the embedding server serving `TEI_MODEL`; TEI runs one replica per GPU node."""
    env, replicas = profile.name, profile.mcp_replicas
    tei_replicas = gpu_pool.desired_nodes if gpu_nodes is None else gpu_nodes
    tei_url = TEI_SERVICE_URL
    image = image_ref(image_tag)
    model_cache = f"/lambda/nfs/{gpu_pool.file_system_names[0]}/hf-cache" if gpu_pool.file_system_names else ""
    workloads = (
        _mcp(
            "ai-intelligence-mcp",
            image,
            env,
            replicas,
            (
                "OPENROUTER_API_KEY",
                "PORTKEY_API_KEY",
                "PORTKEY_CONFIG",
                "ARIZE_SPACE_ID",
                "ARIZE_API_KEY",
                "HF_TOKEN",
                "TOGETHER_API_KEY",
            ),
            extra_env={"TEI_URL": tei_url},  # the `embed` tool and the query embeddings of `ask`
        ),
        _mcp(
            "data-intelligence-mcp",
            image,
            env,
            replicas,
            (
                "APIFY_TOKEN",
                "PHANTOMBUSTER_API_KEY",
                "TWINGLY_API_KEY",
                "TAVILY_API_KEY",
                "ZENROWS_API_KEY",
                *PINECONE_ENV,
                *SNOWFLAKE_ENV,
            ),
            extra_env={"TEI_URL": tei_url, "DAGSTER_GRAPHQL_URL": DAGSTER_GRAPHQL_URL},
        ),
        _mcp(
            "infrastructure-mcp",
            image,
            env,
            1,
            ("LAMBDA_API_KEY", "PULUMI_ACCESS_TOKEN", "DOCKER_USERNAME", "DOCKER_TOKEN"),
            extra_env={"DAGSTER_GRAPHQL_URL": DAGSTER_GRAPHQL_URL},
        ),
        _mcp(
            "business-intelligence-mcp",
            image,
            env,
            replicas,
            (*SNOWFLAKE_ENV, *PINECONE_ENV),
            extra_env={"TEI_URL": tei_url},
        ),
        WorkloadSpec(
            name=TEI_WORKLOAD,
            namespace="sophia-inference",
            image=TEI_IMAGE,
            replicas=tei_replicas,
            min_replicas=0,
            max_replicas=gpu_pool.max_nodes,
            resources=Resources("2", "8Gi", "8", "24Gi", gpus=1),
            args=("--model-id", TEI_MODEL, "--port", "8080", "--max-client-batch-size", "32"),
            env={"HUGGINGFACE_HUB_CACHE": "/data"},
            secret_env=("HF_TOKEN",),
            on_gpu_pool=True,
            startup_grace_s=600,
            host_volumes={"/data": model_cache} if model_cache else {},
            domain=AI_INTELLIGENCE,
        ),
    )
    return K8sSpec(
        env=env,
        namespaces=("sophia-mcp", "sophia-inference"),
        workloads=workloads,
        esc=esc,
        gpu_node_selector=gpu_pool.node_selector,
        gpu_taint_key=gpu_pool.taint_key,
    )


def _labels(spec: K8sSpec, name: str, version: str | None = None, domain: str | None = None) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
        "sophia.ai/env": spec.env,
    }
    if domain:
        labels[DOMAIN_LABEL] = domain
    if version:
        labels["app.kubernetes.io/version"] = version[:63].replace(":", "-")
    return labels


def _container(spec: K8sSpec, w: WorkloadSpec) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in w.env.items()]
    env += [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": spec.secret_name, "key": key}}} for key in w.secret_env
    ]
    limits: dict[str, str] = {"cpu": w.resources.cpu_limit, "memory": w.resources.memory_limit}
    if w.resources.gpus:
        limits["nvidia.com/gpu"] = str(w.resources.gpus)

    def probe(failure_threshold: int) -> dict[str, Any]:  # fresh dicts: no shared nodes (YAML anchors)
        return {
            "httpGet": {"path": w.probe_path, "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": failure_threshold,
        }

    container: dict[str, Any] = {
        "name": w.name,
        "image": w.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": w.port, "protocol": "TCP"}],
        "env": env,
        "resources": {
            "requests": {"cpu": w.resources.cpu_request, "memory": w.resources.memory_request},
            "limits": limits,
        },
        "readinessProbe": probe(3),
        "livenessProbe": probe(6),
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    if w.command:
        container["command"] = list(w.command)
    if w.args:
        container["args"] = list(w.args)
    if w.startup_grace_s:
        container["startupProbe"] = probe(max(1, w.startup_grace_s // 10))
    if w.host_volumes:
        container["volumeMounts"] = [
            {"name": f"host-{i}", "mountPath": path} for i, path in enumerate(sorted(w.host_volumes))
        ]
    return container


def _deployment(spec: K8sSpec, w: WorkloadSpec) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": w.name, "app.kubernetes.io/part-of": PART_OF}
    pod_spec: dict[str, Any] = {"containers": [_container(spec, w)], "automountServiceAccountToken": False}
    if w.on_gpu_pool:
        pod_spec["nodeSelector"] = dict(spec.gpu_node_selector)
        pod_spec["tolerations"] = [{"key": spec.gpu_taint_key, "operator": "Exists", "effect": "NoSchedule"}]
    else:
        pod_spec["securityContext"] = {"runAsNonRoot": True}
        if w.node_selector:
            pod_spec["nodeSelector"] = dict(w.node_selector)
        if w.tolerations:
            pod_spec["tolerations"] = [dict(t) for t in w.tolerations]
    if w.host_volumes:
        pod_spec["volumes"] = [
            {"name": f"host-{i}", "hostPath": {"path": w.host_volumes[path], "type": "DirectoryOrCreate"}}
            for i, path in enumerate(sorted(w.host_volumes))
        ]
    # A GPU node has one GPU: replace pods in place rather than surge onto a node that isn't there.
    rolling = {"maxSurge": 0, "maxUnavailable": 1} if w.on_gpu_pool else {"maxSurge": 1, "maxUnavailable": 0}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": w.name, "namespace": w.namespace, "labels": _labels(spec, w.name, w.version, w.domain)},
        "spec": {
            "replicas": w.replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling},
            "template": {"metadata": {"labels": _labels(spec, w.name, w.version)}, "spec": pod_spec},
        },
    }


def _service(spec: K8sSpec, w: WorkloadSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": w.name, "namespace": w.namespace, "labels": _labels(spec, w.name, domain=w.domain)},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": w.name, "app.kubernetes.io/part-of": PART_OF},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _disruption_budget(spec: K8sSpec, w: WorkloadSpec) -> dict[str, Any]:
    """At most one pod of `w` down at a time: a drain evicts them one by one (and waits while one restarts)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": w.name, "namespace": w.namespace, "labels": _labels(spec, w.name, domain=w.domain)},
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": w.name, "app.kubernetes.io/part-of": PART_OF}},
        },
    }


DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.17.2"


def _device_plugin(spec: K8sSpec) -> dict[str, Any]:
    """The NVIDIA device plugin on the GPU pool's nodes: advertises `nvidia.com/gpu` so TEI can request it."""
    name = "nvidia-device-plugin"
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "kube-system", "labels": _labels(spec, name, domain=AI_INTELLIGENCE)},
        "spec": {
            "selector": {"matchLabels": selector},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": _labels(spec, name, domain=AI_INTELLIGENCE)},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "nodeSelector": dict(spec.gpu_node_selector),
                    "tolerations": [{"key": spec.gpu_taint_key, "operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [
                        {
                            "name": name,
                            "image": DEVICE_PLUGIN_IMAGE,
                            "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
                            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                            "volumeMounts": [{"name": "device-plugin", "mountPath": "/var/lib/kubelet/device-plugins"}],
                        }
                    ],
                    "volumes": [{"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}}],
                },
            },
        },
    }


def _secret_store(spec: K8sSpec) -> dict[str, Any]:
    token_ns, token_name, token_key = spec.eso_token_secret
    return {
        "apiVersion": ESO_API_VERSION,
        "kind": "ClusterSecretStore",
        "metadata": {"name": spec.secret_store_name, "labels": _labels(spec, spec.secret_store_name)},
        "spec": {
            "provider": {
                "pulumi": {
                    "organization": spec.esc.organization,
                    "project": spec.esc.project,
                    "environment": spec.esc.name,
                    "auth": {
                        "accessToken": {"secretRef": {"namespace": token_ns, "name": token_name, "key": token_key}}
                    },
                }
            }
        },
    }


def _external_secret(spec: K8sSpec, namespace: str, keys: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": ESO_API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {
            "name": spec.secret_name,
            "namespace": namespace,
            "labels": _labels(spec, spec.secret_name),
        },
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": spec.secret_store_name},
            "target": {"name": spec.secret_name, "creationPolicy": "Owner"},
            "data": [{"secretKey": key, "remoteRef": {"key": f"environmentVariables.{key}"}} for key in keys],
        },
    }


def secret_keys_by_namespace(spec: K8sSpec) -> dict[str, list[str]]:
    """The ESC-synced keys each namespace's workloads reference, sorted and de-duplicated."""
    keys: dict[str, set[str]] = {ns: set() for ns in spec.namespaces}
    for w in spec.workloads:
        keys.setdefault(w.namespace, set()).update(w.secret_env)
    return {ns: sorted(k) for ns, k in keys.items()}


def render_manifests(spec: K8sSpec) -> list[dict[str, Any]]:
    """Plain manifests in apply order: namespaces, secret store, synced secrets, deployments, services, PDBs, and
    the NVIDIA device plugin."""
    manifests: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": _labels(spec, ns)}}
        for ns in spec.namespaces
    ]
    manifests.append(_secret_store(spec))
    manifests += [_external_secret(spec, ns, keys) for ns, keys in secret_keys_by_namespace(spec).items() if keys]
    manifests += [_deployment(spec, w) for w in spec.workloads]
    manifests += [_service(spec, w) for w in spec.workloads]
    manifests += [_disruption_budget(spec, w) for w in spec.workloads]
    manifests.append(_device_plugin(spec))
    return manifests


def manifest_domain(manifest: Mapping[str, Any]) -> str | None:
    """The domain a manifest belongs to (`sophia.ai/domain`), None for shared objects (namespaces, secrets)."""
    return manifest.get("metadata", {}).get("labels", {}).get(DOMAIN_LABEL)


def manifest_id(manifest: Mapping[str, Any]) -> str:
    """`Kind/namespace/name` (or `Kind/name` when cluster-scoped): a stable, readable identity."""
    meta = manifest.get("metadata", {})
    parts = [manifest.get("kind", "?"), meta.get("namespace"), meta.get("name", "?")]
    return "/".join(p for p in parts if p)
