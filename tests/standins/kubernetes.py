"""A local stand-in for the few Kubernetes API calls a deploy verification makes, for the official client.

`GET /apis/apps/v1/namespaces/{ns}/deployments[/{name}]` answers Deployments whose status the test sets (a list of
statuses per deployment is played one per read, the last one repeating, to show a rollout progressing);
`GET|POST /api/v1/namespaces/{ns}/services/{service}/proxy/{path}` answers what the test registered for that
service and path (the API server's service proxy). A missing object is a 404 `Status`; a request without the
bearer token is a 401.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .http import RecordedRequest, Reply, StandinServer

TOKEN = "stand-in-cluster-token"
_DEPLOYMENTS = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments(?:/([^/]+))?$")
_PROXY = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy/(.*)$")


@dataclass
class DeploymentState:
    replicas: int
    updated: int
    available: int
    generation: int = 1
    observed_generation: int = 1


class KubernetesStandin(StandinServer):
    def __init__(self) -> None:
        super().__init__()
        self.deployments: dict[tuple[str, str], list[DeploymentState]] = {}
        self.proxied: dict[tuple[str, str, str], Reply] = {}  # (namespace, service, path) -> reply
        self._reads: dict[tuple[str, str], int] = {}

    def deployment(self, namespace: str, name: str, *states: DeploymentState) -> None:
        self.deployments[(namespace, name)] = list(states)

    def serve(self, namespace: str, service: str, path: str, reply: Reply) -> None:
        self.proxied[(namespace, service, path.lstrip("/"))] = reply

    def authorized(self, request: RecordedRequest) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    def _manifest(self, namespace: str, name: str) -> dict[str, Any]:
        key = (namespace, name)
        states = self.deployments[key]
        state = states[min(self._reads.get(key, 0), len(states) - 1)]
        self._reads[key] = self._reads.get(key, 0) + 1
        labels = {"app.kubernetes.io/name": name}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "generation": state.generation},
            "spec": {
                "replicas": state.replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": "i"}]}},
            },
            "status": {
                "observedGeneration": state.observed_generation,
                "replicas": state.replicas,
                "updatedReplicas": state.updated,
                "availableReplicas": state.available,
            },
        }

    @staticmethod
    def _not_found(what: str) -> Reply:
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
        return Reply(404, {**status, "message": f"{what} not found"})

    def route(self, request: RecordedRequest) -> Reply:
        if match := _DEPLOYMENTS.match(request.path):
            namespace, name = match.groups()
            if name is None:
                items = [self._manifest(ns, n) for ns, n in list(self.deployments) if ns == namespace]
                return Reply(200, {"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {}, "items": items})
            if (namespace, name) not in self.deployments:
                return self._not_found(f'deployments.apps "{name}"')
            return Reply(200, self._manifest(namespace, name))
        if match := _PROXY.match(request.path):
            namespace, service, path = match.groups()
            reply = self.proxied.get((namespace, service, path))
            return reply if reply is not None else self._not_found(f'services "{service}"')
        return self._not_found(request.path)
