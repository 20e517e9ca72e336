"""Bounded input: one rule (`GpuPoolSpec.check_nodes`) for the CLI, the assets and the sensor.

Out-of-range sizes, unknown environments and unknown modes are refused with a message naming what is allowed,
and nothing is written.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

import infra_assets.__main__ as cli
from infra_assets.assets import build_infra_assets
from infra_assets.checks import build_infra_checks
from infra_assets.render import write_plan
from infra_assets.sensors import SENSOR_NAME, build_backlog_sensor
from infra_assets.settings import InfraSettings
from infra_assets.specs import build_infra_specs
from infra_assets.specs.gpu_pool import NodeCountError, build_gpu_pool_spec
from resources.profile import profile
from resources.pulumi_stack import PulumiStackResource
from sophia_platform.defs.infrastructure.definitions import EMBEDDING_BACKLOG

RANGES = {"local": "0..1", "production": "1..3"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SOPHIA_INFRA_MODE", "SOPHIA_ENV", "LAMBDA_API_KEY", "KUBECONFIG", "PULUMI_ACCESS_TOKEN"):
        monkeypatch.delenv(var, raising=False)


def written(out: Path) -> list[str]:
    """Every file under `out` (relative paths)."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) if out.exists() else []


# ---------------------------------------------------------------- the rule


def test_check_nodes_accepts_the_bounds_and_refuses_beyond_them() -> None:
    pool = build_gpu_pool_spec(profile("production"))
    assert [pool.check_nodes(n) for n in (1, 3)] == [1, 3]
    for bad in (-1, 0, 4, 1000, True):
        with pytest.raises(NodeCountError, match=r"allowed 1\.\.3"):
            pool.check_nodes(bad)
    with pytest.raises(ValueError, match=r"desired_nodes 1000 .*allowed 0\.\.1"):
        build_infra_specs(profile("local"), desired_nodes=1000)


# ---------------------------------------------------------------- CLI


@pytest.mark.parametrize("stack", ["local-k8s", "local-gpu-pool", "production-k8s", "production-gpu-pool"])
@pytest.mark.parametrize("nodes", [-1, 1000])
def test_cli_refuses_out_of_range_nodes_and_writes_nothing(
    stack: str, nodes: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan"
    code = cli.main(["plan", "--stack", stack, "--desired-nodes", str(nodes), "--out", str(out)])
    assert code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"desired_nodes {nodes} is out of range" in err and f"allowed {RANGES[stack.split('-')[0]]}" in err
    assert stack in err
    assert written(out) == []


def test_cli_refuses_before_writing_any_stack_of_an_env(tmp_path: Path) -> None:
    out = tmp_path / "plan"  # the esc stack comes first and takes no size: it must not be written either
    assert cli.main(["plan", "--env", "production", "--desired-nodes", "5", "--out", str(out)]) == cli.EXIT_USAGE
    assert written(out) == []


@pytest.mark.parametrize("nodes", [1, 3])
def test_cli_accepts_the_bounds(nodes: int, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    args = ["plan", "--stack", "production-gpu-pool", "--stack", "production-k8s", "--desired-nodes", str(nodes)]
    assert cli.main([*args, "--out", str(out)]) == cli.EXIT_OK
    pool = yaml.safe_load((out / "production-gpu-pool" / "gpu-pool.yaml").read_text())
    assert pool["nodes"]["desired"] == nodes
    assert json.loads((out / "production-k8s" / "plan.json").read_text())["gpu_replicas"] == nodes


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--env", "bogus"], {}, "unknown environment 'bogus'; expected one of local, production"),
        (["--stack", "bogus-k8s"], {}, "stack bogus-k8s: unknown environment 'bogus'"),
        (["--stack", "local-esc"], {"SOPHIA_INFRA_MODE": "bogus"}, "SOPHIA_INFRA_MODE: unknown infra mode 'bogus'"),
        ([], {"SOPHIA_INFRA_MODE": "bogus"}, "expected one of plan, preview, apply"),
    ],
)
def test_cli_refuses_unknown_env_stack_and_mode(
    args: list[str],
    env: dict[str, str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "plan"
    assert cli.main(["plan", *args, "--out", str(out)]) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert written(out) == []


def test_cli_module_exits_2(tmp_path: Path) -> None:
    out = str(tmp_path / "plan")
    done = subprocess.run(
        [sys.executable, "-m", "infra_assets", "plan", "--stack", "local-k8s", "--desired-nodes", "1000", "--out", out],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 2, done.stderr
    assert "allowed 0..1" in done.stderr and written(tmp_path / "plan") == []


# ---------------------------------------------------------------- assets


def _materialize(
    infra: InfraSettings, instance: dg.DagsterInstance, selection: str, **kw: object
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*build_infra_assets(infra.env), *build_infra_checks(infra.env)],
        resources={"infra": infra, "pulumi": PulumiStackResource()},
        instance=instance,
        selection=selection,
        raise_on_error=False,
        **kw,
    )


@pytest.mark.parametrize("nodes", [-1, 4, 1000])
def test_asset_refuses_out_of_range_run_config_without_writing(nodes: int, tmp_path: Path) -> None:
    infra = InfraSettings(env="production", out_dir=str(tmp_path / "plan"))
    instance = dg.DagsterInstance.ephemeral()
    run_config = {"ops": {"lambda_gpu_pool": {"config": {"desired_nodes": nodes, "reason": "manual"}}}}
    result = _materialize(infra, instance, "lambda_gpu_pool", run_config=run_config)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert "Refusing to plan stack production-gpu-pool" in description
    assert f"desired_nodes {nodes} is out of range" in description and "allowed 1..3" in description
    assert written(tmp_path / "plan") == []
    assert instance.get_latest_materialization_event(dg.AssetKey("lambda_gpu_pool")) is None


def record_plan(out: Path, stack: str, nodes: int) -> None:
    """A gpu-pool plan at `nodes` (e.g. written before the pool's max was lowered)."""
    write_plan(out, stack, {"gpu-pool.yaml": "stale\n"}, {"mode": "plan", "desired_nodes": nodes})


def test_k8s_plans_a_stale_recorded_size_within_the_bounds(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    record_plan(tmp_path / "plan", "local-gpu-pool", 1000)
    infra = InfraSettings(env="local", out_dir=str(tmp_path / "plan"))
    result = _materialize(infra, instance, "k8s_deployments")
    assert result.success
    manifests = list(yaml.safe_load_all((tmp_path / "plan" / "local-k8s" / "manifests.yaml").read_text()))
    replicas = {m["metadata"]["name"]: m["spec"]["replicas"] for m in manifests if m["kind"] == "Deployment"}
    assert replicas["text-embeddings-inference"] == 1
    warnings = [r.user_message for r in instance.all_logs(result.run_id) if r.level >= 30]
    assert any("1000 is outside ai-intelligence-pool's allowed range 0..1; using 1" in w for w in warnings)
    (check,) = result.get_asset_check_evaluations()
    assert check.passed  # the spec check plans with the same size


# ---------------------------------------------------------------- sensor


class StaleStack(PulumiStackResource):
    """A gpu-pool stack applied with `stale_nodes` (possibly outside today's bounds)."""

    stale_nodes: int | None = None

    def outputs(self, stack_name, program, *, reveal_secrets=False):  # type: ignore[override]
        return {} if self.stale_nodes is None else {"desired_nodes": self.stale_nodes}


def test_sensor_never_requests_out_of_range_and_the_asset_accepts_every_request(tmp_path: Path) -> None:
    pool = build_gpu_pool_spec(profile("production"))
    no_cooldown = dataclasses.replace(profile("production"), scale_down_cooldown_s=0)
    sensor = build_backlog_sensor(no_cooldown, EMBEDDING_BACKLOG, job_name="scale_gpu_pool_job")
    requested: list[int] = []
    for n, (source, last) in enumerate(itertools.product(("plan", "stack"), (None, -3, 1000))):
        out = tmp_path / f"size-{n}"  # the pool's current size, possibly stale, from either source
        if source == "plan" and last is not None:
            record_plan(out, "production-gpu-pool", last)
        infra = InfraSettings(env="production", mode="plan" if source == "plan" else "apply", out_dir=str(out))
        pulumi = StaleStack(access_token="pul-" + "2" * 40, stale_nodes=last)
        for backlog in (-10, 60_000, 10**9):
            instance = dg.DagsterInstance.ephemeral()
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key="chunks", metadata={"pending_embedding": backlog})
            )
            resources = {"infra": infra, "pulumi": pulumi}
            context = dg.build_sensor_context(instance=instance, sensor_name=SENSOR_NAME, resources=resources)
            for request in sensor.evaluate_tick(context).run_requests:
                requested.append(request.run_config["ops"]["lambda_gpu_pool"]["config"]["desired_nodes"])
    assert {1, 3} <= {pool.check_nodes(n) for n in requested}  # both bounds reached, never passed

    # Every size the sensor asks for is one the asset plans.
    infra = InfraSettings(env="production", out_dir=str(tmp_path / "plan"))
    for nodes in sorted(set(requested)):
        run_config = {"ops": {"lambda_gpu_pool": {"config": {"desired_nodes": nodes, "reason": "sensor"}}}}
        result = _materialize(infra, dg.DagsterInstance.ephemeral(), "lambda_gpu_pool", run_config=run_config)
        assert result.success
