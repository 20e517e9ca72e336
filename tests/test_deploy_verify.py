"""The post-deploy verification (deploy/verify.py) against a Kubernetes API stand-in, through the official client.

Time is simulated (the verifier's clock advances by its own sleeps), so a rollout that never finishes fails at its
timeout in no time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kubernetes import client

from deploy.chart import NAMESPACE, USER_DEPLOYMENT
from deploy.verify import WEBSERVER_PORT, WEBSERVER_SERVICE, Cluster, Verifier, VerifyError, health_targets
from tests.standins.http import Reply
from tests.standins.kubernetes import TOKEN, DeploymentState, KubernetesStandin

READY = DeploymentState(replicas=2, updated=2, available=2)
RELEASE_DEPLOYMENTS = (f"{WEBSERVER_SERVICE}", "dagster-daemon", f"dagster-dagster-user-deployments-{USER_DEPLOYMENT}")
GRAPHQL = (NAMESPACE, f"{WEBSERVER_SERVICE}:{WEBSERVER_PORT}", "graphql")


def workspace(status: str = "LOADED", error: str | None = None) -> Reply:
    loaded = {"__typename": "PythonError", "message": error} if error else {"__typename": "RepositoryLocation"}
    entry = {"name": USER_DEPLOYMENT, "loadStatus": status, "locationOrLoadError": loaded}
    return Reply(200, {"data": {"workspaceOrError": {"__typename": "Workspace", "locationEntries": [entry]}}})


@pytest.fixture
def cluster() -> Iterator[KubernetesStandin]:
    """A healthy deploy: every deployment rolled out, every health path 200, the location loaded."""
    with KubernetesStandin() as standin:
        for name in RELEASE_DEPLOYMENTS:
            standin.deployment(NAMESPACE, name, READY)
        deployments, health = health_targets()
        for namespace, name in deployments:
            standin.deployment(namespace, name, READY)
        for target in health:
            standin.serve(target.namespace, target.service, target.path, Reply(200, {"status": "ok"}))
        standin.serve(*GRAPHQL, workspace())
        yield standin


def verifier(standin: KubernetesStandin) -> tuple[Verifier, list[str]]:
    config = client.Configuration(host=standin.url)
    config.api_key = {"BearerToken": TOKEN}  # kubernetes client >= 36
    config.api_key_prefix = {"BearerToken": "Bearer"}
    now = [0.0]
    logged: list[str] = []
    deployments, health = health_targets()
    v = Verifier(
        Cluster(client.ApiClient(config)),
        deployments,
        health,
        timeout_s=60,
        poll_s=5,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        log=logged.append,
    )
    return v, logged


def test_a_healthy_deploy_passes(cluster: KubernetesStandin) -> None:
    v, logged = verifier(cluster)
    v.run()
    assert len(logged) == 3
    _, health = health_targets()
    mcp = [t for t in health if t.service.endswith("-mcp:http")]
    assert len(mcp) == 4 and all(t.path == "/health" for t in mcp)
    proxied = set(cluster.paths("GET"))
    for t in health:
        assert f"/api/v1/namespaces/{t.namespace}/services/{t.service}/proxy/{t.path.lstrip('/')}" in proxied
    (graphql,) = [r for r in cluster.requests if r.method == "POST"]
    assert "workspaceOrError" in graphql.json()["query"] and "locationEntries" in graphql.json()["query"]


def test_a_rollout_in_progress_is_waited_for(cluster: KubernetesStandin) -> None:
    name = RELEASE_DEPLOYMENTS[2]
    cluster.deployment(NAMESPACE, name, DeploymentState(2, 1, 1, 2, 1), DeploymentState(2, 2, 1, 2, 2), READY)
    v, _ = verifier(cluster)
    v.run()
    reads = [p for p in cluster.paths("GET") if p.endswith("/deployments")]
    assert len(reads) >= 3  # polled until the new pods were available


def test_a_stuck_rollout_fails_naming_the_deployment(cluster: KubernetesStandin) -> None:
    deployments, _ = health_targets()
    namespace, name = deployments[0]
    cluster.deployment(namespace, name, DeploymentState(replicas=2, updated=2, available=1))
    v, _ = verifier(cluster)
    with pytest.raises(VerifyError, match=f"deployment {namespace}/{name}: 2/2 updated, 1/2 available"):
        v.run()


def test_an_unhealthy_mcp_server_fails_the_deploy(cluster: KubernetesStandin) -> None:
    _, health = health_targets()
    target = next(t for t in health if "mcp" in t.service)
    cluster.serve(target.namespace, target.service, target.path, Reply(503, {"status": "starting"}))
    v, _ = verifier(cluster)
    with pytest.raises(VerifyError, match=rf"{target.service} /health: HTTP 503"):
        v.run()


def test_a_code_location_that_fails_to_load_fails_the_deploy(cluster: KubernetesStandin) -> None:
    cluster.serve(*GRAPHQL, workspace("LOADED", "ModuleNotFoundError: No module named 'dagster_k8s'"))
    v, _ = verifier(cluster)
    with pytest.raises(VerifyError, match="failed to load: ModuleNotFoundError"):
        v.run()


def test_a_missing_code_location_or_release_fails(cluster: KubernetesStandin) -> None:
    cluster.serve(
        *GRAPHQL, Reply(200, {"data": {"workspaceOrError": {"__typename": "Workspace", "locationEntries": []}}})
    )
    v, _ = verifier(cluster)
    with pytest.raises(VerifyError, match="is not in the workspace"):
        v.run()
    with KubernetesStandin() as empty:
        v, _ = verifier(empty)
        with pytest.raises(VerifyError, match="no deployments in namespace dagster"):
            v.run()


def test_requests_carry_the_clusters_token(cluster: KubernetesStandin) -> None:
    v, _ = verifier(cluster)
    v.run()
    assert {r.headers.get("authorization") for r in cluster.requests} == {f"Bearer {TOKEN}"}
    assert json.dumps([r.path for r in cluster.requests]).count(TOKEN) == 0
