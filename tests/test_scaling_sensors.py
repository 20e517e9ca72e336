"""Every scaling sensor on an ephemeral instance, the runs it requests executed by the definitions' jobs.

- `gpu_backlog_sensor` (backlog -> `scale_gpu_pool_job`), `data_intelligence_pool_sensor` (the run queue, read from
  the instance) and `business_intelligence_pool_sensor` (business hours) -> `scale_node_pool_job`,
  `tei_replicas_sensor` (the GPU pool's size) -> `scale_workloads_job`;
- each decision is a run request with its config, tags, asset selection and run key, and the run's
  materialization records `signal`, `old_size`, `new_size`, `reason`; each non-decision is a `SkipReason`;
- requested sizes never leave the bounds; the workloads job and `python -m infra_assets scale` refuse or cap
  replicas by the same rule; the lineage shows what drives each pool.

Production's CPU pools run 1..2 nodes (4 run pods per data-intelligence node), scale up after 120 s and down
after 900 s, one node a step. Time is a fake clock; plan timestamps are moved with it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import pytest
import yaml
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

import infra_assets.__main__ as cli
from benchmarks.scaling_sensor_ticks import run as run_tick_benchmark
from infra_assets.definitions import (
    SCALE_GPU_POOL_JOB,
    SCALE_NODE_POOL_JOB,
    SCALE_WORKLOADS_JOB,
    build_infra_definitions,
)
from infra_assets.node_pools import build_node_pool_asset, node_pool_key
from infra_assets.pool_size import CHANGED_AT, current_node_pool_size
from infra_assets.render import PLAN_SUMMARY
from infra_assets.sensors import build_node_pool_sensor, build_tei_sensor
from infra_assets.settings import InfraSettings, node_pool_plan
from infra_assets.specs.node_pools import build_node_pool_specs
from resources.profile import BUSINESS_INTELLIGENCE_POOL, DATA_INTELLIGENCE_POOL, profile
from resources.pulumi_stack import PulumiStackResource
from sophia_platform.defs.infrastructure.definitions import DATA_PLANE_RUNS, EMBEDDING_BACKLOG
from sophia_platform.loader import load_platform

PROD = profile("production")
DATA_POOL, BI_POOL = (
    next(p for p in build_node_pool_specs(PROD) if p.pool_name == n)
    for n in (DATA_INTELLIGENCE_POOL, BUSINESS_INTELLIGENCE_POOL)
)
DATA_KEY, BI_KEY = node_pool_key(DATA_INTELLIGENCE_POOL), node_pool_key(BUSINESS_INTELLIGENCE_POOL)
MCP, TEI = "data-intelligence-mcp", "text-embeddings-inference"
MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # inside business hours
SATURDAY_9 = datetime(2026, 12, 12, 9, 0, tzinfo=UTC)


class Clock:
    """A settable UTC clock for the sensors."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("SOPHIA_INFRA_MODE", "LAMBDA_API_KEY", "KUBECONFIG", "PULUMI_ACCESS_TOKEN", "SOPHIA_ENV"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SOPHIA_INFRA_OUT", str(tmp_path / "plan"))


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


@pytest.fixture
def infra(tmp_path: Path) -> InfraSettings:
    return InfraSettings(env="production", out_dir=str(tmp_path / "plan"))


@pytest.fixture
def defs(_env: None) -> dg.Definitions:
    """The production definitions; their `infra` resource writes where `infra` reads (SOPHIA_INFRA_OUT)."""
    return build_infra_definitions(PROD, EMBEDDING_BACKLOG, DATA_PLANE_RUNS)


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, infra: InfraSettings) -> Any:
    resources = {"infra": infra, "pulumi": PulumiStackResource()}
    context = dg.build_sensor_context(instance=instance, sensor_name=sensor.name, resources=resources)
    return sensor.evaluate_tick(context)


def _execute(defs: dg.Definitions, request: dg.RunRequest, job: str, instance: dg.DagsterInstance) -> Any:
    """Run what a sensor requested, with the definitions' job (its resources read SOPHIA_INFRA_OUT)."""
    result = defs.resolve_job_def(job).execute_in_process(
        run_config=request.run_config,
        instance=instance,
        asset_selection=request.asset_selection,
        tags=request.tags,
    )
    assert result.success
    return result


def _metadata(result: Any, key: dg.AssetKey) -> dict[str, Any]:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _stamp(infra: InfraSettings, plan: str, at: datetime) -> None:
    """Say the planned size of `plan` last changed at `at` (as if the run had landed then)."""
    path = infra.output_dir / plan / PLAN_SUMMARY
    summary = json.loads(path.read_text())
    summary[CHANGED_AT] = at.timestamp()
    path.write_text(json.dumps(summary))


# A queued run names where it will be launched from (Dagster checks it); these runs are never launched.
ORIGIN = RemoteJobOrigin(
    RemoteRepositoryOrigin(InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="x")), "__repository__"),
    "data_pipeline",
)


def _add_runs(instance: dg.DagsterInstance, n: int, status: dg.DagsterRunStatus, tags: dict[str, str]) -> None:
    """`n` runs in `status` carrying `tags`, as the run queue holds them."""
    for _ in range(n):
        run = dg.DagsterRun("data_pipeline", str(uuid.uuid4()), status=status, tags=tags, remote_job_origin=ORIGIN)
        instance.add_run(run)


DATA_TAGS = dict(DATA_PLANE_RUNS.tags)


def _config(request: dg.RunRequest, key: dg.AssetKey) -> dict[str, Any]:
    return request.run_config["ops"][key.to_python_identifier()]["config"]


# ---------------------------------------------------------------- the data-intelligence pool: the run queue


def test_the_data_pool_follows_the_run_queue_read_from_the_instance(
    defs: dg.Definitions, instance: dg.DagsterInstance, infra: InfraSettings
) -> None:
    clock = Clock(datetime.now(UTC))
    sensor = build_node_pool_sensor(PROD, DATA_POOL, DATA_PLANE_RUNS, job_name=SCALE_NODE_POOL_JOB, clock=clock)

    idle = _tick(sensor, instance, infra)
    assert not idle.run_requests and "Keeping 1 node(s) (from the spec's default): at min (1 node)" in (
        idle.skip_message
    )
    assert "0 queued + 0 running runs (4/node)" in idle.skip_message

    _add_runs(instance, 3, dg.DagsterRunStatus.QUEUED, DATA_TAGS)
    _add_runs(instance, 2, dg.DagsterRunStatus.STARTED, DATA_TAGS)
    _add_runs(instance, 9, dg.DagsterRunStatus.SUCCESS, DATA_TAGS)  # finished: not in the queue
    _add_runs(instance, 9, dg.DagsterRunStatus.QUEUED, {"sophia/plane": "infra"})  # not data-plane runs
    grow = _tick(sensor, instance, infra)
    (request,) = grow.run_requests
    assert request.job_name in (None, SCALE_NODE_POOL_JOB) and request.asset_selection == [DATA_KEY]
    config = _config(request, DATA_KEY)
    assert (config["desired_nodes"], config["old_size"]) == (2, 1)
    assert "3 queued + 2 running runs (4/node)" in config["signal"] and "sophia/plane=data" in config["signal"]
    assert config["reason"] == "scale up 1 -> 2: needs 2 nodes"
    assert (
        request.tags.items()
        >= {
            "sophia/scaling": "run-queue",
            "sophia/scaled": "node_pool.data-intelligence-pool",
            "sophia/old_size": "1",
            "sophia/new_size": "2",
        }.items()
    )
    assert _tick(sensor, instance, infra).run_requests[0].run_key == request.run_key  # not landed: same key

    result = _execute(defs, request, SCALE_NODE_POOL_JOB, instance)
    md = _metadata(result, DATA_KEY)
    assert (md["signal"], md["old_size"], md["new_size"], md["reason"]) == (
        config["signal"],
        1,
        2,
        config["reason"],
    )
    assert md["mode"] == "plan" and md["desired_nodes"] == 2 and "run queue" in md["scaled_by"]
    assert current_node_pool_size(infra, PulumiStackResource(), DATA_POOL).nodes == 2  # the reader sees what ran
    _stamp(infra, node_pool_plan("production", DATA_INTELLIGENCE_POOL), clock())  # it landed now, on the clock
    assert {e.asset_key for e in result.get_asset_materialization_events()} == {DATA_KEY}  # one pool only

    _add_runs(instance, 10, dg.DagsterRunStatus.QUEUED, DATA_TAGS)
    at_max = _tick(sensor, instance, infra)
    assert not at_max.run_requests and "at max (2 nodes; needs 4)" in at_max.skip_message

    for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTED])):
        instance.report_run_canceled(run)  # the queue drains
    clock.advance(60)
    cooling = _tick(sensor, instance, infra)
    assert not cooling.run_requests and "scale-down cooldown 14 min left" in cooling.skip_message
    clock.advance(900)
    (down,) = _tick(sensor, instance, infra).run_requests
    assert _config(down, DATA_KEY)["desired_nodes"] == 1 and down.run_key != request.run_key


def test_the_business_intelligence_pool_follows_business_hours(
    defs: dg.Definitions, instance: dg.DagsterInstance, infra: InfraSettings
) -> None:
    clock = Clock(MONDAY_9)
    sensor = build_node_pool_sensor(PROD, BI_POOL, DATA_PLANE_RUNS, job_name=SCALE_NODE_POOL_JOB, clock=clock)
    _add_runs(instance, 20, dg.DagsterRunStatus.QUEUED, DATA_TAGS)  # not this pool's signal

    (up,) = _tick(sensor, instance, infra).run_requests
    config = _config(up, BI_KEY)
    assert (config["desired_nodes"], up.asset_selection) == (2, [BI_KEY])
    assert "Mon 09:00 UTC inside business hours" in config["signal"] and "queued" not in config["signal"]
    assert up.tags["sophia/scaling"] == "business-hours"
    _execute(defs, up, SCALE_NODE_POOL_JOB, instance)
    plan = node_pool_plan("production", BUSINESS_INTELLIGENCE_POOL)
    _stamp(infra, plan, clock())

    clock.advance(3600)
    inside = _tick(sensor, instance, infra)
    assert not inside.run_requests and "within band (needs 2, clearly enough at 2, runs 2)" in inside.skip_message

    clock.at = SATURDAY_9 - timedelta(minutes=4)  # the weekend, 4 minutes before the cooldown ends
    _stamp(infra, plan, clock() - timedelta(seconds=PROD.scale_down_cooldown_s - 240))
    cooling = _tick(sensor, instance, infra)
    assert not cooling.run_requests and "scale-down cooldown 4 min left" in cooling.skip_message
    clock.advance(240)
    (down,) = _tick(sensor, instance, infra).run_requests
    assert _config(down, BI_KEY)["desired_nodes"] == 1 and "outside business hours" in _config(down, BI_KEY)["signal"]


def test_node_pool_requests_never_leave_the_bounds_and_the_asset_takes_each(
    defs: dg.Definitions, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    requested: set[int] = set()
    settings: list[InfraSettings] = []
    for recorded in (None, -3, 0, 1, 2, 1000):  # the pool's last plan, possibly stale or out of range
        infra = InfraSettings(env="production", out_dir=str(tmp_path / f"size-{recorded}"))
        if recorded is not None:
            path = infra.output_dir / node_pool_plan("production", DATA_INTELLIGENCE_POOL) / PLAN_SUMMARY
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps({"desired_nodes": recorded}))
        settings.append(infra)
    sensor = build_node_pool_sensor(PROD, DATA_POOL, DATA_PLANE_RUNS, job_name=SCALE_NODE_POOL_JOB)
    queue = dg.DagsterInstance.ephemeral()
    for added in (0, 1, 3, 1, 3, 1, 491):  # 0, 1, 4, 5, 8, 9, 500 queued runs
        _add_runs(queue, added, dg.DagsterRunStatus.QUEUED, DATA_TAGS)
        for infra in settings:
            data = _tick(sensor, queue, infra)
            assert data.run_requests or data.skip_message
            requested |= {_config(r, DATA_KEY)["desired_nodes"] for r in data.run_requests}
    assert requested == {1, 2}  # both bounds reached, never passed
    for nodes in (0, 3):
        bad = dg.RunRequest(
            run_config={"ops": {DATA_KEY.to_python_identifier(): {"config": {"desired_nodes": nodes}}}},
            asset_selection=[DATA_KEY],
        )
        result = defs.resolve_job_def(SCALE_NODE_POOL_JOB).execute_in_process(
            run_config=bad.run_config, instance=instance, asset_selection=[DATA_KEY], raise_on_error=False
        )
        assert not result.success
        (failure,) = [e for e in result.all_events if e.is_step_failure]
        assert "allowed 1..2 node(s)" in failure.step_failure_data.user_failure_data.description


def test_apply_without_the_pulumi_cli_falls_back_to_plan_and_says_why(
    defs: dg.Definitions, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPHIA_INFRA_MODE", "apply")
    monkeypatch.setattr("infra_assets.assets.cli_available", lambda: False)
    apply_defs = build_infra_definitions(PROD, EMBEDDING_BACKLOG, DATA_PLANE_RUNS)
    result = apply_defs.resolve_job_def(SCALE_NODE_POOL_JOB).execute_in_process(
        instance=instance, asset_selection=[DATA_KEY]
    )
    md = _metadata(result, DATA_KEY)
    assert md["mode"] == "plan (fallback: pulumi CLI not found on PATH)"
    assert md["new_size"] == 1 and "kept the current size, from the spec's default" in md["reason"]


class PoolStackPulumi(PulumiStackResource):
    """Records each pool stack's `up` (its config and program) and answers with the size it was applied at."""

    ups: ClassVar[list[tuple[str, dict[str, Any], Any]]] = []
    applied: ClassVar[dict[str, int]] = {}

    def up(self, stack_name, program, config=None, on_output=None):  # type: ignore[override]
        PoolStackPulumi.ups.append((stack_name, dict(config or {}), program))
        on_output(f"updating {stack_name} with {config['lambdaApiKey'].value}")  # a leaky line, redacted
        nodes = json.loads((Path(self.out_dir) / stack_name / PLAN_SUMMARY).read_text())["desired_nodes"]
        PoolStackPulumi.applied[stack_name] = nodes
        outputs = {"desired_nodes": nodes, "node_count": nodes, "instance_ids": ["i-1"] * nodes}
        return UpResult(stack_name, {"update": 1}, outputs=outputs)

    def outputs(self, stack_name, program, *, reveal_secrets=False):  # type: ignore[override]
        return {"desired_nodes": PoolStackPulumi.applied[stack_name]} if stack_name in PoolStackPulumi.applied else {}

    out_dir: str = ""


def test_apply_runs_each_pool_stack_and_every_reader_sees_its_size(
    instance: dg.DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infra_assets.assets.cli_available", lambda: True)
    key = "secret_lambda_" + "c" * 32
    infra = InfraSettings(env="production", mode="apply", out_dir=str(tmp_path / "apply"), lambda_api_key=key)
    pulumi = PoolStackPulumi(access_token="pul-" + "4" * 40, out_dir=infra.out_dir)
    PoolStackPulumi.ups, PoolStackPulumi.applied = [], {}
    pools = {p.pool_name: p for p in build_node_pool_specs(PROD)}
    assets = [build_node_pool_asset(PROD.name, p) for p in pools.values()]
    config = {"desired_nodes": 2, "reason": "queue of 7 runs", "signal": "run queue"}
    result = dg.materialize(
        assets,
        resources={"infra": infra, "pulumi": pulumi},
        run_config={"ops": {DATA_KEY.to_python_identifier(): {"config": config}}},
        instance=instance,
    )
    assert result.success
    stacks = sorted(stack for stack, _, _ in PoolStackPulumi.ups)
    assert stacks == ["production-business-intelligence-pool", "production-data-intelligence-pool"]
    for _, stack_config, _ in PoolStackPulumi.ups:
        assert stack_config["lambdaApiKey"].secret and stack_config["lambdaApiKey"].value == key
    md = _metadata(result, DATA_KEY)
    assert (md["mode"], md["stack"], md["new_size"], md["node_count"]) == (
        "apply",
        "production-data-intelligence-pool",
        2,
        2,
    )
    assert md["node_labels"]["workload-type"] == "data-intelligence"
    assert _metadata(result, BI_KEY)["new_size"] == 1  # no size asked: kept (the spec's default, nothing applied)
    everything = json.dumps([_metadata(result, k) for k in (DATA_KEY, BI_KEY)], default=str)
    assert key not in everything and key not in "".join(str(e) for e in result.all_events)
    # the one reader: the stack's outputs (asset, sensor, checks and CLI all read through it)
    size = current_node_pool_size(infra, pulumi, pools[DATA_INTELLIGENCE_POOL])
    assert (size.nodes, size.source) == (2, "stack")
    assert current_node_pool_size(infra, pulumi, pools[BUSINESS_INTELLIGENCE_POOL]).nodes == 1


# ---------------------------------------------------------------- the GPU pool and TEI


def test_gpu_decisions_record_the_decision_and_at_max_skips(
    defs: dg.Definitions, instance: dg.DagsterInstance, infra: InfraSettings
) -> None:
    sensor = defs.resolve_sensor_def("gpu_backlog_sensor")
    instance.report_runless_asset_event(dg.AssetMaterialization("chunks", metadata={"pending_embedding": 5_000_000}))
    (request,) = _tick(sensor, instance, infra).run_requests
    config = _config(request, dg.AssetKey("lambda_gpu_pool"))
    assert (config["desired_nodes"], config["old_size"]) == (3, 1) and "scale up 1 -> 3" in config["reason"]
    md = _metadata(_execute(defs, request, SCALE_GPU_POOL_JOB, instance), dg.AssetKey("lambda_gpu_pool"))
    assert (md["signal"], md["old_size"], md["new_size"]) == (config["signal"], 1, 3)
    assert md["reason"] == config["reason"] and md["nodes_before_change"] == 1

    _stamp(infra, "production-gpu-pool", datetime.now(UTC) - timedelta(hours=1))  # production's max is 3
    at_max = _tick(sensor, instance, infra)
    assert not at_max.run_requests and "Keeping 3 node(s) (from the last plan): at max (3 nodes; needs" in (
        at_max.skip_message
    )


def test_tei_follows_the_gpu_pool(defs: dg.Definitions, instance: dg.DagsterInstance, infra: InfraSettings) -> None:
    sensor = build_tei_sensor(PROD, job_name=SCALE_WORKLOADS_JOB)
    unplanned = _tick(sensor, instance, infra)
    assert not unplanned.run_requests and "k8s_deployments has no plan yet" in unplanned.skip_message

    defs.resolve_job_def("infra_plan_job").execute_in_process(instance=instance)  # TEI 1 for the pool's 1 node
    in_step = _tick(sensor, instance, infra)
    assert not in_step.run_requests and "Keeping 1 TEI replica(s): in step with the GPU pool at 1 node(s)" in (
        in_step.skip_message
    )

    scale = {"ops": {"lambda_gpu_pool": {"config": {"desired_nodes": 3, "reason": "test"}}}}
    defs.resolve_job_def(SCALE_GPU_POOL_JOB).execute_in_process(run_config=scale, instance=instance)
    (request,) = _tick(sensor, instance, infra).run_requests
    assert _config(request, dg.AssetKey("k8s_deployments")) == {
        "reason": "TEI follows the GPU pool: 1 -> 3 replica(s)",
        "signal": "GPU pool at 3 node(s) (from the last plan)",
    }
    assert request.tags["sophia/scaling"] == "gpu-pool" and request.tags["sophia/new_size"] == "3"
    md = _metadata(_execute(defs, request, SCALE_WORKLOADS_JOB, instance), dg.AssetKey("k8s_deployments"))
    assert (md["old_size"], md["new_size"]) == ({TEI: 1}, {TEI: 3}) and md["gpu_replicas"] == 3
    assert "Keeping 3 TEI replica(s)" in _tick(sensor, instance, infra).skip_message


# ---------------------------------------------------------------- workloads: run config and the CLI


def _replicas(out: Path) -> dict[str, int]:
    manifests = yaml.safe_load_all((out / "production-k8s" / "manifests.yaml").read_text())
    return {m["metadata"]["name"]: m["spec"]["replicas"] for m in manifests if m["kind"] == "Deployment"}


def _scale_workloads(defs: dg.Definitions, instance: dg.DagsterInstance, replicas: dict[str, Any]) -> Any:
    config = {"ops": {"k8s_deployments": {"config": {"replicas": replicas, "reason": "test", "signal": "manual"}}}}
    return defs.resolve_job_def(SCALE_WORKLOADS_JOB).execute_in_process(
        run_config=config, instance=instance, raise_on_error=False
    )


def test_the_workloads_job_sets_replicas_within_bounds_and_later_runs_keep_them(
    defs: dg.Definitions, instance: dg.DagsterInstance, infra: InfraSettings
) -> None:
    result = _scale_workloads(defs, instance, {MCP: 4})
    assert result.success
    md = _metadata(result, dg.AssetKey("k8s_deployments"))
    assert (md["signal"], md["old_size"], md["new_size"]) == ("manual", {}, {MCP: 4})  # never planned before
    assert _replicas(infra.output_dir)[MCP] == 4
    assert all(c.passed for c in result.get_asset_check_evaluations())  # the spec check sees the same replicas

    defs.resolve_job_def("infra_plan_job").execute_in_process(instance=instance)  # no replicas asked: kept
    assert _replicas(infra.output_dir) == {
        "ai-intelligence-mcp": 2,
        MCP: 4,
        "infrastructure-mcp": 1,
        "business-intelligence-mcp": 2,
        TEI: 1,
    }

    before = (infra.output_dir / "production-k8s" / "manifests.yaml").read_text()
    for bad, message in (
        ({MCP: 7}, "replicas 7 is out of range for workload data-intelligence-mcp: allowed 1..6"),
        ({MCP: 0}, "allowed 1..6"),
        ({TEI: 2}, "runs one replica per GPU node: size the GPU pool instead"),
        ({"nope-mcp": 1}, "unknown workload 'nope-mcp'"),
    ):
        failed = _scale_workloads(defs, instance, bad)
        assert not failed.success
        (failure,) = [e for e in failed.all_events if e.is_step_failure]
        description = failure.step_failure_data.user_failure_data.description
        assert "Refusing to plan stack production-k8s" in description and message in description
    assert (infra.output_dir / "production-k8s" / "manifests.yaml").read_text() == before  # nothing written


@dataclass
class UpResult:
    stack_name: str
    change_summary: dict[str, int]
    has_changes: bool = True
    outputs: dict[str, Any] | None = None
    secret_output_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.outputs = self.outputs or {}


class RecordingPulumi(PulumiStackResource):
    calls: ClassVar[list[tuple[str, str]]] = []

    def up(self, stack_name, program, config=None, on_output=None):  # type: ignore[override]
        RecordingPulumi.calls.append(("up", stack_name))
        return UpResult(stack_name, {"update": 1})

    def outputs(self, stack_name, program, *, reveal_secrets=False):  # type: ignore[override]
        RecordingPulumi.calls.append(("outputs", stack_name))
        return {"desired_nodes": 2}


def test_cli_scale_multiplies_within_bounds(
    infra: InfraSettings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = str(infra.output_dir)
    scale = ["scale", "--env", "production", "--workload", MCP, "--out", out, "--plan"]
    assert cli.main([*scale, "--factor", "1.5"]) == cli.EXIT_OK  # 2 x 1.5 = 3
    assert _replicas(infra.output_dir)[MCP] == 3
    assert cli.main([*scale, "--factor", "10"]) == cli.EXIT_OK  # 30, capped at the workload's max
    assert _replicas(infra.output_dir)[MCP] == 6
    assert "data-intelligence-mcp 3 -> 6 replica(s) (factor 10, allowed 1..6)" in capsys.readouterr().out
    assert cli.main(["plan", "--stack", "production-k8s", "--out", out]) == cli.EXIT_OK  # a plan keeps it
    assert _replicas(infra.output_dir)[MCP] == 6
    assert cli.main([*scale, "--factor", "0.01"]) == cli.EXIT_OK  # rounded up, never under min
    assert _replicas(infra.output_dir)[MCP] == 1

    for bad, message in (
        (["--factor", "-1"], "scale factor must be a finite number >= 0"),
        (["--factor", "nan"], "scale factor must be a finite number >= 0"),
    ):
        assert cli.main([*scale, *bad]) == cli.EXIT_USAGE
        assert message in capsys.readouterr().err
    tei = ["scale", "--env", "production", "--workload", TEI, "--factor", "2", "--out", out]
    assert cli.main(tei) == cli.EXIT_USAGE
    assert "runs one replica per GPU node" in capsys.readouterr().err
    assert cli.main(["plan", "--env", "production", "--factor", "2", "--out", out]) == cli.EXIT_USAGE

    RecordingPulumi.calls = []
    monkeypatch.setattr(cli, "cli_available", lambda: True)
    monkeypatch.setattr(cli, "_pulumi_resource", lambda: RecordingPulumi(access_token="pul-" + "3" * 40))
    monkeypatch.setenv("KUBECONFIG", "/k/config")
    up = ["scale", "--env", "production", "--workload", MCP, "--factor", "2", "--out", out]
    assert cli.main(up) == cli.EXIT_OK
    assert RecordingPulumi.calls == [("outputs", "production-gpu-pool"), ("up", "production-k8s")]
    replicas = _replicas(infra.output_dir)
    assert (replicas[MCP], replicas[TEI]) == (2, 2)  # 1 x 2; TEI at the stack's 2 GPU nodes


# ---------------------------------------------------------------- what drives each pool, in the lineage


def test_the_lineage_shows_what_drives_each_pool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(tmp_path))
    platform = load_platform("local")
    graph = platform.resolve_asset_graph()
    gpu = graph.get(dg.AssetKey("lambda_gpu_pool"))
    assert gpu.parent_keys == {dg.AssetKey("k8s_cluster"), dg.AssetKey("chunks"), dg.AssetKey("chunk_vectors")}
    assert all(graph.get(k).is_executable for k in gpu.parent_keys)  # the data plane's own assets, the cluster
    assert dg.AssetKey("lambda_gpu_pool") in graph.get(dg.AssetKey("k8s_deployments")).parent_keys
    data, bi = (platform.resolve_assets_def(k) for k in (DATA_KEY, BI_KEY))
    assert "run queue" in data.descriptions_by_key[DATA_KEY] and "business hours" in bi.descriptions_by_key[BI_KEY]
    assert data.tags_by_key[DATA_KEY]["sophia/scaled-by"] == "run-queue"
    assert bi.tags_by_key[BI_KEY]["sophia/scaled-by"] == "business-hours"
    sensors = {s.name: s for s in platform.sensors or []}
    assert sensors["data_intelligence_pool_sensor"].job_name == SCALE_NODE_POOL_JOB
    assert "runs tagged sophia/plane=data" in (sensors["data_intelligence_pool_sensor"].description or "")
    assert sensors["tei_replicas_sensor"].job_name == SCALE_WORKLOADS_JOB


def test_the_tick_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks/scaling_sensor_ticks.py at toy sizes: every section ticks and decides (no timing asserted)."""
    medians = run_tick_benchmark(rows=2_000, runs=200, ticks=1)
    assert len(medians["gpu"]) == 2 and len(medians["queue"]) == 2
    out = capsys.readouterr().out
    for sensor in ("gpu_backlog_sensor", "data_intelligence_pool_sensor", "business_intelligence_pool_sensor"):
        assert sensor in out
    assert "Keeping 1 TEI replica(s): in step with the GPU pool" in out
    assert "requests node_pool__data_intelligence_pool: scale up 1 -> 2" in out  # 100 queued + 50 started runs


def test_cli_scale_pool_resizes_any_pool_within_its_bounds(
    infra: InfraSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(infra.output_dir)
    scale = ["scale", "--env", "production", "--out", out, "--plan"]
    assert cli.main([*scale, "--pool", BUSINESS_INTELLIGENCE_POOL, "--desired-nodes", "2"]) == cli.EXIT_OK
    bi = build_node_pool_specs(PROD)[1]
    assert current_node_pool_size(infra, PulumiStackResource(), bi).nodes == 2  # what the sensor and asset read
    assert cli.main([*scale, "--pool", "ai-intelligence-pool", "--desired-nodes", "3"]) == cli.EXIT_OK
    assert json.loads((infra.output_dir / "production-gpu-pool" / PLAN_SUMMARY).read_text())["desired_nodes"] == 3
    capsys.readouterr()
    assert cli.main([*scale, "--pool", BUSINESS_INTELLIGENCE_POOL, "--desired-nodes", "3"]) == cli.EXIT_USAGE
    assert "allowed 1..2 node(s)" in capsys.readouterr().err
    assert cli.main([*scale, "--pool", "no-such-pool", "--desired-nodes", "1"]) == cli.EXIT_USAGE
    assert "unknown pool 'no-such-pool'" in capsys.readouterr().err
    assert current_node_pool_size(infra, PulumiStackResource(), bi).nodes == 2  # refused runs wrote nothing
