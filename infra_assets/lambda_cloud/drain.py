"""Cordon and drain a Kubernetes node before its Lambda instance is terminated (the official `kubernetes` client).

`drain_node` is what the pool provider runs for each instance it removes (node name = instance name):

1. **Guard**: a node running a Dagster run pod (label `dagster/run-id`, phase Running) is drained only when another
   Ready, schedulable node of the same pool (label `sophia.ai/pool`) can take the run's retry; otherwise
   `DrainRefused` — the last node a running run needs is never terminated.
2. **Cordon** (`spec.unschedulable: true`), then **evict** every pod on the node through the Eviction API, which
   respects PodDisruptionBudgets: a 429 answer means a budget blocks it now, so it is asked again after `poll_s`.
   DaemonSet pods and mirror (static) pods are left alone, as `kubectl drain --ignore-daemonsets` does.
3. **Bounded wait**: until every evicted pod is gone or `timeout_s` passed. Then either `DrainTimeout` naming the
   pods still there (the default) or, with `force=True` (an explicit setting), delete those pods directly.
4. **Delete the Node object**, so the cluster forgets the node before the instance disappears.

`sleep`/`clock` are injectable so tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from infra_assets.specs.cluster import POOL_LABEL

DAGSTER_RUN_LABEL = "dagster/run-id"  # dagster-k8s labels every run pod with its run id
DEFAULT_DRAIN_TIMEOUT_S = 600.0
DEFAULT_POLL_S = 5.0


class DrainError(Exception):
    """A node could not be drained; the instance is not terminated."""


class DrainRefused(DrainError):
    """Draining would take away the last node a running Dagster run needs."""


class DrainTimeout(DrainError):
    """Pods were still on the node when the bounded wait ended (e.g. a PodDisruptionBudget kept blocking)."""

    def __init__(self, message: str, remaining: list[str]) -> None:
        super().__init__(message)
        self.remaining = remaining


@dataclass
class DrainReport:
    """What one drain did."""

    node: str
    evicted: list[str] = field(default_factory=list)
    blocked_attempts: int = 0  # evictions answered 429 (a PodDisruptionBudget said not now)
    forced: list[str] = field(default_factory=list)
    node_deleted: bool = False
    skipped: str | None = None  # why nothing was done (e.g. the node never joined)


def core_api_from_kubeconfig(kubeconfig: str) -> k8s_client.CoreV1Api:
    """A CoreV1Api for the cluster a kubeconfig document (YAML text, not a path) describes."""
    api_client = k8s_config.new_client_from_config_dict(yaml.safe_load(kubeconfig))
    return k8s_client.CoreV1Api(api_client)


def _pod_id(pod: Any) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def _evictable(pod: Any) -> bool:
    meta = pod.metadata
    if (meta.annotations or {}).get("kubernetes.io/config.mirror"):
        return False
    owners = meta.owner_references or []
    if any(o.kind == "DaemonSet" for o in owners):
        return False
    return pod.status is None or pod.status.phase not in ("Succeeded", "Failed")


def _ready_schedulable(node: Any) -> bool:
    if node.spec is not None and node.spec.unschedulable:
        return False
    conditions = (node.status.conditions if node.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def _pods_on(api: k8s_client.CoreV1Api, node: str) -> list[Any]:
    return list(api.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items)


def _guard_dagster_runs(api: k8s_client.CoreV1Api, node: Any, pods: list[Any]) -> None:
    runs = [
        p
        for p in pods
        if DAGSTER_RUN_LABEL in (p.metadata.labels or {}) and p.status is not None and p.status.phase == "Running"
    ]
    if not runs:
        return
    name = node.metadata.name
    pool = (node.metadata.labels or {}).get(POOL_LABEL)
    others = []
    if pool:
        listing = api.list_node(label_selector=f"{POOL_LABEL}={pool}").items
        others = [n.metadata.name for n in listing if n.metadata.name != name and _ready_schedulable(n)]
    if not others:
        ids = ", ".join(_pod_id(p) for p in runs)
        raise DrainRefused(
            f"not draining node {name}: it is the last Ready node of pool {pool or '?'} and runs Dagster run pod(s) "
            f"{ids}; scale down again after the run(s) finish"
        )


def drain_node(
    api: k8s_client.CoreV1Api,
    node_name: str,
    *,
    timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> DrainReport:
    """Guard, cordon, evict (PDB-aware, bounded), then delete the Node object (see the module doc)."""
    report = DrainReport(node_name)
    try:
        node = api.read_node(node_name)
    except ApiException as exc:
        if exc.status == 404:  # never joined (or already removed): nothing runs there
            report.skipped = "node not in the cluster"
            return report
        raise DrainError(f"reading node {node_name} failed: HTTP {exc.status} {exc.reason}") from None
    pods = [p for p in _pods_on(api, node_name) if _evictable(p)]
    _guard_dagster_runs(api, node, pods)
    api.patch_node(node_name, {"spec": {"unschedulable": True}})

    deadline = clock() + timeout_s
    pending = {_pod_id(p): p for p in pods}
    while True:
        for pid, pod in list(pending.items()):
            if pid in report.evicted:
                continue
            body = k8s_client.V1Eviction(
                metadata=k8s_client.V1ObjectMeta(name=pod.metadata.name, namespace=pod.metadata.namespace)
            )
            try:
                api.create_namespaced_pod_eviction(pod.metadata.name, pod.metadata.namespace, body)
                report.evicted.append(pid)
            except ApiException as exc:
                if exc.status == 404:
                    report.evicted.append(pid)
                elif exc.status == 429:
                    report.blocked_attempts += 1
                else:
                    raise DrainError(
                        f"evicting {pid} from {node_name} failed: HTTP {exc.status} {exc.reason}"
                    ) from None
        remaining = {_pod_id(p) for p in _pods_on(api, node_name) if _evictable(p)}
        pending = {pid: pod for pid, pod in pending.items() if pid in remaining}
        if not pending:
            break
        if clock() >= deadline:
            if not force:
                names = sorted(pending)
                raise DrainTimeout(
                    f"draining node {node_name}: {len(names)} pod(s) still there after {timeout_s:.0f}s "
                    f"({', '.join(names)}); a PodDisruptionBudget blocks eviction. The instance was not terminated; "
                    "retry later or set force_drain to delete the pods",
                    names,
                )
            for pid, pod in pending.items():
                api.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
                report.forced.append(pid)
            break
        sleep(poll_s)

    try:
        api.delete_node(node_name)
    except ApiException as exc:
        if exc.status != 404:
            raise DrainError(f"deleting node {node_name} failed: HTTP {exc.status} {exc.reason}") from None
    report.node_deleted = True
    return report


def drain_nodes(kubeconfig: str, node_names: list[str], settings: Mapping[str, Any] | None = None) -> list[DrainReport]:
    """Drain each node (in order) on the cluster `kubeconfig` names; the first failure stops and raises."""
    api = core_api_from_kubeconfig(kubeconfig)
    try:
        return [drain_node(api, name, **dict(settings or {})) for name in node_names]
    finally:
        api.api_client.close()
