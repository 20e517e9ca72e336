"""The infra plane reads one environment profile and one table of environment variables.

A profile with other values changes the specs, the sensor and the stacks; no module of `infra_assets`
branches on an environment's name or keeps its own cooldown; Dagster and the CLI read the same variables.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import dagster as dg
import pytest
import yaml

import infra_assets
import infra_assets.__main__ as cli
from infra_assets.definitions import build_infra_definitions
from infra_assets.environment import INFRA_VARIABLES, resource_fields
from infra_assets.sensors import BacklogSignal
from infra_assets.settings import InfraSettings
from infra_assets.specs import build_infra_specs
from infra_assets.specs.images import IMAGE_TAG
from resources.profile import (
    BUSINESS_INTELLIGENCE_POOL,
    DATA_INTELLIGENCE_POOL,
    PROFILES,
    TEI_MODEL,
    PoolBounds,
    profile,
)
from resources.pulumi_stack import PulumiStackResource
from sophia_platform.defs.infrastructure.definitions import DATA_PLANE_RUNS, EMBEDDING_BACKLOG

INFRA_DIR = Path(infra_assets.__file__).parent
STAGING = dataclasses.replace(
    profile("production"),
    name="staging",  # type: ignore[arg-type]
    gpu_pool=PoolBounds(2, 8, 3),
    cpu_pools={DATA_INTELLIGENCE_POOL: PoolBounds(2, 6, 2), BUSINESS_INTELLIGENCE_POOL: PoolBounds(0, 3, 1)},
    mcp_replicas=3,
    scale_up_cooldown_s=30.0,
    scale_down_cooldown_s=120.0,
    automation_running=False,
    protect_stacks=False,
)


@pytest.fixture
def staging(monkeypatch: pytest.MonkeyPatch) -> None:
    """A third environment, registered the way the profile module says: one entry in PROFILES."""
    monkeypatch.setitem(PROFILES, "staging", STAGING)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in INFRA_VARIABLES:
        monkeypatch.delenv(var.name, raising=False)
    monkeypatch.setenv("SOPHIA_INFRA_OUT", str(tmp_path / "plan"))


# ---------------------------------------------------------------- the profile drives the specs


def test_another_profile_changes_every_spec() -> None:
    specs = build_infra_specs(STAGING)
    pool = specs.gpu_pool
    assert (pool.min_nodes, pool.max_nodes, pool.desired_nodes) == (2, 8, 3)
    assert pool.pool_name == "ai-intelligence-pool" and pool.labels["sophia.ai/env"] == "staging"
    workloads = {w.name: w for w in specs.k8s.workloads}
    tei = workloads["text-embeddings-inference"]
    assert (tei.replicas, tei.max_replicas) == (3, 8)
    assert tei.args[tei.args.index("--model-id") + 1] == TEI_MODEL
    assert workloads["data-intelligence-mcp"].replicas == 3 and workloads["infrastructure-mcp"].replicas == 1
    assert specs.esc.name == "staging" and specs.esc.plain_env["SOPHIA_ENV"] == "staging" and not specs.esc.protect
    assert build_infra_specs(profile("production")).esc.protect and not build_infra_specs(profile("local")).esc.protect
    assert {w.replicas for w in build_infra_specs(profile("local")).k8s.workloads if not w.on_gpu_pool} == {1}
    cpu = {p.pool_name: (p.min_nodes, p.max_nodes, p.desired_nodes) for p in specs.node_pools}
    assert cpu == {DATA_INTELLIGENCE_POOL: (2, 6, 2), BUSINESS_INTELLIGENCE_POOL: (0, 3, 1)}
    assert all(p.labels["sophia.ai/env"] == "staging" for p in specs.node_pools)


@pytest.mark.usefixtures("staging")
def test_a_registered_profile_is_an_environment_for_settings_definitions_and_cli(tmp_path: Path) -> None:
    assert InfraSettings(env="staging").specs().gpu_pool.allowed_range == "2..8"

    defs = build_infra_definitions("staging", EMBEDDING_BACKLOG, DATA_PLANE_RUNS)
    sensor = defs.resolve_sensor_def("gpu_backlog_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert "(2..8 nodes)" in sensor.description and "waits 120s" in sensor.description
    assert "scale-up waits 30s" in sensor.description
    data_pool = defs.resolve_sensor_def("data_intelligence_pool_sensor")
    assert "(2..6 nodes)" in data_pool.description and data_pool.default_status == dg.DefaultSensorStatus.STOPPED
    assert defs.resources["infra"].env == "staging"

    out = tmp_path / "cli"
    assert cli.main(["plan", "--env", "staging", "--out", str(out)]) == cli.EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == [
        "staging-business-intelligence-pool",
        "staging-cluster",
        "staging-data-intelligence-pool",
        "staging-esc",
        "staging-gpu-pool",
        "staging-k8s",
    ]
    pool = yaml.safe_load((out / "staging-gpu-pool" / "gpu-pool.yaml").read_text())
    assert pool["nodes"] == {"min": 2, "desired": 3, "max": 8}
    assert cli.main(["plan", "--stack", "staging-gpu-pool", "--desired-nodes", "9", "--out", str(out)]) == (
        cli.EXIT_USAGE
    )


def test_definitions_take_a_profile_and_the_backlog_signal_as_data() -> None:
    signal = BacklogSignal.of(["staged_chunks"], "queue_depth")
    defs = build_infra_definitions(profile("production"), backlog=signal, runs=DATA_PLANE_RUNS)
    sensor = defs.resolve_sensor_def("gpu_backlog_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert "`queue_depth` reported by staged_chunks" in sensor.description
    assert sensor.required_resource_keys >= {"infra", "pulumi"}
    assert BacklogSignal.of(["chunks", "chunk_vectors"], "pending_embedding") == EMBEDDING_BACKLOG


def _code(path: Path) -> str:
    """The module's code without docstrings and comments."""
    text = re.sub(r'"""[\s\S]*?"""', "", path.read_text())
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


NAME_DECISIONS = (r"[\"'](local|production|staging)[\"']", r"\benv\s*[!=]=")
OWN_COOLDOWN = r"cooldown\w*\s*(:\s*\w+\s*)?=\s*\d"


def test_no_module_decides_on_an_environment_name_or_keeps_its_own_cooldown() -> None:
    offenders: list[str] = []
    for path in sorted(INFRA_DIR.rglob("*.py")):
        code, name = _code(path), str(path.relative_to(INFRA_DIR))
        # autoscaling/: pure policies (task G) whose defaults the wiring replaces with the profile's cooldown
        patterns = NAME_DECISIONS if name.startswith("autoscaling/") else (*NAME_DECISIONS, OWN_COOLDOWN)
        offenders += [f"{name}: {m.group(0)}" for pattern in patterns for m in re.finditer(pattern, code)]
    assert offenders == []


# ---------------------------------------------------------------- one table of environment variables


def test_only_the_environment_table_reads_variables() -> None:
    readers = sorted(
        str(p.relative_to(INFRA_DIR)) for p in INFRA_DIR.rglob("*.py") if re.search(r"os\.environ|getenv", _code(p))
    )
    # The dynamic provider runs inside the Pulumi engine, where the key reaches it as its own fallback.
    assert readers == ["environment.py", "lambda_cloud/provider.py"]


def test_dagster_and_the_cli_read_the_same_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {var.name: f"value-of-{var.name.lower()}" for var in INFRA_VARIABLES}
    values["SOPHIA_INFRA_MODE"] = "preview"
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    defs = build_infra_definitions("production", EMBEDDING_BACKLOG, DATA_PLANE_RUNS)
    dagster_infra, dagster_pulumi = defs.resources["infra"], defs.resources["pulumi"]
    cli_infra = cli._settings("production", "preview", None)
    cli_pulumi = cli._pulumi_resource()
    for var in INFRA_VARIABLES:
        dagster_side = getattr(dagster_infra if var.target == "infra" else dagster_pulumi, var.field)
        cli_side = getattr(cli_infra if var.target == "infra" else cli_pulumi, var.field)
        if var.presence:
            assert dagster_side is True and cli_side is True, var.name
        elif var.secret:  # Dagster resolves it when a run starts; the CLI has the value
            assert isinstance(dagster_side, dg.EnvVar) and dagster_side.env_var_name == var.name
            assert cli_side == values[var.name], var.name
        else:
            assert dagster_side == cli_side == values[var.name], var.name
    assert isinstance(cli_pulumi, PulumiStackResource) and cli_pulumi.work_dir == values["SOPHIA_PULUMI_WORK_DIR"]


def test_unset_or_empty_variables_leave_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_API_KEY", "")
    monkeypatch.delenv("SOPHIA_INFRA_OUT")
    for secrets in ("env_var", "value"):
        infra = resource_fields("infra", secrets=secrets)  # type: ignore[arg-type]
        assert infra == {
            "mode": "plan",
            "out_dir": ".sophia/infra",
            "pulumi_org": "sophia-ai",
            "kube_in_cluster": False,
            "image_tag": IMAGE_TAG,
            "cluster_source": "k3s",
        }
        assert resource_fields("pulumi", secrets=secrets) == {"work_dir": ".sophia/pulumi"}  # type: ignore[arg-type]
