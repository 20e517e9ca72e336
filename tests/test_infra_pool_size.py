"""The one reader of the GPU pool's current size (`infra_assets.pool_size`) and the consumers that share it.

Stack outputs come through the real `PulumiStackResource.outputs` over the stack double of
`tests/test_pulumi_stack_resource.py`; plan mode reads the gpu-pool plan written by the asset or the CLI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pulumi.automation as auto
import pytest
import yaml

import infra_assets.__main__ as cli
import resources.pulumi_stack as ps
from infra_assets.assets import build_infra_assets, gpu_pool_work
from infra_assets.checks import build_infra_checks
from infra_assets.pool_size import CHANGED_AT, PoolSize, PoolSizeUnavailable, current_pool_size
from infra_assets.render import PLAN_SUMMARY, write_plan
from infra_assets.sensors import SENSOR_NAME, build_backlog_sensor
from infra_assets.settings import InfraSettings
from resources.profile import profile
from resources.pulumi_stack import PulumiStackResource
from sophia_platform.defs.infrastructure.definitions import EMBEDDING_BACKLOG
from tests.test_pulumi_stack_resource import TOKEN, FakeStack, command_error, make_resource

STACK = "production-gpu-pool"
LEAKY = "lambda-key-0b5e9d2a"  # a secret the failing engine repeats


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SOPHIA_INFRA_MODE", "SOPHIA_ENV", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def cli_present(monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: "/usr/bin/pulumi" if cmd == "pulumi" else real_which(cmd))


def _infra(tmp_path: Path, mode: str = "plan") -> InfraSettings:
    return InfraSettings(env="production", mode=mode, out_dir=str(tmp_path / "plan"))


def _plan(infra: InfraSettings, nodes: int) -> None:
    """Write the gpu-pool plan at `nodes`, as the asset and the CLI do."""
    work = gpu_pool_work(infra, nodes, "test")
    write_plan(infra.output_dir, work.stack, work.files, {"mode": "plan", **work.metadata})


def _stack(desired_nodes: int | None) -> FakeStack:
    stack = FakeStack(STACK)
    if desired_nodes is not None:
        stack.stack_outputs["desired_nodes"] = auto.OutputValue(desired_nodes, secret=False)
    return stack


# ---------------------------------------------------------------- plan mode: the last plan


def test_plan_mode_without_a_plan_is_the_spec_default(tmp_path: Path) -> None:
    assert current_pool_size(_infra(tmp_path), PulumiStackResource()) == PoolSize(1, "spec", None)


def test_plan_mode_reads_the_last_plan_and_when_its_size_changed(tmp_path: Path) -> None:
    infra = _infra(tmp_path)
    _plan(infra, 3)
    first = current_pool_size(infra, PulumiStackResource())
    assert (first.nodes, first.source) == (3, "plan") and first.changed_at is not None
    _plan(infra, 3)  # the same size again: the clock keeps running from the change
    assert current_pool_size(infra, PulumiStackResource()).changed_at == first.changed_at
    _plan(infra, 2)
    second = current_pool_size(infra, PulumiStackResource())
    assert second.nodes == 2 and second.changed_at is not None and second.changed_at >= first.changed_at
    summary = json.loads((infra.output_dir / STACK / PLAN_SUMMARY).read_text())
    assert summary[CHANGED_AT] == second.changed_at


@pytest.mark.parametrize("content", ["{not json", '{"desired_nodes": "three"}', "[1, 2]", '{"desired_nodes": true}'])
def test_an_unreadable_plan_is_no_plan(tmp_path: Path, content: str) -> None:
    infra = _infra(tmp_path)
    path = infra.output_dir / STACK / PLAN_SUMMARY
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert current_pool_size(infra, PulumiStackResource()).source == "spec"


# ---------------------------------------------------------------- preview / apply: the stack's outputs


@pytest.mark.usefixtures("cli_present")
@pytest.mark.parametrize("mode", ["preview", "apply"])
def test_stack_outputs_are_the_size_in_preview_and_apply(tmp_path: Path, mode: str) -> None:
    infra = _infra(tmp_path, mode)
    stack = _stack(2)
    assert current_pool_size(infra, make_resource(stack)) == PoolSize(2, "stack", None)
    assert stack.calls == [f"select:{STACK}", "outputs"]

    _plan(infra, 2)  # the last plan holds the stack's size: its clock is the stack's
    planned = json.loads((infra.output_dir / STACK / PLAN_SUMMARY).read_text())[CHANGED_AT]
    assert current_pool_size(infra, make_resource(_stack(2))) == PoolSize(2, "stack", planned)
    _plan(infra, 3)  # planned (e.g. previewed) but not applied: the stack still runs 2, since unknown
    assert current_pool_size(infra, make_resource(_stack(2))) == PoolSize(2, "stack", None)


@pytest.mark.usefixtures("cli_present")
def test_no_stack_yet_is_the_spec_default(tmp_path: Path) -> None:
    infra = _infra(tmp_path, "apply")
    _plan(infra, 3)  # a plan is not what runs
    assert current_pool_size(infra, make_resource(_stack(None))) == PoolSize(1, "spec", None)


def test_without_the_cli_or_backend_credentials_the_last_plan_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    infra = _infra(tmp_path, "apply")
    _plan(infra, 3)
    stack = _stack(2)
    no_token = make_resource(stack, access_token=None, config_passphrase=None)
    assert current_pool_size(infra, no_token).source == "plan"  # the assets fall back to plan too
    assert stack.calls == []  # never touched
    monkeypatch.setattr(ps, "cli_available", lambda: False)
    assert current_pool_size(infra, make_resource(stack)).nodes == 3
    assert stack.calls == []


@pytest.mark.usefixtures("cli_present")
def test_an_unreadable_stack_is_an_error_without_secrets(tmp_path: Path) -> None:
    class Failing(FakeStack):
        def outputs(self) -> auto.OutputMap:
            raise command_error(auto.CommandError, f"error: decrypting {LEAKY} with {TOKEN} failed")

    with pytest.raises(PoolSizeUnavailable, match=f"could not read the outputs of stack {STACK}") as caught:
        current_pool_size(_infra(tmp_path, "preview"), make_resource(Failing(STACK)))
    assert TOKEN not in str(caught.value) and LEAKY not in str(caught.value)


def test_a_stale_size_is_planned_within_todays_bounds() -> None:
    pool = InfraSettings(env="production").specs().gpu_pool
    stale = PoolSize(9, "stack")
    assert stale.usable(pool) == 3
    assert stale.stale_warning(pool) == (
        "the pool stack's outputs: GPU pool size 9 is outside ai-intelligence-pool's allowed range 1..3; using 3."
    )
    assert PoolSize(3, "plan").stale_warning(pool) is None


# ---------------------------------------------------------------- one size for the assets, checks, sensor and CLI


def _materialize(infra: InfraSettings, instance: dg.DagsterInstance, selection: str, **kw: Any) -> Any:
    result = dg.materialize(
        [*build_infra_assets(infra.env), *build_infra_checks(infra.env)],
        resources={"infra": infra, "pulumi": PulumiStackResource()},
        instance=instance,
        selection=selection,
        **kw,
    )
    assert result.success
    return result


def _tick(instance: dg.DagsterInstance, infra: InfraSettings) -> Any:
    sensor = build_backlog_sensor(profile("production"), EMBEDDING_BACKLOG, job_name="scale_gpu_pool_job")
    resources = {"infra": infra, "pulumi": PulumiStackResource()}
    context = dg.build_sensor_context(instance=instance, sensor_name=SENSOR_NAME, resources=resources)
    return sensor.evaluate_tick(context)


def _tei_replicas(out: Path) -> int:
    manifests = yaml.safe_load_all((out / "production-k8s" / "manifests.yaml").read_text())
    (tei,) = [
        m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == "text-embeddings-inference"
    ]
    return tei["spec"]["replicas"]


def test_an_asset_sized_pool_is_what_the_sensor_the_checks_and_the_cli_see(tmp_path: Path) -> None:
    infra, instance = _infra(tmp_path), dg.DagsterInstance.ephemeral()
    run_config = {"ops": {"lambda_gpu_pool": {"config": {"desired_nodes": 3, "reason": "peak"}}}}
    _materialize(infra, instance, "lambda_gpu_pool", run_config=run_config)

    instance.report_runless_asset_event(dg.AssetMaterialization("chunks", metadata={"pending_embedding": 0}))
    assert "Keeping 3 node(s) (from the last plan)" in _tick(instance, infra).skip_message

    k8s = _materialize(infra, instance, "k8s_deployments")  # the k8s asset and its spec check
    md = {k: v.value for k, v in k8s.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert md["gpu_replicas"] == 3 and md["gpu_nodes_source"] == "plan"
    assert all(c.passed for c in k8s.get_asset_check_evaluations())

    assert cli.main(["plan", "--stack", "production-k8s", "--out", str(infra.output_dir)]) == cli.EXIT_OK
    assert _tei_replicas(infra.output_dir) == 3


def test_a_cli_sized_pool_is_what_the_assets_and_the_sensor_keep(tmp_path: Path) -> None:
    infra, instance = _infra(tmp_path), dg.DagsterInstance.ephemeral()
    out = str(infra.output_dir)
    assert cli.main(["plan", "--stack", STACK, "--desired-nodes", "3", "--out", out]) == cli.EXIT_OK

    result = _materialize(infra, instance, "lambda_gpu_pool*")  # no run config: keep the current size
    md = {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    assert md["lambda_gpu_pool"]["desired_nodes"] == 3 and md["lambda_gpu_pool"]["size_source"] == "plan"
    assert md["k8s_deployments"]["gpu_replicas"] == 3

    instance.report_runless_asset_event(dg.AssetMaterialization("chunks", metadata={"pending_embedding": 140_000}))
    assert "Keeping 3 node(s)" in _tick(instance, infra).skip_message


def test_cli_stops_when_the_stack_is_unreadable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Unreadable(PulumiStackResource):
        def outputs(self, stack_name, program, *, reveal_secrets=False):  # type: ignore[override]
            raise ps.PulumiStackError(stack_name, "outputs", "CommandError", "backend said no")

    monkeypatch.setattr(cli, "_pulumi_resource", lambda: Unreadable(access_token=TOKEN))
    code = cli.main(["preview", "--stack", "production-k8s", "--out", str(tmp_path)])
    assert code == cli.EXIT_PULUMI_FAILED
    err = capsys.readouterr().err
    assert "could not read the outputs of stack production-gpu-pool" in err and "--desired-nodes" in err
    assert TOKEN not in err and not (tmp_path / "production-k8s").exists()  # nothing planned at a guessed size
