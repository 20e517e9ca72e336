"""The SSH-less kubeconfig: the CA from the k3s server's `/cacerts` (bounded wait) plus the generated admin token."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import yaml
from kubernetes import config as k8s_config

from infra_assets.lambda_cloud.k3s import ClusterCaUnavailable, build_kubeconfig, fetch_cluster_ca
from tests.helpers import FakeTime
from tests.standins.http import RecordedRequest, Reply, StandinServer

CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


class K3sServerStandIn(StandinServer):
    """Serves `/cacerts` without auth, as a k3s server does for joining agents."""

    content_type = "text/plain"

    def authorized(self, request: RecordedRequest) -> bool:
        return True

    def route(self, request: RecordedRequest) -> Reply:
        return Reply(200, CA.encode()) if request.path == "/cacerts" else Reply(404, b"not found")


@pytest.fixture
def server() -> Iterator[K3sServerStandIn]:
    with K3sServerStandIn() as standin:
        yield standin


def test_the_ca_is_read_once_the_server_answers(server: K3sServerStandIn) -> None:
    server.fail_next(2, status=503, path="/cacerts")  # still booting
    fake = FakeTime(now=0.0)
    assert fetch_cluster_ca(server.url, timeout_s=60, poll_s=10, sleep=fake.sleep, clock=fake.clock) == CA
    assert fake.sleeps == [10, 10] and len(server.requests) == 3


def test_a_server_that_never_answers_fails_after_the_bounded_wait(server: K3sServerStandIn) -> None:
    server.fail_next(100, status=503, path="/cacerts")
    fake = FakeTime(now=0.0)
    with pytest.raises(ClusterCaUnavailable, match=r"did not serve its CA \(/cacerts\) within 30s \(last: HTTP 503\)"):
        fetch_cluster_ca(server.url, timeout_s=30, poll_s=10, sleep=fake.sleep, clock=fake.clock)
    assert fake.now == 30


def test_the_kubeconfig_verifies_tls_with_that_ca_and_loads_in_the_client() -> None:
    text = build_kubeconfig("sophia-ai-production", "https://192.0.2.10:6443", CA, "admin-token-secret")
    document = yaml.safe_load(text)
    cluster = document["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]).decode() == CA
    assert "insecure-skip-tls-verify" not in cluster and cluster["server"] == "https://192.0.2.10:6443"
    client = k8s_config.new_client_from_config_dict(document)
    assert client.configuration.host == "https://192.0.2.10:6443" and client.configuration.verify_ssl
    client.close()
