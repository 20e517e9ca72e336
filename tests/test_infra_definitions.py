"""`build_infra_definitions` (what the project merges) and the `python -m infra_assets` entry point."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import pytest
import yaml

import infra_assets.__main__ as cli
from infra_assets.definitions import build_infra_definitions
from resources.pulumi_stack import PulumiStackResource
from sophia_platform.defs.infrastructure.definitions import DATA_PLANE_RUNS, EMBEDDING_BACKLOG

FAKE_LAMBDA_KEY = "secret_sophia_" + "c3" * 16
NODE_POOLS = {"node_pool/data-intelligence-pool", "node_pool/business-intelligence-pool"}
SECRET_VARS = ("LAMBDA_API_KEY", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (*SECRET_VARS, "SOPHIA_INFRA_MODE", "PULUMI_BACKEND_URL", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SOPHIA_INFRA_OUT", str(tmp_path / "plan"))


def test_definitions_expose_the_contract() -> None:
    defs = build_infra_definitions("local", EMBEDDING_BACKLOG, DATA_PLANE_RUNS)
    dg.Definitions.validate_loadable(defs)
    assert set(defs.resources) == {"infra", "pulumi"}
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_executable}
    assert keys == {"esc_environment", "k8s_cluster", "lambda_gpu_pool", "k8s_deployments", *NODE_POOLS}
    external = {k.to_user_string() for k in graph.get_all_asset_keys() if not graph.get(k).is_executable}
    assert external == {"chunks", "chunk_vectors"}  # the backlog assets, defined by the data plane
    scale = defs.resolve_job_def("scale_gpu_pool_job")
    assert {k.to_user_string() for k in scale.asset_layer.selected_asset_keys} == {"lambda_gpu_pool"}
    assert defs.resolve_job_def("infra_plan_job")
    sensor = defs.resolve_sensor_def("gpu_backlog_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED and sensor.job_name == "scale_gpu_pool_job"
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("k8s_deployments")).parent_keys == {
        dg.AssetKey("esc_environment"),
        dg.AssetKey("k8s_cluster"),
        dg.AssetKey("lambda_gpu_pool"),
    }
    pools = [dg.AssetKey("lambda_gpu_pool"), *(dg.AssetKey.from_user_string(p) for p in NODE_POOLS)]
    assert all(dg.AssetKey("k8s_cluster") in graph.get(k).parent_keys for k in pools)  # the pools join the cluster
    for key in ("esc_environment", "lambda_gpu_pool", "k8s_deployments"):
        node = graph.get(dg.AssetKey(key))
        assert node.group_name == "infrastructure" and "pulumi" in node.kinds and node.owners
    for key in NODE_POOLS:
        node = graph.get(dg.AssetKey.from_user_string(key))
        assert node.group_name == "infrastructure" and "kubernetes" in node.kinds and node.owners
    assert {s.name for s in defs.sensors} == {
        "gpu_backlog_sensor",
        "data_intelligence_pool_sensor",
        "business_intelligence_pool_sensor",
        "tei_replicas_sensor",
    }
    assert all(s.default_status == dg.DefaultSensorStatus.STOPPED for s in defs.sensors)  # local


def test_secrets_are_env_var_references_never_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY", FAKE_LAMBDA_KEY)
    monkeypatch.setenv("SOPHIA_INFRA_MODE", "preview")
    defs = build_infra_definitions("production", EMBEDDING_BACKLOG, DATA_PLANE_RUNS)
    infra = defs.resources["infra"]
    assert infra.mode == "preview" and infra.env == "production"
    assert isinstance(infra.lambda_api_key, dg.EnvVar) and infra.lambda_api_key.env_var_name == "LAMBDA_API_KEY"
    assert infra.kubeconfig is None  # KUBECONFIG unset: left unset, so the asset falls back to plan
    assert FAKE_LAMBDA_KEY not in repr(defs.resources)


def test_plan_job_runs_end_to_end(tmp_path: Path) -> None:
    defs = build_infra_definitions("local", EMBEDDING_BACKLOG, DATA_PLANE_RUNS)
    result = defs.resolve_job_def("infra_plan_job").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert (tmp_path / "plan" / "local-k8s" / "manifests.yaml").exists()


# ---------------------------------------------------------------- python -m infra_assets


@dataclass
class FakeResult:
    stack_name: str
    action: str
    change_summary: dict[str, int] = field(default_factory=lambda: {"update": 1, "same": 2})
    has_changes: bool = True
    outputs: dict[str, Any] = field(default_factory=lambda: {"node_count": 2})
    secret_output_names: list[str] = field(default_factory=list)


class FakePulumi(PulumiStackResource):
    calls: ClassVar[list[tuple[str, str]]] = []

    def preview(self, stack_name, program, config=None, on_output=None):  # type: ignore[override]
        FakePulumi.calls.append(("preview", stack_name))
        on_output(f"previewing with {FAKE_LAMBDA_KEY}")
        return FakeResult(stack_name, "preview")

    def outputs(self, stack_name, program, *, reveal_secrets=False):  # type: ignore[override]
        FakePulumi.calls.append(("outputs", stack_name))
        return {"desired_nodes": 3, "node_count": 3}


def test_cli_plan_renders_every_stack(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    assert cli.main(["plan", "--env", "production", "--out", str(out)]) == cli.EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == [
        "production-business-intelligence-pool",
        "production-cluster",
        "production-data-intelligence-pool",
        "production-esc",
        "production-gpu-pool",
        "production-k8s",
    ]
    pool = yaml.safe_load((out / "production-gpu-pool" / "gpu-pool.yaml").read_text())
    assert pool["nodes"]["desired"] == 1


def test_cli_plan_defaults_to_the_current_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOPHIA_ENV", raising=False)
    out = tmp_path / "cli"
    assert cli.main(["plan", "--out", str(out)]) == cli.EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == [
        "local-business-intelligence-pool",
        "local-cluster",
        "local-data-intelligence-pool",
        "local-esc",
        "local-gpu-pool",
        "local-k8s",
    ]


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["preview"]) == cli.EXIT_USAGE
    assert cli.main(["up", "--stack", "production-database"]) == cli.EXIT_USAGE
    assert "not an infra stack" in capsys.readouterr().err


def test_cli_preview_without_pulumi_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "cli_available", lambda: False)
    code = cli.main(["preview", "--stack", "production-k8s", "--out", str(tmp_path)])
    assert code == cli.EXIT_NO_CLI
    assert "pulumi CLI is not on PATH" in capsys.readouterr().err
    assert (tmp_path / "production-k8s" / "manifests.yaml").exists()


def test_cli_preview_missing_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "cli_available", lambda: True)
    code = cli.main(["preview", "--stack", "production-gpu-pool", "--out", str(tmp_path)])
    assert code == cli.EXIT_MISSING_CREDENTIALS
    assert "PULUMI_ACCESS_TOKEN" in capsys.readouterr().err


def test_cli_preview_runs_the_stack_and_redacts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    FakePulumi.calls = []
    monkeypatch.setattr(cli, "cli_available", lambda: True)
    monkeypatch.setattr(cli, "_pulumi_resource", lambda: FakePulumi(access_token="pul-" + "1" * 40))
    monkeypatch.setenv("LAMBDA_API_KEY", FAKE_LAMBDA_KEY)
    code = cli.main(["preview", "--stack", "production-gpu-pool", "--desired-nodes", "2", "--out", str(tmp_path)])
    assert code == cli.EXIT_OK
    assert FakePulumi.calls == [("preview", "production-gpu-pool")]
    out = capsys.readouterr().out
    assert "changes_total': 1" in out and FAKE_LAMBDA_KEY not in out and "[secret]" in out


def test_cli_module_entry_point(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra_assets", "plan", "--stack", "local-esc", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "local-esc" / "environment.yaml").exists()


def test_cli_keeps_the_current_pool_size(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakePulumi.calls = []
    monkeypatch.setattr(cli, "cli_available", lambda: True)
    monkeypatch.setattr(cli, "_pulumi_resource", lambda: FakePulumi(access_token="pul-" + "1" * 40))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    assert cli.main(["preview", "--stack", "production-k8s", "--out", str(tmp_path)]) == cli.EXIT_OK
    assert FakePulumi.calls == [("outputs", "production-gpu-pool"), ("preview", "production-k8s")]
    manifests = list(yaml.safe_load_all((tmp_path / "production-k8s" / "manifests.yaml").read_text()))
    tei = next(
        m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == "text-embeddings-inference"
    )
    assert tei["spec"]["replicas"] == 3
