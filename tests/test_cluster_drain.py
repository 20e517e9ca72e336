"""Drain before terminate: the official `kubernetes` client against a stand-in of the endpoints drain uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra_assets.lambda_cloud.drain import (
    DAGSTER_RUN_LABEL,
    DrainRefused,
    DrainTimeout,
    core_api_from_kubeconfig,
    drain_node,
)
from infra_assets.specs.cluster import POOL_LABEL
from tests.helpers import FakeTime
from tests.standins.kubernetes_api import KubernetesApiStandIn

POOL = {POOL_LABEL: "data-intelligence-pool"}


@pytest.fixture
def kube() -> Iterator[KubernetesApiStandIn]:
    with KubernetesApiStandIn() as standin:
        yield standin


def _drain(kube: KubernetesApiStandIn, node: str, fake: FakeTime, **kw: object):  # type: ignore[no-untyped-def]
    api = core_api_from_kubeconfig(kube.kubeconfig())
    try:
        return drain_node(api, node, sleep=fake.sleep, clock=fake.clock, poll_s=5.0, **kw)  # type: ignore[arg-type]
    finally:
        api.api_client.close()


def test_cordon_evict_wait_then_delete_the_node(kube: KubernetesApiStandIn) -> None:
    kube.add_node("data-001", POOL)
    web = kube.add_pod("sophia-mcp", "data-mcp-1", "data-001")
    kube.add_pod("kube-system", "svclb", "data-001", owner_kind="DaemonSet")  # left alone, like --ignore-daemonsets
    kube.pdb_blocks[web] = 2  # a PodDisruptionBudget says "not now" twice
    report = _drain(kube, "data-001", FakeTime(now=0.0), timeout_s=60)

    assert report.evicted == [web] and report.blocked_attempts == 2 and report.node_deleted
    assert "data-001" not in kube.nodes and web not in kube.pods
    patch = kube.calls("PATCH", "/nodes/data-001")[0]
    assert patch.json() == {"spec": {"unschedulable": True}}  # cordoned before the first eviction
    first_eviction = next(i for i, r in enumerate(kube.requests) if r.path.endswith("/eviction"))
    assert kube.requests.index(patch) < first_eviction
    assert [r.path for r in kube.calls("POST", "/eviction")] == [
        "/api/v1/namespaces/sophia-mcp/pods/data-mcp-1/eviction"
    ] * 3


def test_a_blocking_budget_times_out_with_a_clear_error_and_keeps_the_node(kube: KubernetesApiStandIn) -> None:
    kube.add_node("data-001", POOL)
    pod = kube.add_pod("sophia-mcp", "data-mcp-1", "data-001")
    kube.pdb_blocks[pod] = -1
    fake = FakeTime(now=0.0)
    with pytest.raises(DrainTimeout, match=r"1 pod\(s\) still there after 30s \(sophia-mcp/data-mcp-1\)") as caught:
        _drain(kube, "data-001", fake, timeout_s=30)
    assert caught.value.remaining == [pod]
    assert "data-001" in kube.nodes and kube.nodes["data-001"]["spec"]["unschedulable"] is True
    assert not kube.calls("DELETE")
    assert 30 <= fake.now <= 40  # bounded: the wait ends at the timeout (fake clock, no real sleeping)


def test_forced_eviction_only_by_explicit_setting(kube: KubernetesApiStandIn) -> None:
    kube.add_node("data-001", POOL)
    pod = kube.add_pod("sophia-mcp", "data-mcp-1", "data-001")
    kube.pdb_blocks[pod] = -1
    report = _drain(kube, "data-001", FakeTime(now=0.0), timeout_s=30, force=True)
    assert report.forced == [pod] and report.node_deleted and not kube.pods


def test_never_drains_the_last_node_a_running_dagster_run_needs(kube: KubernetesApiStandIn) -> None:
    kube.add_node("data-001", POOL)
    kube.add_node("data-002", POOL, ready=False)  # not Ready: cannot take the run
    kube.add_node("bi-001", {POOL_LABEL: "business-intelligence-pool"})  # another pool does not count
    kube.add_pod("dagster", "run-abc", "data-001", labels={DAGSTER_RUN_LABEL: "abc"}, owner_kind="Job")
    with pytest.raises(DrainRefused, match=r"last Ready node of pool data-intelligence-pool.*dagster/run-abc"):
        _drain(kube, "data-001", FakeTime(now=0.0))
    assert not kube.calls("PATCH") and not kube.calls("POST") and "data-001" in kube.nodes

    kube.add_node("data-003", POOL)  # another Ready node of the pool: the run can be retried there
    report = _drain(kube, "data-001", FakeTime(now=0.0))
    assert report.evicted == ["dagster/run-abc"] and report.node_deleted


def test_a_node_that_never_joined_is_skipped(kube: KubernetesApiStandIn) -> None:
    report = _drain(kube, "data-009", FakeTime(now=0.0))
    assert report.skipped == "node not in the cluster" and not report.node_deleted
