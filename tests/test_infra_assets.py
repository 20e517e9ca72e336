"""The infra assets and checks, materialized with `dagster.materialize` and a recording Pulumi double."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import pytest
import yaml

from infra_assets import assets as infra_asset_module
from infra_assets.assets import build_infra_assets
from infra_assets.checks import build_infra_checks
from infra_assets.programs.gpu_pool import API_KEY_CONFIG
from infra_assets.settings import InfraSettings
from infra_assets.specs import InfraSpecs, build_infra_specs
from infra_assets.specs.k8s import manifest_id
from resources.profile import profile
from resources.pulumi_stack import PulumiStackResource

FAKE_LAMBDA_KEY = "secret_sophia_" + "a1" * 16
FAKE_TOKEN = "pul-" + "0" * 40
FAKE_OPENROUTER_KEY = "sk-or-v1-" + "9f" * 24


@dataclass
class FakeResult:
    """Duck-typed StackRunResult."""

    stack_name: str
    action: str
    change_summary: dict[str, int] = field(default_factory=dict)
    has_changes: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_output_names: list[str] = field(default_factory=list)


CLUSTER_KUBECONFIG = "apiVersion: v1\nusers: [{name: admin, user: {token: CLUSTER-ADMIN-SECRET-9}}]\n"
CLUSTER_JOIN_TOKEN = "K10-join-SECRET-0123456789abcdef"
SERVER_URL = "https://192.0.2.10:6443"


class FakePulumi(PulumiStackResource):
    """Records every call (class-level: Dagster re-instantiates resources) and returns canned results."""

    calls: ClassVar[list[dict[str, Any]]] = []
    changes: ClassVar[bool] = True
    fail_with: ClassVar[Exception | None] = None
    stack_outputs: ClassVar[dict[str, dict[str, Any]]] = {}  # stack -> outputs; a missing stack has none
    reads: ClassVar[list[str]] = []  # stacks whose outputs were read

    def _record(self, action: str, stack_name: str, program: Any, config: Any, on_output: Any) -> FakeResult:
        FakePulumi.calls.append({"action": action, "stack": stack_name, "config": dict(config or {})})
        assert callable(program)
        if FakePulumi.fail_with is not None:
            raise FakePulumi.fail_with
        if on_output:
            on_output(f"pulumi {action} {stack_name}: provider key {FAKE_LAMBDA_KEY} token {FAKE_TOKEN}\n")
        outputs: dict[str, Any] = {"secret_thing": "kubeconfig-contents"}
        secret = ["secret_thing"]
        if stack_name.endswith("gpu-pool"):
            outputs |= {"node_count": 2, "instance_ids": ["i-1", "i-2"]}
        if stack_name.endswith("-cluster"):
            outputs |= {"kubeconfig": CLUSTER_KUBECONFIG, "joinToken": CLUSTER_JOIN_TOKEN, "serverUrl": SERVER_URL}
            secret += ["kubeconfig", "joinToken"]
        summary = {"create": 3, "same": 1} if FakePulumi.changes else {"same": 4}
        return FakeResult(stack_name, action, summary, FakePulumi.changes, outputs, secret)

    def preview(self, stack_name, program, config=None, on_output=None):  # type: ignore[override]
        return self._record("preview", stack_name, program, config, on_output)

    def up(self, stack_name, program, config=None, on_output=None):  # type: ignore[override]
        return self._record("up", stack_name, program, config, on_output)

    def refresh(self, stack_name, program, config=None, on_output=None):  # type: ignore[override]
        return self._record("refresh", stack_name, program, config, on_output)

    def outputs(self, stack_name, program, *, reveal_secrets=False):  # type: ignore[override]
        FakePulumi.reads.append(stack_name)
        return dict(FakePulumi.stack_outputs.get(stack_name, {}))


@pytest.fixture(autouse=True)
def _reset_fake() -> None:
    FakePulumi.calls = []
    FakePulumi.changes = True
    FakePulumi.fail_with = None
    FakePulumi.stack_outputs = {}
    FakePulumi.reads = []


def _fake_pulumi() -> FakePulumi:
    return FakePulumi(access_token=FAKE_TOKEN, backend_url="https://api.pulumi.com")


@dataclass
class Run:
    result: dg.ExecuteInProcessResult
    instance: dg.DagsterInstance

    @property
    def success(self) -> bool:
        return self.result.success

    def metadata(self) -> dict[str, dict[str, Any]]:
        return {
            e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in self.result.get_asset_materialization_events()
        }

    def checks(self) -> dict[tuple[str, str], Any]:
        return {(e.asset_key.to_user_string(), e.check_name): e for e in self.result.get_asset_check_evaluations()}

    def warnings(self) -> list[str]:
        return [r.user_message for r in self.instance.all_logs(self.result.run_id) if r.level == logging.WARNING]

    def everything(self) -> str:
        """Every log message and event of the run, as text."""
        records = self.instance.all_logs(self.result.run_id)
        return "\n".join(f"{r.user_message} {r.dagster_event}" for r in records)


def _materialize(
    env: str, infra: InfraSettings, pulumi: PulumiStackResource, instance: dg.DagsterInstance | None = None, **kw: Any
) -> Run:
    instance = instance or dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [*build_infra_assets(env), *build_infra_checks(env)],
        resources={"infra": infra, "pulumi": pulumi},
        instance=instance,
        **kw,
    )
    return Run(result, instance)


# ---------------------------------------------------------------- plan mode


def test_plan_mode_writes_manifests_and_metadata_and_checks_pass(tmp_path: Path) -> None:
    infra = InfraSettings(env="local", out_dir=str(tmp_path))
    result = _materialize("local", infra, _fake_pulumi())
    assert result.success
    assert FakePulumi.calls == []  # plan never touches Pulumi

    esc = yaml.safe_load((tmp_path / "local-esc" / "environment.yaml").read_text())
    assert esc["imports"] == ["sophia-ai/github-secrets", "sophia-ai/local-rotated"]
    assert "environmentVariables" in esc["values"]
    manifests = list(yaml.safe_load_all((tmp_path / "local-k8s" / "manifests.yaml").read_text()))
    assert [m["kind"] for m in manifests].count("Deployment") == 5
    pool = yaml.safe_load((tmp_path / "local-gpu-pool" / "gpu-pool.yaml").read_text())
    assert pool["nodes"] == {"min": 0, "desired": 1, "max": 1}
    summary = json.loads((tmp_path / "local-k8s" / "plan.json").read_text())
    assert summary["mode"] == "plan" and summary["resources_planned"] == 21

    md = result.metadata()
    assert {m["mode"] for m in md.values()} == {"plan"}
    assert md["esc_environment"]["secrets_referenced"] == 33
    assert md["esc_environment"]["env_vars_exported"] == 39  # KUBECONFIG included (exported as a file)
    assert md["lambda_gpu_pool"]["desired_nodes"] == 1 and md["lambda_gpu_pool"]["max_nodes"] == 1
    assert md["k8s_deployments"]["resources_planned"] == 21 and md["k8s_deployments"]["gpu_replicas"] == 1
    assert md["k8s_deployments"]["plan_dir"] == str(tmp_path / "local-k8s")
    assert "PLAN: rendered desired state, nothing was applied" in md["k8s_deployments"]["plan"]
    assert "changes_total" not in md["k8s_deployments"]

    checks = result.checks()
    assert {name for (_, name) in checks} == {"spec_valid"}  # no_drift is skipped outside apply mode
    assert all(c.passed for c in checks.values())
    assert checks[("k8s_deployments", "spec_valid")].metadata["schema_validated"].value == 18


def test_gpu_pool_run_config_sets_the_pool_and_tei_replicas(tmp_path: Path) -> None:
    infra = InfraSettings(env="production", out_dir=str(tmp_path))
    run_config = {"ops": {"lambda_gpu_pool": {"config": {"desired_nodes": 3, "reason": "backlog 400000"}}}}
    result = _materialize("production", infra, _fake_pulumi(), run_config=run_config)
    md = result.metadata()
    assert md["lambda_gpu_pool"]["requested_nodes"] == 3
    assert md["lambda_gpu_pool"]["desired_nodes"] == 3  # the max is allowed (above it: see test_infra_bounds)
    assert md["lambda_gpu_pool"]["reason"] == "backlog 400000"
    assert md["k8s_deployments"]["gpu_replicas"] == 3

    again = _materialize("production", infra, _fake_pulumi(), instance=result.instance).metadata()
    assert again["lambda_gpu_pool"]["desired_nodes"] == 3  # no size requested: the current one is kept
    assert "kept the current size, from the last plan" in again["lambda_gpu_pool"]["reason"]
    assert again["lambda_gpu_pool"]["size_source"] == "plan" and again["k8s_deployments"]["gpu_replicas"] == 3


class BadSpecSettings(InfraSettings):
    """Deliberately bad: TEI on `:latest`, a literal API key in an MCP server's env."""

    def specs(self, desired_nodes: int | None = None) -> InfraSpecs:
        good = super().specs(desired_nodes)
        workloads = [
            dataclasses.replace(w, image="ghcr.io/huggingface/text-embeddings-inference:latest") if w.on_gpu_pool else w
            for w in good.k8s.workloads
        ]
        workloads[0] = dataclasses.replace(workloads[0], env={"OPENROUTER_API_KEY": FAKE_OPENROUTER_KEY})
        return dataclasses.replace(good, k8s=dataclasses.replace(good.k8s, workloads=tuple(workloads)))


def test_bad_spec_fails_the_validation_check_without_leaking_the_literal(tmp_path: Path) -> None:
    infra = BadSpecSettings(env="local", out_dir=str(tmp_path))
    result = _materialize("local", infra, _fake_pulumi(), raise_on_error=False)
    check = result.checks()[("k8s_deployments", "spec_valid")]
    assert not check.passed
    assert check.metadata["findings_image_pinned"].value == 1
    assert check.metadata["findings_secret_literal"].value == 1
    assert result.checks()[("esc_environment", "spec_valid")].passed

    manifests = (tmp_path / "local-k8s" / "manifests.yaml").read_text()
    assert FAKE_OPENROUTER_KEY not in manifests and "[redacted: literal secret]" in manifests
    assert FAKE_OPENROUTER_KEY not in json.dumps(result.metadata(), default=str)
    assert FAKE_OPENROUTER_KEY not in result.everything()


def test_bad_spec_is_never_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra_asset_module, "cli_available", lambda: True)
    infra = BadSpecSettings(env="local", out_dir=str(tmp_path), mode="apply", kubeconfig="/tmp/kubeconfig")
    result = dg.materialize(
        [a for a in build_infra_assets("local") if a.key.to_user_string() == "k8s_deployments"],
        resources={"infra": infra, "pulumi": _fake_pulumi()},
        raise_on_error=False,
    )
    assert not result.success
    assert FakePulumi.calls == []
    assert (tmp_path / "local-k8s" / "manifests.yaml").exists()  # the plan is still written


# ---------------------------------------------------------------- preview / apply through the double


def test_preview_calls_each_stack_and_masks_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra_asset_module, "cli_available", lambda: True)
    infra = InfraSettings(
        env="production", mode="preview", out_dir=str(tmp_path), lambda_api_key=FAKE_LAMBDA_KEY, kubeconfig="/k/cfg"
    )
    result = _materialize("production", infra, _fake_pulumi())
    assert result.success
    assert [(c["action"], c["stack"]) for c in FakePulumi.calls] == [
        ("preview", "production-esc"),
        ("preview", "production-cluster"),
        ("preview", "production-gpu-pool"),
        ("preview", "production-k8s"),
    ]
    for pool_config in (FakePulumi.calls[1]["config"], FakePulumi.calls[2]["config"]):  # the k3s server, the pool
        assert pool_config[API_KEY_CONFIG].value == FAKE_LAMBDA_KEY and pool_config[API_KEY_CONFIG].secret
    k8s_config = FakePulumi.calls[3]["config"]
    assert k8s_config["kubeconfig"].value == "/k/cfg" and not k8s_config["kubeconfig"].secret
    assert FakePulumi.calls[0]["config"] == {}

    md = result.metadata()
    assert {m["mode"] for m in md.values()} == {"preview"}
    assert md["k8s_deployments"]["changes_create"] == 3 and md["k8s_deployments"]["changes_total"] == 3
    assert md["k8s_deployments"]["has_changes"] is True
    assert md["esc_environment"]["outputs"] == {"secret_thing": "[secret]"}
    assert "node_count" not in md["lambda_gpu_pool"]  # only an applied pool reports a real count

    everything = json.dumps(md, default=str) + result.everything()
    assert "pulumi preview production-k8s" in everything  # the output was streamed to the logs...
    assert FAKE_LAMBDA_KEY not in everything and FAKE_TOKEN not in everything  # ...redacted
    assert "kubeconfig-contents" not in everything


def test_apply_reports_node_count_and_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra_asset_module, "cli_available", lambda: True)
    infra = InfraSettings(
        env="production", mode="apply", out_dir=str(tmp_path), lambda_api_key=FAKE_LAMBDA_KEY, kube_in_cluster=True
    )
    FakePulumi.changes = False
    result = _materialize("production", infra, _fake_pulumi())
    md = result.metadata()
    assert {m["mode"] for m in md.values()} == {"apply"}
    assert md["lambda_gpu_pool"]["node_count"] == 2
    assert md["lambda_gpu_pool"]["outputs"]["instance_ids"] == ["i-1", "i-2"]
    actions = [(c["action"], c["stack"]) for c in FakePulumi.calls]
    for stack in ("production-esc", "production-cluster", "production-gpu-pool", "production-k8s"):
        assert actions.count(("up", stack)) == 1
        assert ("refresh", stack) in actions and ("preview", stack) in actions  # the drift check
    cluster = md["k8s_cluster"]
    assert cluster["outputs"] == {
        "secret_thing": "[secret]",
        "kubeconfig": "[secret]",
        "joinToken": "[secret]",
        "serverUrl": SERVER_URL,
    }
    assert cluster["cluster"] == "sophia-ai-production" and cluster["pools"] == 3
    everything = json.dumps(md, default=str) + result.everything()
    assert "CLUSTER-ADMIN-SECRET-9" not in everything and CLUSTER_JOIN_TOKEN not in everything
    checks = result.checks()
    assert checks[("k8s_deployments", "no_drift")].passed
    assert checks[("k8s_deployments", "no_drift")].metadata["preview_changes_total"].value == 0


def test_drift_is_reported_as_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra_asset_module, "cli_available", lambda: True)
    infra = InfraSettings(env="production", mode="apply", out_dir=str(tmp_path), lambda_api_key=FAKE_LAMBDA_KEY)
    result = _materialize("production", infra, _fake_pulumi(), selection="lambda_gpu_pool*")
    drift = result.checks()[("lambda_gpu_pool", "no_drift")]
    assert not drift.passed and drift.severity == dg.AssetCheckSeverity.WARN
    assert drift.metadata["refresh_changes_total"].value == 3


def test_pulumi_failure_fails_the_asset_with_a_redacted_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(infra_asset_module, "cli_available", lambda: True)
    FakePulumi.fail_with = RuntimeError(f"provider rejected key {FAKE_LAMBDA_KEY}")
    infra = InfraSettings(env="production", mode="apply", out_dir=str(tmp_path), lambda_api_key=FAKE_LAMBDA_KEY)
    result = _materialize("production", infra, _fake_pulumi(), selection="lambda_gpu_pool", raise_on_error=False)
    assert not result.success
    everything = result.everything()
    assert "pulumi up of stack production-gpu-pool failed: provider rejected key [secret]" in everything
    assert FAKE_LAMBDA_KEY not in everything


# ---------------------------------------------------------------- fallback to plan


def test_missing_cli_falls_back_to_plan_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra_asset_module, "cli_available", lambda: False)
    infra = InfraSettings(env="production", mode="apply", out_dir=str(tmp_path), lambda_api_key=FAKE_LAMBDA_KEY)
    result = _materialize("production", infra, _fake_pulumi())
    assert result.success and FakePulumi.calls == []
    md = result.metadata()
    assert {m["mode"] for m in md.values()} == {"plan (fallback: pulumi CLI not found on PATH)"}
    assert any("apply requested, running plan instead (pulumi CLI not found on PATH)" in w for w in result.warnings())
    assert (tmp_path / "production-gpu-pool" / "gpu-pool.yaml").exists()


def test_missing_credentials_fall_back_per_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra_asset_module, "cli_available", lambda: True)
    infra = InfraSettings(env="production", mode="apply", out_dir=str(tmp_path))  # no Lambda key, no kubeconfig
    result = _materialize("production", infra, _fake_pulumi())
    md = result.metadata()
    assert md["esc_environment"]["mode"] == "apply"
    assert md["lambda_gpu_pool"]["mode"] == "plan (fallback: missing credentials: LAMBDA_API_KEY)"
    assert md["k8s_deployments"]["mode"] == "plan (fallback: missing credentials: KUBECONFIG)"
    assert [c["stack"] for c in FakePulumi.calls if c["action"] == "up"] == ["production-esc"]


def test_file_backend_without_passphrase_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra_asset_module, "cli_available", lambda: True)
    infra = InfraSettings(env="local", mode="preview", out_dir=str(tmp_path), lambda_api_key=FAKE_LAMBDA_KEY)
    pulumi = FakePulumi(backend_url=f"file://{tmp_path}/state")
    result = _materialize("local", infra, pulumi, selection="lambda_gpu_pool")
    assert result.metadata()["lambda_gpu_pool"]["mode"] == (
        "plan (fallback: missing credentials: PULUMI_CONFIG_PASSPHRASE)"
    )


def test_spec_override_is_honoured_by_the_checks() -> None:
    specs = BadSpecSettings(env="local").specs()
    assert isinstance(specs, InfraSpecs) and specs != build_infra_specs(profile("local"))


# ---------------------------------------------------------------- the pool's current size (infra_assets.pool_size)


def test_preview_keeps_the_size_the_stack_runs_and_sizes_tei_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(infra_asset_module, "cli_available", lambda: True)
    FakePulumi.stack_outputs = {"production-gpu-pool": {"desired_nodes": 3, "node_count": 3}}
    infra = InfraSettings(
        env="production", mode="preview", out_dir=str(tmp_path), lambda_api_key=FAKE_LAMBDA_KEY, kubeconfig="/k/cfg"
    )
    result = _materialize("production", infra, _fake_pulumi())
    md = result.metadata()
    assert md["lambda_gpu_pool"]["desired_nodes"] == 3 and md["lambda_gpu_pool"]["size_source"] == "stack"
    assert "from the pool stack's outputs" in md["lambda_gpu_pool"]["reason"]
    assert md["k8s_deployments"]["gpu_replicas"] == 3 and md["k8s_deployments"]["gpu_nodes_source"] == "stack"
    assert set(FakePulumi.reads) == {"production-gpu-pool"}  # the assets and the checks read the same stack
    assert all(c.passed for c in result.checks().values())


def test_no_stack_yet_plans_the_spec_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra_asset_module, "cli_available", lambda: True)
    infra = InfraSettings(env="production", mode="preview", out_dir=str(tmp_path), lambda_api_key=FAKE_LAMBDA_KEY)
    md = _materialize("production", infra, _fake_pulumi(), selection="lambda_gpu_pool").metadata()
    assert md["lambda_gpu_pool"]["desired_nodes"] == 1 and md["lambda_gpu_pool"]["size_source"] == "spec"
    assert set(FakePulumi.reads) == {"production-gpu-pool"}  # the asset and its spec check


# ---------------------------------------------------------------- the plan in the UI


class LongPlanSettings(InfraSettings):
    """Fifteen more MCP servers: a k8s plan longer than one metadata entry should hold."""

    def specs(self, desired_nodes: int | None = None) -> InfraSpecs:
        good = super().specs(desired_nodes)
        extra = [dataclasses.replace(good.k8s.workloads[0], name=f"extra-mcp-{i:02d}") for i in range(15)]
        return dataclasses.replace(good, k8s=dataclasses.replace(good.k8s, workloads=(*good.k8s.workloads, *extra)))


def test_a_long_plan_is_shown_whole_one_entry_per_object(tmp_path: Path) -> None:
    infra = LongPlanSettings(env="local", out_dir=str(tmp_path))
    run = _materialize("local", infra, _fake_pulumi(), selection="k8s_deployments", raise_on_error=False)
    (event,) = run.result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    written = tmp_path / "local-k8s" / "manifests.yaml"
    assert len(written.read_text()) > 20_000  # where the old single `plan` entry was cut

    manifests = list(yaml.safe_load_all(written.read_text()))
    for manifest in manifests:
        entry = metadata[f"plan/{manifest_id(manifest)}"]
        assert isinstance(entry, dg.MarkdownMetadataValue) and len(entry.value) < 5_000
        body = entry.value.split("\n", 1)[1].rsplit("\n", 1)[0]  # inside the fence
        assert yaml.safe_load(body) == manifest
    assert metadata["plan_file/manifests.yaml"] == dg.MetadataValue.path(str(written))
    assert metadata["plan_file/plan.json"] == dg.MetadataValue.path(str(tmp_path / "local-k8s" / "plan.json"))
    assert metadata["plan_dir"] == dg.MetadataValue.path(str(tmp_path / "local-k8s"))
    assert f"{len(manifests)} object(s)" in metadata["plan"].value
    assert not any("truncated" in str(getattr(v, "value", v)) for v in metadata.values())
