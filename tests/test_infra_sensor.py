"""The backlog sensor against real materialization events, sizing from the one pool-size reader.

What the sensor requests is run the way the scale job runs it (a plan-mode materialization of
`lambda_gpu_pool` with the request's run config), so the next tick sees the size through the reader.
Production's pool (0..4 nodes): a ready node clears 360,000 chunks within the drain target, a node asked for now
180,000 (it boots 600 s); scale-up waits 120 s and scale-down 900 s after the size last changed; steps 2 up, 1 down.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from infra_assets.assets import PoolScaleConfig, build_infra_assets
from infra_assets.pool_size import CHANGED_AT, current_pool_size
from infra_assets.render import PLAN_SUMMARY
from infra_assets.sensors import SENSOR_NAME, BacklogSignal, build_backlog_sensor, scale_run_config
from infra_assets.settings import InfraSettings
from resources.profile import PROFILES, PoolBounds, profile
from resources.pulumi_stack import PulumiStackError, PulumiStackResource
from sophia_platform.defs.infrastructure.definitions import EMBEDDING_BACKLOG

JOB = "scale_gpu_pool_job"
# The scenarios below walk a GPU pool through 0..4 nodes (the dynamics: steps, cooldowns, hysteresis), so they run
# production's profile with those bounds; production's own bounds (1..3) are tested in test_infra_bounds.py.
PROD = dataclasses.replace(profile("production"), gpu_pool=PoolBounds(0, 4, 1))
TOKEN = "pul-" + "5" * 40


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


@pytest.fixture
def infra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InfraSettings:
    monkeypatch.setitem(PROFILES, "production", PROD)
    return InfraSettings(env="production", out_dir=str(tmp_path / "plan"))


def _report(instance: dg.DagsterInstance, asset: str, backlog: int, name: str = "pending_embedding") -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, metadata={name: backlog, "rows": 10}))


def _tick(
    instance: dg.DagsterInstance,
    infra: InfraSettings,
    sensor: dg.SensorDefinition | None = None,
    pulumi: PulumiStackResource | None = None,
) -> Any:
    sensor = sensor or build_backlog_sensor(PROD, EMBEDDING_BACKLOG, job_name=JOB)
    resources = {"infra": infra, "pulumi": pulumi or PulumiStackResource()}
    context = dg.build_sensor_context(instance=instance, sensor_name=SENSOR_NAME, resources=resources)
    return sensor.evaluate_tick(context)


def _desired(data: Any) -> list[int]:
    return [r.run_config["ops"]["lambda_gpu_pool"]["config"]["desired_nodes"] for r in data.run_requests]


def _scale(instance: dg.DagsterInstance, infra: InfraSettings, run_config: dict[str, Any]) -> None:
    """Run `lambda_gpu_pool` as `scale_gpu_pool_job` does (plan mode here)."""
    result = dg.materialize(
        build_infra_assets(infra.env),
        resources={"infra": infra, "pulumi": PulumiStackResource()},
        instance=instance,
        selection="lambda_gpu_pool",
        run_config=run_config,
    )
    assert result.success


def _run(instance: dg.DagsterInstance, infra: InfraSettings, data: Any) -> None:
    """Run what the sensor requested."""
    (request,) = data.run_requests
    _scale(instance, infra, request.run_config)


def _age_last_plan(infra: InfraSettings, seconds: float) -> None:
    """Make the last planned size `seconds` old (as if the pool changed that long ago)."""
    path = infra.output_dir / infra.stack("gpu-pool") / PLAN_SUMMARY
    plan = json.loads(path.read_text())
    plan[CHANGED_AT] = time.time() - seconds
    path.write_text(json.dumps(plan))


def test_no_backlog_reported_yet_skips(instance: dg.DagsterInstance, infra: InfraSettings) -> None:
    data = _tick(instance, infra)
    assert not data.run_requests and "No pending_embedding" in data.skip_message


def test_backlog_changes_request_scaling_and_unchanged_backlog_does_not(
    instance: dg.DagsterInstance, infra: InfraSettings
) -> None:
    _report(instance, "chunks", 700_000)  # 1 ready node clears 360k; 340k more need 2 new nodes
    first = _tick(instance, infra)
    assert _desired(first) == [3]
    request = first.run_requests[0]
    assert request.job_name in (None, JOB)
    config = request.run_config["ops"]["lambda_gpu_pool"]["config"]
    reason = config["reason"]
    assert "700,000" in reason and "chunks" in reason and "scale up 1 -> 3" in reason
    assert "backlog 700,000 chunks" in config["signal"] and config["old_size"] == 1
    assert request.tags["sophia/scaling"] == "backlog" and request.tags["sophia/backlog"] == "700000"
    assert (request.tags["sophia/old_size"], request.tags["sophia/new_size"]) == ("1", "3")
    assert first.cursor is None  # the sensor keeps no size of its own
    assert _desired(_tick(instance, infra)) == [3]  # not run yet: the same request (same run key) again
    assert _tick(instance, infra).run_requests[0].run_key == request.run_key

    _run(instance, infra, first)
    assert current_pool_size(infra, PulumiStackResource()).nodes == 3  # the reader sees what ran
    again = _tick(instance, infra)  # 2 of the 3 nodes still boot, and count as capacity to come
    assert not again.run_requests and "Keeping 3 node(s) (from the last plan)" in again.skip_message
    assert "1 ready + 2 booting" in again.skip_message

    _report(instance, "chunk_vectors", 1_300_000)  # the newer of the two events wins
    held = _tick(instance, infra)
    assert not held.run_requests and "scale-up cooldown 2 min left" in held.skip_message
    _age_last_plan(infra, 600)  # the nodes have booted and the scale-up cooldown is over
    bigger = _tick(instance, infra)
    assert _desired(bigger) == [4]
    assert "chunk_vectors" in bigger.run_requests[0].run_config["ops"]["lambda_gpu_pool"]["config"]["reason"]


def test_scale_down_waits_for_hysteresis_and_cooldown(instance: dg.DagsterInstance, infra: InfraSettings) -> None:
    _report(instance, "chunks", 700_000)
    up = _tick(instance, infra)
    assert _desired(up) == [3]
    _run(instance, infra, up)

    _report(instance, "chunk_vectors", 600_000)  # 2 nodes would do, but not clearly: hold (the hysteresis band)
    held = _tick(instance, infra)
    assert not held.run_requests and "within band" in held.skip_message

    _report(instance, "chunk_vectors", 0)  # drained, but the pool just changed: cooldown
    cooling = _tick(instance, infra)
    assert not cooling.run_requests and "scale-down cooldown 15 min left" in cooling.skip_message

    for expected in (2, 1, 0):  # an hour since each change: the cooldown clock is the reader's; one node a step
        _age_last_plan(infra, 3600)
        down = _tick(instance, infra)
        assert _desired(down) == [expected]
        _run(instance, infra, down)
        assert current_pool_size(infra, PulumiStackResource()).nodes == expected


def test_cooldown_comes_from_the_profile(instance: dg.DagsterInstance, infra: InfraSettings) -> None:
    _report(instance, "chunks", 700_000)
    _run(instance, infra, _tick(instance, infra))
    _report(instance, "chunks", 0)
    _age_last_plan(infra, 60)
    assert "cooldown" in _tick(instance, infra).skip_message  # production: 900 s
    short = build_backlog_sensor(dataclasses.replace(PROD, scale_down_cooldown_s=30), EMBEDDING_BACKLOG, job_name=JOB)
    assert _desired(_tick(instance, infra, short)) == [2]  # one node a step (max_step_down)

    _report(instance, "chunks", 1_300_000)
    _age_last_plan(infra, 30)
    assert "scale-up cooldown 2 min left" in _tick(instance, infra).skip_message  # production: 120 s
    eager = build_backlog_sensor(dataclasses.replace(PROD, scale_up_cooldown_s=30), EMBEDDING_BACKLOG, job_name=JOB)
    assert _desired(_tick(instance, infra, eager)) == [4]


def test_first_tick_starts_from_the_last_planned_pool_size(instance: dg.DagsterInstance, infra: InfraSettings) -> None:
    _scale(instance, infra, scale_run_config(3, "manual"))
    _report(instance, "chunks", 700_000)  # needs 2 to 3 nodes: already there
    data = _tick(instance, infra)
    assert not data.run_requests and "Keeping 3 node(s)" in data.skip_message


def test_materialization_metadata_is_not_a_size_source(instance: dg.DagsterInstance, infra: InfraSettings) -> None:
    instance.report_runless_asset_event(  # claims 3 nodes, but nothing was planned or applied
        dg.AssetMaterialization(asset_key="lambda_gpu_pool", metadata={"desired_nodes": 3})
    )
    _report(instance, "chunks", 700_000)
    data = _tick(instance, infra)
    assert _desired(data) == [3]  # the reader says the spec's default (1) runs
    assert "scale up 1 -> 3" in data.run_requests[0].run_config["ops"]["lambda_gpu_pool"]["config"]["reason"]


def test_the_backlog_signal_is_data_from_the_caller(instance: dg.DagsterInstance, infra: InfraSettings) -> None:
    signal = BacklogSignal.of(["staged_chunks"], "queue_depth")
    sensor = build_backlog_sensor(PROD, signal, job_name=JOB)
    _report(instance, "chunks", 200_000)  # not what this sensor watches
    skipped = _tick(instance, infra, sensor)
    assert not skipped.run_requests and "No queue_depth reported by staged_chunks" in skipped.skip_message
    _report(instance, "staged_chunks", 500_000, name="queue_depth")  # 1 ready node + 1 new one
    data = _tick(instance, infra, sensor)
    assert _desired(data) == [2]
    assert "staged_chunks" in data.run_requests[0].run_config["ops"]["lambda_gpu_pool"]["config"]["reason"]
    assert "`queue_depth` reported by staged_chunks" in sensor.description


class StackDouble(PulumiStackResource):
    """A gpu-pool stack whose outputs say it runs 2 nodes."""

    def outputs(self, stack_name, program, *, reveal_secrets=False):  # type: ignore[override]
        return {"desired_nodes": 2, "node_count": 2}


class BrokenStack(PulumiStackResource):
    """A stack whose outputs cannot be read (the error's message holds a secret)."""

    def outputs(self, stack_name, program, *, reveal_secrets=False):  # type: ignore[override]
        raise PulumiStackError(stack_name, "outputs", "CommandError", f"token {TOKEN} rejected")


def test_preview_mode_sizes_from_the_stack_outputs(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    infra = InfraSettings(env="production", mode="preview", out_dir=str(tmp_path / "plan"))
    _report(instance, "chunks", 500_000)  # needs 2: the stack runs 2
    data = _tick(instance, infra, pulumi=StackDouble(access_token=TOKEN))
    assert not data.run_requests and "Keeping 2 node(s) (from the pool stack's outputs)" in data.skip_message
    _report(instance, "chunks", 0)  # no plan says when the stack changed: the cooldown does not hold
    assert _desired(_tick(instance, infra, pulumi=StackDouble(access_token=TOKEN))) == [1]  # one node a step


def test_unreadable_stack_skips_the_tick_without_leaking(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    infra = InfraSettings(env="production", mode="apply", out_dir=str(tmp_path / "plan"))
    _report(instance, "chunks", 300_000)
    data = _tick(instance, infra, pulumi=BrokenStack(access_token=TOKEN))
    assert not data.run_requests
    assert "could not read the outputs of stack production-gpu-pool" in data.skip_message
    assert TOKEN not in data.skip_message


def test_run_config_is_valid_for_the_scale_job() -> None:
    config = scale_run_config(2, "backlog")["ops"]["lambda_gpu_pool"]["config"]
    assert PoolScaleConfig(**config).desired_nodes == 2


def test_default_status_comes_from_the_profile() -> None:
    local = build_backlog_sensor(profile("local"), EMBEDDING_BACKLOG, job_name=JOB)
    prod = build_backlog_sensor(PROD, EMBEDDING_BACKLOG, job_name=JOB)
    assert local.default_status == dg.DefaultSensorStatus.STOPPED
    assert prod.default_status == dg.DefaultSensorStatus.RUNNING
    assert local.name == SENSOR_NAME and local.job_name == JOB
    automated = dataclasses.replace(profile("local"), automation_running=True)
    assert build_backlog_sensor(automated, EMBEDDING_BACKLOG, job_name=JOB).default_status == (
        dg.DefaultSensorStatus.RUNNING
    )
