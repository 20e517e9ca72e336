"""The Dagster Helm release of production: its values, the instance they render, and the checks CI runs on them.

`render_instance(values)` is what the official chart's templates (`helpers/instance/_postgresql.tpl`,
`_run-launcher.tpl`, `_run-coordinator.tpl`, `_concurrency.tpl` and `configmap-instance.yaml`) make of the values for
the sections this deployment sets (`COMPARED_SECTIONS`); the tests compare it with deploy/dagster.yaml offline, and
`check-rendered` compares the chart's real `helm template` output with it in CI, so a chart that renders differently
fails the deploy instead of running with another instance config.

CLI (`python -m deploy.chart ...`): `version` (the chart version: the installed dagster's), `image-tag` (the code
location's image tag), `value <dotted.path>` (one value of deploy/helm/values.yaml), `check-rendered < manifests.yaml`,
`external-secret` (the ESC-synced Secret for the `dagster` namespace, to pipe into `kubectl apply -f -`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster
import yaml

DEPLOY_DIR = Path(__file__).resolve().parent
VALUES_PATH = DEPLOY_DIR / "helm" / "values.yaml"
INSTANCE_PATH = DEPLOY_DIR / "dagster.yaml"
RELEASE = "dagster"  # the Helm release; with the chart's name in it, the chart's "fullname" is the release name
NAMESPACE = "dagster"
CHART_NAME = "dagster"
USER_DEPLOYMENT = "sophia-pipelines"  # the code location's deployment, also its location name in the UI
USER_DEPLOYMENTS_KEY = "dagster-user-deployments"
COMPARED_SECTIONS = (
    "run_storage",
    "event_log_storage",
    "schedule_storage",
    "run_launcher",
    "run_coordinator",
    "run_monitoring",
    "concurrency",
    "telemetry",
)
_STORAGE_CLASSES = {
    "run_storage": ("dagster_postgres.run_storage", "PostgresRunStorage"),
    "event_log_storage": ("dagster_postgres.event_log", "PostgresEventLogStorage"),
    "schedule_storage": ("dagster_postgres.schedule_storage", "PostgresScheduleStorage"),
}
# values key (camelCase) -> instance key, for the run launcher and run monitoring fields the chart copies as they are.
_LAUNCHER_FIELDS = {
    "labels": "labels",
    "resources": "resources",
    "schedulerName": "scheduler_name",
    "securityContext": "security_context",
}
_RUN_K8S_FIELDS = {
    "containerConfig": "container_config",
    "podSpecConfig": "pod_spec_config",
    "podTemplateSpecMetadata": "pod_template_spec_metadata",
    "jobSpecConfig": "job_spec_config",
    "jobMetadata": "job_metadata",
}
_MONITORING_FIELDS = {
    "startTimeoutSeconds": "start_timeout_seconds",
    "cancelTimeoutSeconds": "cancel_timeout_seconds",
    "maxResumeRunAttempts": "max_resume_run_attempts",
    "pollIntervalSeconds": "poll_interval_seconds",
    "freeSlotsAfterRunEndSeconds": "free_slots_after_run_end_seconds",
}


def chart_version() -> str:
    """The chart is released with every dagster version: deploy the one matching the image's dagster."""
    return dagster.__version__


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def fullname(values: Mapping[str, Any], release: str = RELEASE) -> str:
    """The chart's `dagster.fullname`: the override, else the release name when it contains the chart name."""
    if values.get("fullnameOverride"):
        return str(values["fullnameOverride"])
    name = values.get("nameOverride") or CHART_NAME
    return release if name in release else f"{release}-{name}"


def _postgres(values: Mapping[str, Any], release: str) -> dict[str, Any]:
    pg = values["postgresql"]
    host = f"{fullname(values, release)}-postgresql" if pg.get("enabled") else pg["postgresqlHost"]
    db = {
        "username": pg["postgresqlUsername"],
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": host,
        "db_name": pg["postgresqlDatabase"],
        "port": pg["service"]["port"],
        "params": pg.get("postgresqlParams", {}),
    }
    if pg.get("postgresqlScheme"):
        db["scheme"] = pg["postgresqlScheme"]
    return {"postgres_db": db}


def _run_launcher(values: Mapping[str, Any], release: str, namespace: str) -> dict[str, Any]:
    if values["runLauncher"]["type"] != "K8sRunLauncher":
        raise ValueError(f"only K8sRunLauncher is rendered here, got {values['runLauncher']['type']!r}")
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    glob = values.get("global", {})
    config: dict[str, Any] = {
        "load_incluster_config": k8s["loadInclusterConfig"],
        "job_namespace": k8s.get("jobNamespace") or namespace,
        "image_pull_policy": k8s["imagePullPolicy"],
        "service_account_name": glob.get("serviceAccountName") or values["serviceAccount"]["name"],
        "dagster_home": glob["dagsterHome"],
        "instance_config_map": f"{fullname(values, release)}-instance",
        "postgres_password_secret": glob["postgresqlSecretName"],
    }
    names = {"env_config_maps": k8s.get("envConfigMaps"), "env_secrets": k8s.get("envSecrets")}
    config |= {key: [s["name"] for s in refs if "name" in s] for key, refs in names.items() if refs}
    for key in ("envVars", "volumeMounts", "volumes"):
        if k8s.get(key):
            config[{"envVars": "env_vars", "volumeMounts": "volume_mounts", "volumes": "volumes"}[key]] = k8s[key]
    config |= {ours: k8s[theirs] for theirs, ours in _LAUNCHER_FIELDS.items() if k8s.get(theirs)}
    if k8s.get("failPodOnRunFailure"):
        config["fail_pod_on_run_failure"] = True
    if k8s.get("runK8sConfig"):
        run = k8s["runK8sConfig"]
        config["run_k8s_config"] = {ours: run[theirs] for theirs, ours in _RUN_K8S_FIELDS.items() if run.get(theirs)}
    return {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}


def _concurrency(values: Mapping[str, Any]) -> dict[str, Any]:
    pools, runs = values["concurrency"].get("pools", {}), values["concurrency"].get("runs", {})
    out: dict[str, Any] = {}
    rendered_pools = {
        ours: pools[theirs]
        for theirs, ours in (
            ("defaultLimit", "default_limit"),
            ("granularity", "granularity"),
            ("opGranularityRunBuffer", "op_granularity_run_buffer"),
        )
        if pools.get(theirs) is not None
    }
    if rendered_pools:
        out["pools"] = rendered_pools
    rendered_runs: dict[str, Any] = {}
    if runs.get("maxConcurrentRuns") is not None:
        rendered_runs["max_concurrent_runs"] = runs["maxConcurrentRuns"]
    if runs.get("tagConcurrencyLimits"):
        rendered_runs["tag_concurrency_limits"] = [
            {k: limit[k] for k in ("key", "value", "limit") if limit.get(k) is not None}
            for limit in runs["tagConcurrencyLimits"]
        ]
    if rendered_runs:
        out["runs"] = rendered_runs
    return out


def render_instance(values: Mapping[str, Any], release: str = RELEASE, namespace: str = NAMESPACE) -> dict[str, Any]:
    """The `COMPARED_SECTIONS` of the instance the chart renders from `values` (see the module docstring)."""
    storage = _postgres(values, release)
    instance: dict[str, Any] = {
        key: {"module": module, "class": cls, "config": storage} for key, (module, cls) in _STORAGE_CLASSES.items()
    }
    instance["run_launcher"] = _run_launcher(values, release, namespace)
    daemon = values["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    if daemon["enabled"] and coordinator["enabled"]:
        if coordinator["type"] != "QueuedRunCoordinator":
            raise ValueError(f"only the QueuedRunCoordinator is rendered here, got {coordinator['type']!r}")
        instance["run_coordinator"] = {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}
        queued = {k: v for k, v in coordinator["config"].get("queuedRunCoordinator", {}).items() if v}
        if queued:
            raise ValueError(f"set the queue's limits under `concurrency.runs`, not queuedRunCoordinator: {queued}")
    monitoring = daemon.get("runMonitoring", {})
    if daemon["enabled"] and monitoring.get("enabled"):
        instance["run_monitoring"] = {"enabled": True} | {
            ours: monitoring[theirs] for theirs, ours in _MONITORING_FIELDS.items() if monitoring.get(theirs)
        }
    if values.get("concurrency", {}).get("enabled"):
        instance["concurrency"] = _concurrency(values)
    instance["telemetry"] = {"enabled": values["telemetry"]["enabled"]}
    return instance


def compared(instance: Mapping[str, Any]) -> dict[str, Any]:
    """The `COMPARED_SECTIONS` of an instance config (what the chart values decide)."""
    return {key: instance[key] for key in COMPARED_SECTIONS if key in instance}


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every path where `actual` differs from `expected` (dicts by key, everything else by value)."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        out: list[str] = []
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{where}: missing (expected {expected[key]!r})")
            elif key not in expected:
                out.append(f"{where}: unexpected {actual[key]!r}")
            else:
                out += differences(expected[key], actual[key], where)
        return out
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def rendered_instance(manifests: Iterable[Mapping[str, Any] | None], release: str = RELEASE) -> dict[str, Any]:
    """The `dagster.yaml` inside the `<fullname>-instance` ConfigMap of `helm template` output."""
    values = load_yaml(VALUES_PATH)
    name = f"{fullname(values, release)}-instance"
    for manifest in manifests:
        if manifest and manifest.get("kind") == "ConfigMap" and manifest["metadata"]["name"] == name:
            return yaml.safe_load(manifest["data"]["dagster.yaml"])
    raise ValueError(f"no ConfigMap {name!r} in the rendered chart")


def user_deployment(values: Mapping[str, Any], name: str = USER_DEPLOYMENT) -> dict[str, Any]:
    """The code location's entry under `dagster-user-deployments.deployments`."""
    for deployment in values[USER_DEPLOYMENTS_KEY]["deployments"]:
        if deployment["name"] == name:
            return deployment
    raise KeyError(f"no user deployment {name!r} in {VALUES_PATH}")


def image_tag() -> str:
    """The code location's image tag: the one constant the cluster spec and the MCP servers use too."""
    from infra_assets.specs.images import IMAGE_TAG

    return IMAGE_TAG


def external_secret() -> dict[str, Any]:
    """The ExternalSecret that syncs every variable the production ESC environment exports into `NAMESPACE`."""
    from infra_assets.specs import build_infra_specs
    from infra_assets.specs.k8s import _external_secret
    from resources.profile import profile

    spec = build_infra_specs(profile("production")).k8s
    return _external_secret(spec, NAMESPACE, sorted(spec.esc.exported_env_vars))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.chart", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("version", "image-tag", "value", "check-rendered", "external-secret"))
    parser.add_argument("path", nargs="?", help="for `value`: a dotted path, e.g. global.postgresqlSecretName")
    args = parser.parse_args(argv)
    if args.command == "version":
        print(chart_version())
    elif args.command == "value":
        node: Any = load_yaml(VALUES_PATH)
        for key in (args.path or "").split("."):
            node = node[key]
        print(node)
    elif args.command == "image-tag":
        print(image_tag())
    elif args.command == "external-secret":
        print(yaml.safe_dump(external_secret(), sort_keys=False), end="")
    else:
        actual = compared(rendered_instance(yaml.safe_load_all(sys.stdin)))
        diffs = differences(compared(load_yaml(INSTANCE_PATH)), actual)
        if diffs:
            print(f"the chart renders another instance than {INSTANCE_PATH.name}:", *diffs, sep="\n  ", file=sys.stderr)
            return 1
        print(f"the chart's instance ConfigMap agrees with {INSTANCE_PATH.name} ({', '.join(COMPARED_SECTIONS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
