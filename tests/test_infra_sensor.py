"""The backlog sensor against real (runless) materialization events in an ephemeral instance."""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest

from infra_assets.assets import GpuPoolScaleConfig
from infra_assets.sensors import SENSOR_NAME, build_backlog_sensor, scale_run_config
from infra_assets.specs.gpu_pool import build_gpu_pool_spec

JOB = "scale_gpu_pool_job"
POOL = build_gpu_pool_spec("production")  # 0..4 nodes, 50k chunks per node, desired 1


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def _report(instance: dg.DagsterInstance, asset: str, backlog: int) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=asset, metadata={"pending_embedding": backlog, "rows": 10})
    )


def _tick(instance: dg.DagsterInstance, cursor: str | None, sensor: dg.SensorDefinition | None = None):
    sensor = sensor or build_backlog_sensor("production", POOL, job_name=JOB)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, sensor_name=SENSOR_NAME)
    return sensor.evaluate_tick(context)


def _desired(data) -> list[int]:
    return [r.run_config["ops"]["lambda_gpu_pool"]["config"]["desired_nodes"] for r in data.run_requests]


def test_no_backlog_reported_yet_skips(instance: dg.DagsterInstance) -> None:
    data = _tick(instance, None)
    assert not data.run_requests and "No pending_embedding" in data.skip_message


def test_backlog_changes_request_scaling_and_unchanged_backlog_does_not(instance: dg.DagsterInstance) -> None:
    _report(instance, "chunks", 120_000)
    first = _tick(instance, None)
    assert _desired(first) == [3]
    request = first.run_requests[0]
    assert request.job_name in (None, JOB)
    reason = request.run_config["ops"]["lambda_gpu_pool"]["config"]["reason"]
    assert "120000" in reason and "chunks" in reason
    assert json.loads(first.cursor)["desired"] == 3

    again = _tick(instance, first.cursor)
    assert not again.run_requests and "Keeping 3 node(s)" in again.skip_message

    _report(instance, "chunk_vectors", 210_000)  # the newer of the two events wins
    bigger = _tick(instance, again.cursor)
    assert _desired(bigger) == [4]
    assert "chunk_vectors" in bigger.run_requests[0].run_config["ops"]["lambda_gpu_pool"]["config"]["reason"]


def test_scale_down_waits_for_hysteresis_and_cooldown(instance: dg.DagsterInstance) -> None:
    _report(instance, "chunks", 120_000)
    up = _tick(instance, None)
    assert _desired(up) == [3]

    _report(instance, "chunk_vectors", 90_000)  # 2 nodes would do, but not clearly: hold
    held = _tick(instance, up.cursor)
    assert not held.run_requests and "hysteresis" in held.skip_message

    _report(instance, "chunk_vectors", 0)  # drained, but the pool just changed: cooldown
    cooling = _tick(instance, held.cursor)
    assert not cooling.run_requests and "cooldown" in cooling.skip_message

    old = json.dumps({"desired": 3, "changed_at": time.time() - 3600})
    down = _tick(instance, old)
    assert _desired(down) == [0]
    assert json.loads(down.cursor)["desired"] == 0


def test_first_tick_starts_from_the_last_materialized_pool_size(instance: dg.DagsterInstance) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="lambda_gpu_pool", metadata={"desired_nodes": 3})
    )
    _report(instance, "chunks", 140_000)  # needs 3: already there
    data = _tick(instance, None)
    assert not data.run_requests
    assert json.loads(data.cursor)["desired"] == 3


def test_run_config_is_valid_for_the_scale_job() -> None:
    config = scale_run_config(2, "backlog")["ops"]["lambda_gpu_pool"]["config"]
    assert GpuPoolScaleConfig(**config).desired_nodes == 2


def test_default_status_depends_on_env() -> None:
    local = build_backlog_sensor("local", build_gpu_pool_spec("local"), job_name=JOB)
    prod = build_backlog_sensor("production", POOL, job_name=JOB)
    assert local.default_status == dg.DefaultSensorStatus.STOPPED
    assert prod.default_status == dg.DefaultSensorStatus.RUNNING
    assert local.name == SENSOR_NAME and local.job_name == JOB
