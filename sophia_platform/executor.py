"""The executor of each environment (`EnvProfile.executor`).

Locally a run stays in one process (DuckDB has a single writer). In production every step of a run gets its own
Kubernetes pod (`k8s_job_executor` from dagster-k8s, the `production` extra), on the data-intelligence node pool
like the run pod that `K8sRunLauncher` starts (deploy/dagster.yaml, deploy/helm/values.yaml): a large run's
normalize, chunk and embed steps then get their own CPU and memory, and a step that dies (OOM, evicted node) is
retried alone. Concurrency pools (`sophia/data-plane`) are claimed per step by this executor too.

Pods only exist in a cluster: the production profile loaded outside one (`esc run ... -- dagster dev`, CI's
`dg check defs`) runs steps in subprocesses instead. In-cluster is what Kubernetes sets in every pod, the variable the
infra plane reads for the same question (`kube_in_cluster`, infra_assets/environment.py).
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from infra_assets.environment import INFRA_VARIABLES
from infra_assets.specs.node_pools import build_node_pool_specs
from infra_assets.specs.pools import WORKLOAD_TYPE_LABEL
from resources.profile import DATA_INTELLIGENCE_POOL, EnvProfile

# Each step pod: normalize/chunk/embed batches call Snowflake, TEI and Pinecone; the memory covers one batch in flight.
STEP_POD_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "500m", "memory": "1Gi"},
    "limits": {"cpu": "2", "memory": "4Gi"},
}
MAX_STEP_PODS_PER_RUN = 4  # the pools bound the data plane further (one `sophia/data-plane` step at a time)
IN_CLUSTER_ENV = next(v.name for v in INFRA_VARIABLES if v.field == "kube_in_cluster")  # KUBERNETES_SERVICE_HOST


def in_cluster() -> bool:
    return IN_CLUSTER_ENV in os.environ


def run_pod_node_selector(profile: EnvProfile) -> dict[str, str]:
    """`{workload-type: <the data-intelligence pool's>}`: where run and step pods are scheduled."""
    pool = next(p for p in build_node_pool_specs(profile) if p.pool_name == DATA_INTELLIGENCE_POOL)
    return {WORKLOAD_TYPE_LABEL: pool.workload_type}


def run_pod_tolerations(profile: EnvProfile) -> list[dict[str, str]]:
    """Tolerate the data-intelligence pool's `workload-type=<type>:NoSchedule` taint (harmless where there is none)."""
    return [
        {"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}
        for key, value in run_pod_node_selector(profile).items()
    ]


def k8s_executor_config(profile: EnvProfile) -> dict[str, Any]:
    """The `k8s_job_executor` config: step pods on the data-intelligence pool with `STEP_POD_RESOURCES`.

    Namespace, image, service account and the ESC-synced Secret come from the run launcher and the code location's
    deployment (the chart's `includeConfigInLaunchedRuns`), so they are not repeated here.
    """
    return {
        "max_concurrent": MAX_STEP_PODS_PER_RUN,
        "step_k8s_config": {
            "container_config": {"resources": STEP_POD_RESOURCES},
            "pod_spec_config": {
                "node_selector": run_pod_node_selector(profile),
                "tolerations": run_pod_tolerations(profile),
            },
        },
    }


def build_executor(profile: EnvProfile, *, cluster: bool | None = None) -> dg.ExecutorDefinition:
    """The default executor of every job in `profile`'s code location; `cluster` defaults to `in_cluster()`."""
    if profile.executor == "in_process":
        return dg.in_process_executor
    if profile.executor == "multiprocess" or not (in_cluster() if cluster is None else cluster):
        return dg.multiprocess_executor
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError as exc:  # the base install is the local one; the image installs `.[production]`
        raise ImportError(
            f"profile {profile.name!r} runs steps with dagster-k8s's k8s_job_executor, which is not installed: "
            "pip install -e '.[production]'"
        ) from exc
    return k8s_job_executor.configured(k8s_executor_config(profile))
