"""A local stand-in for the few Kubernetes API endpoints draining uses (http.server on 127.0.0.1, random port).

Implements, with the API's JSON shapes, what `infra_assets.lambda_cloud.drain` calls through the official client:
GET/PATCH/DELETE /api/v1/nodes/{name}, GET /api/v1/nodes?labelSelector=k=v, GET /api/v1/pods?fieldSelector=
spec.nodeName=X, POST /api/v1/namespaces/{ns}/pods/{name}/eviction (429 while a PodDisruptionBudget blocks the pod)
and DELETE /api/v1/namespaces/{ns}/pods/{name}. Bearer-token auth. An evicted pod disappears after
`termination_lists` pod listings (its graceful termination).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .http import RecordedRequest, Reply, StandinServer

TOKEN = "kube-standin-token"


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }


@dataclass
class KubernetesApiStandIn(StandinServer):
    """Context manager; `kubeconfig()` is a kubeconfig document pointing the official client at it."""

    token: str = field(default=TOKEN, repr=False)
    termination_lists: int = 1

    def __post_init__(self) -> None:
        super().__init__()
        handler = self._server.RequestHandlerClass

        class WithPatch(handler):  # type: ignore[misc, valid-type]  # the shared handler has no PATCH
            do_PATCH = handler.do_GET

        self._server.RequestHandlerClass = WithPatch
        self.nodes: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, dict[str, Any]] = {}  # "ns/name" -> pod
        self.pdb_blocks: dict[str, int] = {}  # "ns/name" -> evictions still refused (429); -1: always
        self._terminating: dict[str, int] = {}  # "ns/name" -> listings left before it is gone

    # ---- test controls ------------------------------------------------------------------------------

    def kubeconfig(self) -> str:
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
                "users": [{"name": "admin", "user": {"token": self.token}}],
                "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "admin"}}],
                "current-context": "standin",
            }
        )

    def add_node(self, name: str, labels: dict[str, str] | None = None, *, ready: bool = True) -> None:
        with self._lock:
            self.nodes[name] = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": dict(labels or {})},
                "spec": {},
                "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
            }

    def add_pod(
        self,
        namespace: str,
        name: str,
        node: str,
        *,
        labels: dict[str, str] | None = None,
        phase: str = "Running",
        owner_kind: str | None = "ReplicaSet",
    ) -> str:
        owners = (
            [{"apiVersion": "apps/v1", "kind": owner_kind, "name": f"{name}-owner", "uid": "u"}] if owner_kind else []
        )
        with self._lock:
            self.pods[f"{namespace}/{name}"] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": dict(labels or {}),
                    "ownerReferences": owners,
                },
                "spec": {"nodeName": node, "containers": [{"name": "main", "image": "example:1"}]},
                "status": {"phase": phase},
            }
        return f"{namespace}/{name}"

    def calls(self, method: str, suffix: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    # ---- behaviour ----------------------------------------------------------------------------------

    def authorized(self, request: RecordedRequest) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def route(self, request: RecordedRequest) -> Reply:
        with self._lock:
            status, body = self._route(request)
        return Reply(status, body)

    def _route(self, request: RecordedRequest) -> tuple[int, Any]:
        method, parts = request.method, request.path.strip("/").split("/")
        if parts[:2] != ["api", "v1"]:
            return 404, _status(404, "NotFound", "unknown API group")
        rest = parts[2:]
        if rest == ["nodes"] and method == "GET":
            key, _, value = request.query.get("labelSelector", "").partition("=")
            items = [n for n in self.nodes.values() if not key or n["metadata"]["labels"].get(key) == value]
            return 200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": items}
        if len(rest) == 2 and rest[0] == "nodes":
            return self._node(method, rest[1], request)
        if rest == ["pods"] and method == "GET":
            return 200, self._pod_list(request.query.get("fieldSelector", ""))
        if len(rest) >= 4 and rest[0] == "namespaces" and rest[2] == "pods":
            pid = f"{rest[1]}/{rest[3]}"
            if len(rest) == 5 and rest[4] == "eviction" and method == "POST":
                return self._evict(pid)
            if len(rest) == 4 and method == "DELETE":
                pod = self.pods.pop(pid, None)
                return (200, pod) if pod else (404, _status(404, "NotFound", f"pods {pid} not found"))
        return 404, _status(404, "NotFound", f"{method} {request.path} is not implemented by the stand-in")

    def _node(self, method: str, name: str, request: RecordedRequest) -> tuple[int, Any]:
        node = self.nodes.get(name)
        if node is None:
            return 404, _status(404, "NotFound", f'nodes "{name}" not found')
        if method == "GET":
            return 200, node
        if method == "PATCH":
            patch = request.json() or {}
            node["spec"].update(patch.get("spec") or {})
            return 200, node
        if method == "DELETE":
            del self.nodes[name]
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        return 405, _status(405, "MethodNotAllowed", method)

    def _pod_list(self, field_selector: str) -> dict[str, Any]:
        node = field_selector.removeprefix("spec.nodeName=") if field_selector.startswith("spec.nodeName=") else None
        for pid in list(self._terminating):  # graceful termination advances with each listing
            self._terminating[pid] -= 1
            if self._terminating[pid] < 0:
                self.pods.pop(pid, None)
                del self._terminating[pid]
        items = [p for p in self.pods.values() if node is None or p["spec"]["nodeName"] == node]
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}

    def _evict(self, pid: str) -> tuple[int, Any]:
        if pid not in self.pods:
            return 404, _status(404, "NotFound", f"pods {pid} not found")
        blocks = self.pdb_blocks.get(pid, 0)
        if blocks != 0:
            self.pdb_blocks[pid] = blocks - 1 if blocks > 0 else blocks
            message = "Cannot evict pod as it would violate the pod's disruption budget."
            return 429, _status(429, "TooManyRequests", message)
        self._terminating.setdefault(pid, self.termination_lists)
        return 201, {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pid.split("/")[1]}}


__all__ = ["TOKEN", "KubernetesApiStandIn"]
