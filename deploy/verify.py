"""After a deploy: wait for the rollouts, call each server's health endpoint and the code location's load status.

`python -m deploy.verify [--timeout 600]` (the infra workflow's last step after `pulumi up` and `helm upgrade`),
with the kubeconfig of the cluster (KUBECONFIG). It passes only when, within the timeout,

1. every Deployment of the Dagster release (namespace `dagster`) and every workload of the production k8s spec
   (`build_infra_specs(profile("production")).k8s`: the MCP servers, TEI) with replicas has rolled out: the
   controller saw the latest generation and all replicas are updated and available;
2. each of those workloads answers 200 on its health path through its Service (the API server's service proxy,
   so nothing is exposed and no port-forward is needed);
3. the Dagster webserver's GraphQL `workspaceOrError` lists the code location `sophia-pipelines` as LOADED with no
   load error.

Otherwise it exits 1 and names what failed (a deployment and its replica counts, the status of a health call, the
location's load error). Everything goes through the official kubernetes client, with the cluster's credentials
kept inside it (nothing it prints contains a token).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from deploy.chart import NAMESPACE, RELEASE, USER_DEPLOYMENT

WEBSERVER_SERVICE = f"{RELEASE}-dagster-webserver"  # the chart's `dagster.webserver.fullname`
WEBSERVER_PORT = 80
WORKLOAD_SERVICE_PORT = "http"  # the port name of every workload's Service (infra_assets/specs/k8s.py)
WORKSPACE_QUERY = """
query SophiaDeployVerify {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""


@dataclass(frozen=True, slots=True)
class Rollout:
    """One Deployment's rollout state, from its status."""

    namespace: str
    name: str
    replicas: int
    updated: int
    available: int
    generation: int
    observed_generation: int

    @property
    def done(self) -> bool:
        return (
            self.observed_generation >= self.generation
            and self.updated == self.replicas
            and self.available == self.replicas
        )

    def describe(self) -> str:
        return (
            f"deployment {self.namespace}/{self.name}: {self.updated}/{self.replicas} updated, "
            f"{self.available}/{self.replicas} available (generation {self.observed_generation}/{self.generation})"
        )


@dataclass(frozen=True, slots=True)
class HealthTarget:
    """A workload whose Service answers on `path`."""

    namespace: str
    service: str
    path: str


class VerifyError(RuntimeError):
    """The deploy is not healthy; the message lists what is not."""


class Cluster:
    """The few API calls the verification needs, through the official kubernetes client."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self._api = api_client
        self._apps = client.AppsV1Api(api_client)

    @classmethod
    def from_kubeconfig(cls, context: str | None = None) -> Cluster:
        from kubernetes import config

        return cls(config.new_client_from_config(context=context))

    def rollouts(self, namespace: str, names: Iterable[str] | None = None) -> list[Rollout]:
        """The named Deployments of `namespace` (every one when `names` is None); a missing one raises."""
        if names is None:
            items = self._apps.list_namespaced_deployment(namespace).items
        else:
            items = [self._apps.read_namespaced_deployment(name, namespace) for name in names]
        return [
            Rollout(
                namespace=namespace,
                name=d.metadata.name,
                replicas=d.spec.replicas or 0,
                updated=d.status.updated_replicas or 0,
                available=d.status.available_replicas or 0,
                generation=d.metadata.generation or 0,
                observed_generation=d.status.observed_generation or 0,
            )
            for d in items
        ]

    def proxy(self, namespace: str, service: str, path: str, body: Any = None) -> tuple[int, str]:
        """(status, text) of GET (POST when `body` is given) `path` on `service` via the API server's proxy."""
        from kubernetes.client.exceptions import ApiException

        resource = f"/api/v1/namespaces/{namespace}/services/{service}/proxy/{path.lstrip('/')}"
        try:
            response = self._api.call_api(
                resource,
                "POST" if body is not None else "GET",
                header_params={"Content-Type": "application/json", "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=10,
            )
        except ApiException as exc:
            text = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or exc.reason)
            return exc.status or 0, text[:300]
        return response.status, response.data.decode("utf-8", errors="replace")


def health_targets() -> tuple[list[tuple[str, str]], list[HealthTarget]]:
    """(namespace, deployment) of every workload of the production k8s spec that runs replicas, and their health."""
    from infra_assets.specs import build_infra_specs
    from resources.profile import profile

    spec = build_infra_specs(profile("production")).k8s
    workloads = [w for w in spec.workloads if w.replicas > 0]
    deployments = [(w.namespace, w.name) for w in workloads]
    return deployments, [
        HealthTarget(w.namespace, f"{w.name}:{WORKLOAD_SERVICE_PORT}", w.probe_path) for w in workloads
    ]


def location_problem(payload: dict[str, Any], location: str) -> str | None:
    """None when `location` is LOADED without error in a `workspaceOrError` reply, else what is wrong."""
    workspace = (payload.get("data") or {}).get("workspaceOrError") or {}
    if payload.get("errors"):
        return f"GraphQL errors: {payload['errors']}"
    if workspace.get("__typename") != "Workspace":
        return f"workspaceOrError is {workspace.get('__typename')}: {workspace.get('message', '')}"
    entries = {e["name"]: e for e in workspace.get("locationEntries", [])}
    if location not in entries:
        return f"code location {location!r} is not in the workspace (locations: {', '.join(entries) or 'none'})"
    entry = entries[location]
    loaded = entry.get("locationOrLoadError") or {}
    if loaded.get("__typename") == "PythonError":
        return f"code location {location!r} failed to load: {loaded.get('message', '').strip()[:500]}"
    if entry.get("loadStatus") != "LOADED":
        return f"code location {location!r} is {entry.get('loadStatus')}"
    return None


@dataclass
class Verifier:
    """The three checks, polled until they pass or the timeout ends."""

    cluster: Cluster
    deployments: list[tuple[str, str]]  # workloads outside the Dagster release
    health: list[HealthTarget]
    location: str = USER_DEPLOYMENT
    timeout_s: float = 600.0
    poll_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = print

    def _until(self, what: str, check: Callable[[], list[str]]) -> None:
        deadline = self.clock() + self.timeout_s
        while True:
            problems = check()
            if not problems:
                self.log(f"ok: {what}")
                return
            if self.clock() >= deadline:
                raise VerifyError(f"{what}: not within {self.timeout_s:.0f}s:\n  " + "\n  ".join(problems))
            self.sleep(self.poll_s)

    def rollouts(self) -> list[str]:
        release = self.cluster.rollouts(NAMESPACE)
        if not release:
            return [f"no deployments in namespace {NAMESPACE} (is the Helm release installed?)"]
        by_ns: dict[str, list[str]] = {}
        for namespace, name in self.deployments:
            by_ns.setdefault(namespace, []).append(name)
        workloads = [r for ns, names in by_ns.items() for r in self.cluster.rollouts(ns, names)]
        return [r.describe() for r in [*release, *workloads] if not r.done]

    def health_checks(self) -> list[str]:
        problems = []
        for target in self.health:
            status, text = self.cluster.proxy(target.namespace, target.service, target.path)
            if status != 200:
                problems.append(f"{target.namespace}/{target.service} {target.path}: HTTP {status} {text[:200]}")
        return problems

    def code_location(self) -> list[str]:
        query = {"query": WORKSPACE_QUERY}
        status, text = self.cluster.proxy(NAMESPACE, f"{WEBSERVER_SERVICE}:{WEBSERVER_PORT}", "graphql", query)
        if status != 200:
            return [f"Dagster GraphQL: HTTP {status} {text[:200]}"]
        try:
            payload = json.loads(text)
        except ValueError:
            return [f"Dagster GraphQL: not JSON: {text[:200]}"]
        problem = location_problem(payload, self.location)
        return [problem] if problem else []

    def run(self) -> None:
        self._until("every deployment rolled out", self.rollouts)
        self._until("every workload answers its health check", self.health_checks)
        self._until(f"code location {self.location} loaded", self.code_location)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per check (default 600)")
    parser.add_argument("--context", default=None, help="kubeconfig context (default: the current one)")
    args = parser.parse_args(argv)
    deployments, health = health_targets()
    verifier = Verifier(Cluster.from_kubeconfig(args.context), deployments, health, timeout_s=args.timeout)
    try:
        verifier.run()
    except VerifyError as exc:
        print(f"deploy verification failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
