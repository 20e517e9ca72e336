"""The deploy files, validated by Dagster itself and against the specs they must agree with.

- deploy/dagster.yaml passes Dagster's instance schema; its run launcher and storages pass their classes' schemas;
  the production code location's executor is `k8s_job_executor` with a config its schema accepts.
- The chart values render the same instance (`deploy.chart.render_instance`, the chart's templates as code).
- The values agree with the specs: the ESC-synced Secret, the data-intelligence pool's label and toleration, the
  embedding server's URL, the profile's name, the project's image.
- Every environment variable the production code location reads is provided in its pods: by the chart values or by
  the ESC export (`build_esc_spec(profile("production")).exported_env_vars`).
"""

from __future__ import annotations

import copy
import io
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from pydantic import BaseModel

from deploy.chart import (
    INSTANCE_PATH,
    NAMESPACE,
    USER_DEPLOYMENT,
    VALUES_PATH,
    compared,
    differences,
    image_tag,
    load_yaml,
    render_instance,
    user_deployment,
)
from infra_assets.environment import INFRA_VARIABLES
from infra_assets.settings import COMPONENTS
from infra_assets.specs.esc import build_esc_spec
from infra_assets.specs.k8s import ESC_SECRET_NAME, TEI_SERVICE_URL
from resources.profile import ENV_VAR, profile
from sophia_pipelines.streams import UPSTREAMS
from sophia_platform.executor import IN_CLUSTER_ENV, k8s_executor_config, run_pod_node_selector, run_pod_tolerations
from sophia_platform.loader import load_platform

PRODUCTION = profile("production")
CHART_POSTGRES_ENV = "DAGSTER_PG_PASSWORD"  # the chart sets it in every pod from `global.postgresqlSecretName`


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return load_yaml(VALUES_PATH)


@pytest.fixture(scope="module")
def instance_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("home")
    shutil.copy(INSTANCE_PATH, home / "dagster.yaml")
    config, custom_class = dagster_instance_config(str(home))  # raises on anything the schema refuses
    assert custom_class is None
    return config


def test_the_instance_config_passes_dagsters_schemas(
    instance_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_k8s import K8sRunLauncher
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    launcher = instance_config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    checked = process_config(K8sRunLauncher.config_type(), launcher["config"])
    assert checked.success, checked.errors
    assert checked.value["job_namespace"] == NAMESPACE and checked.value["env_secrets"] == [ESC_SECRET_NAME]
    storages = {
        "run_storage": PostgresRunStorage,
        "event_log_storage": PostgresEventLogStorage,
        "schedule_storage": PostgresScheduleStorage,
    }
    monkeypatch.setenv(CHART_POSTGRES_ENV, "stand-in-password")  # the storages resolve it while validating
    for section, cls in storages.items():
        assert instance_config[section]["class"] == cls.__name__
        result = process_config(cls.config_type(), instance_config[section]["config"])
        assert result.success, (section, result.errors)
    assert instance_config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance_config["run_monitoring"]["enabled"] and instance_config["run_monitoring"]["max_resume_run_attempts"]


def test_a_broken_instance_config_is_refused(tmp_path: Path) -> None:
    broken = load_yaml(INSTANCE_PATH)
    broken["run_monitoring"]["start_timeout_seconds"] = "ten minutes"
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    with pytest.raises(dg.DagsterInvalidConfigError):
        dagster_instance_config(str(tmp_path))


def test_production_runs_each_step_in_its_own_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster_k8s import k8s_job_executor
    from dagster_k8s.job import UserDefinedDagsterK8sConfig

    monkeypatch.setenv(IN_CLUSTER_ENV, "10.43.0.1")  # set by Kubernetes in every pod
    job = load_platform("production").resolve_job_def("data_pipeline")
    assert job.executor_def.name == k8s_job_executor.name
    monkeypatch.delenv(IN_CLUSTER_ENV)  # production loaded on a laptop or in CI: no pods to start
    assert load_platform("production").resolve_job_def("data_pipeline").executor_def.name == "multiprocess"
    config = k8s_executor_config(PRODUCTION)
    checked = process_config(k8s_job_executor.config_schema.config_type, config)
    assert checked.success, checked.errors
    step = UserDefinedDagsterK8sConfig.from_dict(config["step_k8s_config"])  # what each step pod is built from
    assert step.pod_spec_config["node_selector"] == {"workload-type": "data-intelligence"}
    assert step.container_config["resources"]["limits"]
    assert load_platform("local").resolve_job_def("data_pipeline").executor_def.name == "in_process"


def test_the_chart_renders_deploy_dagster_yaml(values: dict[str, Any], instance_config: dict[str, Any]) -> None:
    assert differences(compared(instance_config), render_instance(values)) == []


def test_a_change_to_one_side_only_is_caught(values: dict[str, Any], instance_config: dict[str, Any]) -> None:
    changed = copy.deepcopy(values)
    changed["concurrency"]["runs"]["maxConcurrentRuns"] += 1
    changed["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"].append({"name": "another-secret"})
    found = differences(compared(instance_config), render_instance(changed))
    assert [d.split(":")[0] for d in found] == [
        "concurrency.runs.max_concurrent_runs",
        "run_launcher.config.env_secrets",
    ]


def _env(entries: list[dict[str, str]] | dict[str, str]) -> dict[str, str]:
    return dict(entries) if isinstance(entries, dict) else {e["name"]: e.get("value", "") for e in entries}


def test_the_values_agree_with_the_specs(values: dict[str, Any]) -> None:
    code = user_deployment(values, USER_DEPLOYMENT)
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert [s["name"] for s in code["envSecrets"]] == [ESC_SECRET_NAME]
    assert [s["name"] for s in launcher["envSecrets"]] == [ESC_SECRET_NAME]
    assert code["includeConfigInLaunchedRuns"]["enabled"]  # run and step pods get the code location's env
    env = _env(code["env"])
    assert env[ENV_VAR] == PRODUCTION.name and env["TEI_URL"] == TEI_SERVICE_URL
    selector, tolerations = run_pod_node_selector(PRODUCTION), run_pod_tolerations(PRODUCTION)
    pod_spec = launcher["runK8sConfig"]["podSpecConfig"]
    placed = {
        "run pods": (pod_spec["node_selector"], pod_spec["tolerations"]),
        "code server": (code["nodeSelector"], code["tolerations"]),
        "webserver": (values["dagsterWebserver"]["nodeSelector"], values["dagsterWebserver"]["tolerations"]),
        "daemon": (values["dagsterDaemon"]["nodeSelector"], values["dagsterDaemon"]["tolerations"]),
    }
    assert placed == dict.fromkeys(placed, (selector, tolerations))
    assert launcher["jobNamespace"] == NAMESPACE


def test_the_code_location_runs_the_projects_image(values: dict[str, Any]) -> None:
    images = pytest.importorskip(
        "infra_assets.specs.images",
        reason="infra_assets/specs/images.py (IMAGE_REPOSITORY, IMAGE_TAG) is not merged yet",
    )
    assert user_deployment(values, USER_DEPLOYMENT)["image"]["repository"] == images.IMAGE_REPOSITORY
    assert image_tag() == images.IMAGE_TAG  # what every deploy sets (tests/test_deploy_ci.py: the --set in infra.yml)


def pod_environment(values: dict[str, Any], esc_exports: tuple[str, ...]) -> set[str]:
    """The variables every pod of the code location has: its own env, the run launcher's, the ESC-synced Secret's
    keys and the chart's Postgres password."""
    code = user_deployment(values, USER_DEPLOYMENT)
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    names = set(_env(code.get("env", []))) | {v.split("=", 1)[0] for v in launcher.get("envVars", [])}
    secrets = {s["name"] for s in [*code.get("envSecrets", []), *launcher.get("envSecrets", [])]}
    unknown = secrets - {ESC_SECRET_NAME}
    assert not unknown, f"Secrets whose keys nothing declares: {unknown}"
    return names | set(esc_exports) | {CHART_POSTGRES_ENV}


def env_vars_of(obj: Any, out: set[str]) -> set[str]:
    """Every `dg.EnvVar` name inside resources (fields of pydantic models, dicts, lists)."""
    if isinstance(obj, dg.EnvVar):
        out.add(obj.env_var_name)
    elif isinstance(obj, dict):
        for v in obj.values():
            env_vars_of(v, out)
    elif isinstance(obj, list | tuple):
        for v in obj:
            env_vars_of(v, out)
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            env_vars_of(getattr(obj, name, None), out)
    return out


def test_every_variable_production_reads_is_provided(values: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    provided = pod_environment(values, build_esc_spec(PRODUCTION).exported_env_vars)
    for name in [v.name for v in INFRA_VARIABLES if v.name in provided or v.presence]:
        monkeypatch.delenv(name, raising=False)
    for name in provided:  # the pod's environment, with stand-in values
        monkeypatch.setenv(name, _env(user_deployment(values)["env"]).get(name) or f"stand-in-{name.lower()}")
    monkeypatch.setenv(IN_CLUSTER_ENV, "10.43.0.1")  # set by Kubernetes in every pod
    defs = load_platform("production")
    read = env_vars_of(dict(defs.resources), set())  # with SNOWFLAKE_PRIVATE_KEY set, the password is not read
    read |= {var for var in UPSTREAMS.get("phantombuster", {}).values() if isinstance(var, str)}  # agent ids
    read |= {leaf["env"] for leaf in _env_leaves(load_yaml(INSTANCE_PATH))}  # the instance's own
    assert read >= {"APIFY_TOKEN", "SNOWFLAKE_ACCOUNT", "PINECONE_API_KEY", "LAMBDA_API_KEY", CHART_POSTGRES_ENV}
    assert sorted(read - provided) == []
    infra = defs.resources["infra"]
    assert infra.mode == "apply"  # the scaling sensors' runs apply
    assert [c for c in COMPONENTS if infra.missing_component_credentials(c)] == []
    assert isinstance(defs.resources["pulumi"].access_token, dg.EnvVar)  # resolved in the run, never at load


def _env_leaves(node: Any) -> list[dict[str, str]]:
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return [node]
        return [leaf for v in node.values() for leaf in _env_leaves(v)]
    if isinstance(node, list):
        return [leaf for v in node for leaf in _env_leaves(v)]
    return []


def _rendered(instance: dict[str, Any]) -> str:
    """`helm template` output in the chart's shape: the instance ConfigMap among other manifests."""
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "dagster-instance"},
        "data": {"dagster.yaml": yaml.safe_dump({"scheduler": {"module": "x", "class": "Y"}, **instance})},
    }
    return yaml.safe_dump_all(
        [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "dagster"}}, configmap]
    )


def test_check_rendered_compares_the_charts_configmap(
    values: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploy.chart import main

    monkeypatch.setattr("sys.stdin", io.StringIO(_rendered(render_instance(values))))
    assert main(["check-rendered"]) == 0
    drifted = render_instance(values)
    drifted["run_monitoring"].pop("free_slots_after_run_end_seconds")  # e.g. a chart that drops a field
    monkeypatch.setattr("sys.stdin", io.StringIO(_rendered(drifted)))
    assert main(["check-rendered"]) == 1
    assert "run_monitoring.free_slots_after_run_end_seconds: missing" in capsys.readouterr().err


def test_the_mcp_servers_reach_the_release_webserver() -> None:
    """The MCP workloads' DAGSTER_GRAPHQL_URL names the webserver Service of the chart's release."""
    from deploy.chart import NAMESPACE, RELEASE
    from infra_assets.specs.k8s import DAGSTER_GRAPHQL_URL

    assert f"http://{RELEASE}-dagster-webserver.{NAMESPACE}.svc.cluster.local/graphql" == DAGSTER_GRAPHQL_URL
