"""The pool provider resumes launches after transient failures within one create/update, without duplicates.

Driven directly against the Lambda Cloud stand-in (Pulumi mocks never call a dynamic provider); fake clock and
sleep, so nothing really waits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from infra_assets.lambda_cloud.provider import (
    MAX_LAUNCH_RESUMES,
    POOL_TAG_KEY,
    LambdaGpuPoolProvider,
    LambdaPoolScalingError,
)
from tests.helpers import FakeTime
from tests.standins.lambda_cloud import LambdaCloudStandIn

KEY = "sk-lambda-RESUME-SECRET-77"
LAUNCH = ("POST", "/instance-operations/launch")
LIST = ("GET", "/instances")
PREFIX = "train-gpu"


@pytest.fixture
def standin() -> Iterator[LambdaCloudStandIn]:
    with LambdaCloudStandIn(api_key=KEY) as s:
        yield s


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime(now=50.0)


@pytest.fixture
def provider(fake: FakeTime) -> LambdaGpuPoolProvider:
    return LambdaGpuPoolProvider(sleep=fake.sleep, clock=fake.clock, wall_clock=fake.wall)


def props(standin: LambdaCloudStandIn, desired: int) -> dict[str, Any]:
    return {
        "pool_name": "train",
        "instance_type": "gpu_1x_a10",
        "region": "us-east-1",
        "ssh_key_names": ["ops-key"],
        "file_system_names": [],
        "desired_nodes": float(desired),
        "name_prefix": PREFIX,
        "api_key": KEY,
        "api_base_url": standin.base_url,
        "min_request_interval_s": 1.0,
        "launch_interval_s": 10.0,
        "ready_timeout_s": 600.0,
    }


def present(standin: LambdaCloudStandIn) -> list[dict[str, Any]]:
    return [i for i in standin.instances() if i["status"] not in ("terminating", "terminated")]


def assert_pool(standin: LambdaCloudStandIn, outs: dict[str, Any], desired: int) -> None:
    """Exactly `desired` instances exist, each once by name, all tagged, and the outputs list exactly them."""
    live = present(standin)
    names = Counter(i["name"] for i in live)
    assert len(live) == desired and outs["node_count"] == desired
    assert all(n == 1 for n in names.values()), f"duplicate names: {names}"
    assert all(i["tags"] == [{"key": POOL_TAG_KEY, "value": "train"}] for i in live)
    assert sorted(outs["instance_ids"]) == sorted(i["id"] for i in live)
    assert sorted(outs["instance_names"]) == sorted(names)


def drop_next_launch(standin: LambdaCloudStandIn) -> None:
    standin.fail_next(1, path="/api/v1/instance-operations/launch", drop=True)


def reject_next_launch(status: int):
    def inject(standin: LambdaCloudStandIn) -> None:
        standin.inject_errors(1, status=status, retry_after=None, code="global/internal-error", route=LAUNCH)

    return inject


@pytest.mark.parametrize(
    "fail",
    [reject_next_launch(500), reject_next_launch(502), reject_next_launch(504), drop_next_launch],
    ids=["500", "502", "504", "dropped"],
)
def test_transient_launch_failure_resumes_in_the_same_create(
    standin: LambdaCloudStandIn, provider: LambdaGpuPoolProvider, fail: Any
) -> None:
    fail(standin)  # the first launch is not carried out, and the client does not resend it
    outs = provider.create(props(standin, 3)).outs or {}
    assert_pool(standin, outs, 3)
    assert outs["instance_names"] == [f"{PREFIX}-001", f"{PREFIX}-002", f"{PREFIX}-003"]  # the number was free
    assert len(standin.calls(*LAUNCH)) == 4  # the failed one, then only the three missing
    calls = [(r.method, r.path.removeprefix("/api/v1")) for r in standin.requests]
    types = ("GET", "/instance-types")  # checked once before the first launch
    assert calls[:4] == [LIST, types, LAUNCH, LIST]  # re-listed by name before launching again


@pytest.mark.parametrize("status", [None, 500, 502, 504])
def test_launch_whose_reply_was_lost_is_adopted_not_duplicated(
    standin: LambdaCloudStandIn, provider: LambdaGpuPoolProvider, status: int | None
) -> None:
    created = provider.create(props(standin, 1))
    standin.lose_replies(1, status=status, route=LAUNCH)  # the next launch happens, its answer never arrives
    outs = provider.update(created.id, created.outs or {}, props(standin, 3)).outs or {}
    assert_pool(standin, outs, 3)
    assert len(standin.calls(*LAUNCH)) == 3  # 1 for create + 2 for update: the lost one was not launched again
    assert outs["instance_names"] == [f"{PREFIX}-001", f"{PREFIX}-002", f"{PREFIX}-003"]
    adopted = next(i["id"] for i in present(standin) if i["name"] == f"{PREFIX}-002")
    assert adopted in outs["launched_at"]  # recorded like any launch, so scale-down order stays right

    down = provider.update(created.id, outs, props(standin, 1)).outs or {}
    assert down["instance_ids"] == [(created.outs or {})["instance_ids"][0]]


@pytest.mark.parametrize(
    ("permanent", "launches", "launched"),
    [
        ("capacity", 3, 1),  # 500, ok, insufficient capacity
        ("invalid-parameters", 2, 0),  # 500, 400
        ("invalid-api-key", 2, 0),  # 500, 401
    ],
)
def test_permanent_failure_after_a_resume_is_not_retried(
    standin: LambdaCloudStandIn, provider: LambdaGpuPoolProvider, permanent: str, launches: int, launched: int
) -> None:
    reject_next_launch(500)(standin)
    if permanent == "capacity":
        standin.capacity = 1
    elif permanent == "invalid-parameters":
        standin.inject_errors(1, status=400, retry_after=None, code="global/invalid-parameters", route=LAUNCH)
    else:
        standin.inject_errors(1, status=401, retry_after=None, code="global/invalid-api-key", route=LAUNCH)
    with pytest.raises(LambdaPoolScalingError) as info:
        provider.create(props(standin, 3))
    err = info.value
    assert f"launched {launched} of 3" in str(err) and f"{launched} of 3 desired nodes" in str(err)
    assert (err.launched, err.requested, err.node_count) == (launched, 3, launched)
    assert len(standin.calls(*LAUNCH)) == launches  # the permanent error is never sent again
    assert len(present(standin)) == launched
    assert KEY not in str(err)


def test_persistent_transient_failures_give_up_after_bounded_resumes(
    standin: LambdaCloudStandIn, fake: FakeTime, provider: LambdaGpuPoolProvider
) -> None:
    standin.inject_errors(100, status=500, retry_after=None, code="global/internal-error", route=LAUNCH)
    with pytest.raises(LambdaPoolScalingError, match="launched 0 of 2") as info:
        provider.create(props(standin, 2))
    assert "global/internal-error" in str(info.value)
    assert len(standin.calls(*LAUNCH)) == 1 + MAX_LAUNCH_RESUMES
    assert len(standin.calls(*LIST)) == 1 + MAX_LAUNCH_RESUMES  # re-listed before every resume
    assert present(standin) == []
    assert fake.now - 50.0 < 900  # bounded in (fake) time too


def test_random_faults_converge_in_one_call_each_without_duplicates(
    standin: LambdaCloudStandIn, provider: LambdaGpuPoolProvider
) -> None:
    # 20% of all requests fail: rejected, dropped, or carried out with the reply lost (seed 24: 11 faults, 6 on
    # launches, which the provider has to resolve by re-listing).
    standin.inject_random_faults(0.2, seed=24)
    created = provider.create(props(standin, 6))
    outs = created.outs or {}
    assert_pool(standin, outs, 6)
    down = provider.update(created.id, outs, props(standin, 2)).outs or {}
    assert_pool(standin, down, 2)
    up = provider.update(created.id, down, props(standin, 5)).outs or {}
    assert_pool(standin, up, 5)

    launch_faults = [f.fault for f in standin.fault_log if (f.method, f.path) == ("POST", "/api/v1" + LAUNCH[1])]
    # The run met both kinds the provider must resolve by re-listing: a launch not carried out that the client
    # does not resend, and a launch carried out whose reply was lost.
    assert any(f.kind == "lost" for f in launch_faults)
    assert any(f.kind != "lost" and f.status not in (429, 503) for f in launch_faults)
    names = [i["name"] for i in standin.instances()]
    assert len(names) == len(set(names))  # no name was ever launched twice, terminated ones included
