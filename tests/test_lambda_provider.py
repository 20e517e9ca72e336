"""LambdaGpuPoolProvider's create/diff/update/delete/read called directly against the Lambda Cloud stand-in.

Pulumi mocks never call a dynamic provider, so the provider methods are driven here the way the engine would:
outputs of one step become the `olds` of the next. Fake clock/sleep: nothing really waits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dill
import pulumi
import pytest
from pulumi.runtime import rpc

from infra_assets.lambda_cloud.provider import (
    POOL_TAG_KEY,
    LambdaGpuPool,
    LambdaGpuPoolProvider,
    LambdaPoolScalingError,
)
from tests.helpers import FakeTime
from tests.standins.lambda_cloud import LambdaCloudStandIn

KEY = "sk-lambda-PROVIDER-SECRET-42"
LAUNCH = ("POST", "/instance-operations/launch")
TERMINATE = ("POST", "/instance-operations/terminate")


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


def props(standin: LambdaCloudStandIn, desired: int, **overrides: Any) -> dict[str, Any]:
    base = {
        "pool_name": "train",
        "instance_type": "gpu_1x_a10",
        "region": "us-east-1",
        "ssh_key_names": ["ops-key"],
        "file_system_names": ["datasets"],
        "desired_nodes": float(desired),  # the engine delivers numbers as floats
        "name_prefix": "train-gpu",
        "api_key": KEY,
        "api_base_url": standin.base_url,
        "min_request_interval_s": 1.0,
        "launch_interval_s": 10.0,
        "ready_timeout_s": 600.0,
    }
    return {**base, **overrides}


def assert_no_key(outs: dict[str, Any]) -> None:
    assert "api_key" not in outs
    assert KEY not in json.dumps(outs)


def test_scale_1_3_1_keeps_the_original_instance(
    standin: LambdaCloudStandIn, fake: FakeTime, provider: LambdaGpuPoolProvider
) -> None:
    created = provider.create(props(standin, 1))
    outs = created.outs or {}
    original = outs["instance_ids"][0]
    assert created.id == "lambda-gpu-pool:train"
    assert outs["node_count"] == 1 and outs["instance_names"] == ["train-gpu-001"]
    assert outs["instance_ips"][0]  # waited until active
    assert_no_key(outs)

    up = provider.update(created.id, outs, props(standin, 3)).outs or {}
    assert up["node_count"] == 3
    assert up["instance_ids"][0] == original
    assert up["instance_names"] == ["train-gpu-001", "train-gpu-002", "train-gpu-003"]
    assert all(up["instance_ips"])

    down = provider.update(created.id, up, props(standin, 1)).outs or {}
    assert down["instance_ids"] == [original] and down["node_count"] == 1
    assert standin.present_ids() == [original]
    assert_no_key(down)

    launches = standin.calls(*LAUNCH)
    assert len(launches) == 3  # exactly one launch call per instance
    for call in launches:
        assert "quantity" not in call.body
        assert call.body["tags"] == [{"key": POOL_TAG_KEY, "value": "train"}]
        assert call.body["file_system_names"] == ["datasets"]
    terminated = [i for c in standin.calls(*TERMINATE) for i in c.body["instance_ids"]]
    assert terminated == [up["instance_ids"][2], up["instance_ids"][1]]  # newest first
    assert 10.0 in fake.sleeps or any(s >= 9.0 for s in fake.sleeps)  # launch spacing honoured (fake time)


def test_insufficient_capacity_in_create_keeps_launched_and_next_create_converges(
    standin: LambdaCloudStandIn, provider: LambdaGpuPoolProvider
) -> None:
    standin.capacity = 2
    with pytest.raises(LambdaPoolScalingError) as info:
        provider.create(props(standin, 3))
    err = info.value
    assert "launched 2 of 3" in str(err) and "2 of 3 desired nodes" in str(err)
    assert (err.launched, err.requested, err.node_count, err.desired) == (2, 3, 2, 3)
    assert KEY not in str(err) and KEY not in repr(err)
    kept = standin.present_ids()
    assert len(kept) == 2

    # A failed create leaves nothing in Pulumi state: the engine calls create again on the next `up`.
    standin.capacity = None
    outs = provider.create(props(standin, 3)).outs or {}
    assert outs["node_count"] == 3
    assert outs["instance_ids"][:2] == kept
    assert outs["instance_names"][2] == "train-gpu-003"
    assert len(standin.calls(*LAUNCH)) == 4  # 2 ok + 1 rejected + 1 ok


def test_insufficient_capacity_in_update_resumes_from_real_count(
    standin: LambdaCloudStandIn, provider: LambdaGpuPoolProvider
) -> None:
    created = provider.create(props(standin, 1))
    state = created.outs or {}
    standin.capacity = 2
    with pytest.raises(LambdaPoolScalingError, match="launched 1 of 3"):
        provider.update(created.id, state, props(standin, 4))
    assert len(standin.present_ids()) == 2

    # A failed update leaves the old state; diff still asks for an in-place update, which adopts the extra one.
    diff = provider.diff(created.id, state, props(standin, 4))
    assert diff.changes and not diff.replaces
    standin.capacity = None
    outs = provider.update(created.id, state, props(standin, 4)).outs or {}
    assert outs["node_count"] == 4
    assert outs["instance_names"] == [f"train-gpu-{n:03d}" for n in (1, 2, 3, 4)]

    # The adopted instance counts as newer than the recorded original: scale-down keeps the original.
    down = provider.update(created.id, outs, props(standin, 1)).outs or {}
    assert down["instance_ids"] == [state["instance_ids"][0]]


def test_429_during_scale_up_is_retried(
    standin: LambdaCloudStandIn, fake: FakeTime, provider: LambdaGpuPoolProvider
) -> None:
    created = provider.create(props(standin, 1))
    standin.inject_errors(1, status=429, retry_after="3", route=LAUNCH)
    outs = provider.update(created.id, created.outs or {}, props(standin, 2)).outs or {}
    assert outs["node_count"] == 2
    assert 3.0 in fake.sleeps
    launches = standin.calls(*LAUNCH)
    assert len(launches) == 3  # 1 for create, 1 answered 429, 1 retried
    assert launches[1].body == launches[2].body
    assert len(standin.present_ids()) == 2


def test_diff_in_place_for_desired_nodes_and_replace_for_type(
    standin: LambdaCloudStandIn, provider: LambdaGpuPoolProvider
) -> None:
    state = provider.create(props(standin, 2)).outs or {}
    same = provider.diff("id", state, props(standin, 2))
    assert same.changes is False and same.replaces == []

    scaled = provider.diff("id", state, props(standin, 5))
    assert scaled.changes is True and scaled.replaces == [] and not scaled.delete_before_replace

    retyped = provider.diff("id", state, props(standin, 2, instance_type="gpu_8x_h100_sxm5"))
    assert retyped.changes and retyped.replaces == ["instance_type"] and retyped.delete_before_replace

    moved = provider.diff("id", state, props(standin, 2, region="us-west-1"))
    assert moved.replaces == ["region"]

    unknown = provider.diff("id", state, props(standin, 2, desired_nodes=rpc.UNKNOWN))
    assert unknown.changes and unknown.replaces == []

    short = provider.diff("id", {**state, "node_count": 1}, props(standin, 2))
    assert short.changes and short.replaces == []

    # A new serialized provider means a rotated (captured) key: update in place so delete uses the new one.
    rekeyed = provider.diff("id", {**state, "__provider": "old"}, {**props(standin, 2), "__provider": "new"})
    assert rekeyed.changes and rekeyed.replaces == []
    ssh = provider.diff("id", state, props(standin, 2, ssh_key_names=["new-key"]))
    assert ssh.changes and ssh.replaces == []  # applies to future launches only


def test_delete_terminates_every_pool_instance_only(
    standin: LambdaCloudStandIn, provider: LambdaGpuPoolProvider
) -> None:
    foreign = standin.add_instance("jupyter-box", "gpu_1x_a10", "us-east-1")
    outs = provider.create(props(standin, 3)).outs or {}
    outputs_only = dict(outs)  # delete gets outputs (no api_key): the provider's captured key is used
    keyed = LambdaGpuPoolProvider(KEY, sleep=provider._sleep, clock=provider._clock)
    keyed.delete("lambda-gpu-pool:train", outputs_only)
    assert standin.present_ids() == [foreign]
    assert sorted(i for c in standin.calls(*TERMINATE) for i in c.body["instance_ids"]) == sorted(outs["instance_ids"])


def test_delete_without_any_key_fails_clearly(
    standin: LambdaCloudStandIn, provider: LambdaGpuPoolProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAMBDA_API_KEY", raising=False)
    outs = provider.create(props(standin, 1)).outs or {}
    with pytest.raises(Exception, match="no Lambda Cloud API key"):
        provider.delete("id", outs)
    monkeypatch.setenv("LAMBDA_API_KEY", KEY)
    provider.delete("id", outs)
    assert standin.present_ids() == []


def test_read_and_unhealthy_replacement(standin: LambdaCloudStandIn, provider: LambdaGpuPoolProvider) -> None:
    keyed = LambdaGpuPoolProvider(KEY, sleep=provider._sleep, clock=provider._clock)
    outs = provider.create(props(standin, 2)).outs or {}
    first, second = outs["instance_ids"]
    standin.set_status(second, "preempted")
    standin.set_status(first, "unhealthy")
    refreshed = keyed.read("lambda-gpu-pool:train", outs)
    assert refreshed.outs and refreshed.outs["node_count"] == 0
    assert provider.diff("id", refreshed.outs, props(standin, 2)).changes

    healed = provider.update("id", refreshed.outs, props(standin, 2)).outs or {}
    assert healed["node_count"] == 2 and first not in healed["instance_ids"]
    assert first in [i for c in standin.calls(*TERMINATE) for i in c.body["instance_ids"]]
    assert healed["instance_names"] == ["train-gpu-003", "train-gpu-004"]  # names never reused


def test_check_reports_bad_inputs_without_the_key(standin: LambdaCloudStandIn) -> None:
    provider = LambdaGpuPoolProvider()
    ok = provider.check({}, props(standin, 2))
    assert ok.failures == []
    bad = provider.check({}, props(standin, -1, ssh_key_names=[], instance_type="", name_prefix="x" * 70))
    assert {f.property for f in bad.failures} == {"desired_nodes", "ssh_key_names", "instance_type", "name_prefix"}
    assert all(KEY not in f.reason for f in bad.failures)


def test_provider_pickles_without_clients(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    provider = LambdaGpuPoolProvider(sleep=fake.sleep, clock=fake.clock)
    provider.create(props(standin, 1))  # using it must not leave a client behind
    restored = dill.loads(dill.dumps(provider, recurse=True))
    assert isinstance(restored, LambdaGpuPoolProvider)
    assert set(vars(restored)) == {"_captured_api_key", "_captured_kubeconfig", "_sleep", "_clock", "_wall_clock"}
    assert KEY not in repr(provider)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append(args)
        outs = {"instance_ids": [], "instance_ips": [], "node_count": 0}
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


@pulumi.runtime.test
def _pool_program() -> pulumi.Output:
    config_key = pulumi.Output.secret(KEY)
    pool = LambdaGpuPool(
        "gpu-pool",
        pool_name="train",
        instance_type="gpu_1x_a10",
        region="us-east-1",
        ssh_key_names=["ops-key"],
        file_system_names=[],
        desired_nodes=3,
        name_prefix="train-gpu",
        api_key=config_key,
    )
    return pulumi.Output.all(pool.node_count, pool.instance_ids)


def test_pool_inputs_under_pulumi_mocks(pulumi_event_loop: None) -> None:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="sophia", stack="test", preview=False)
    _pool_program()
    (args,) = [r for r in mocks.resources if r.typ.endswith(":GpuPool")]
    assert args.typ == "pulumi-python:dynamic/lambda_cloud:GpuPool"
    inputs = args.inputs
    assert inputs["desired_nodes"] == 3
    assert inputs["instance_type"] == "gpu_1x_a10" and inputs["name_prefix"] == "train-gpu"
    assert rpc.is_rpc_secret(inputs["api_key"]) and rpc.unwrap_rpc_secret(inputs["api_key"]) == KEY
    assert rpc.is_rpc_secret(inputs["__provider"])  # the serialized provider (holding the key) is secret
    plain = {k: v for k, v in inputs.items() if k not in ("api_key", "__provider")}
    assert KEY not in json.dumps(plain)
