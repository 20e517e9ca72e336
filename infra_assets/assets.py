"""The infra plane as assets: the ESC environment, the cluster, the Lambda GPU pool and the Kubernetes deployments
(the CPU node pools: `infra_assets/node_pools.py`).

Every asset builds its stack's `StackWork` from the pure specs, always writes the plan (files under the
plan directory + metadata), then, in preview/apply mode and when the Pulumi CLI and credentials are
present, runs the stack through the `pulumi` resource. Each asset sits in its stack's concurrency pool, so
two runs never touch one stack at once. A pool size (or workload replicas) asked for in run config outside
the bounds fails the run before anything is rendered or written; without one, the pool keeps its current size
(`infra_assets.pool_size`), the k8s stack sizes TEI from it and keeps every other workload's replicas
(`infra_assets.replicas`).

A scaling run (requested by a sensor or by hand) says why in its config; the materialization records the
decision as `signal`, `old_size`, `new_size` and `reason`. In the lineage, the pools and the k8s deployments hang
below the cluster, the GPU pool also below the assets reporting the embedding backlog (a `BacklogSignal` from the
caller), and the k8s deployments below the GPU pool.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from pydantic import Field

from infra_assets.autoscaling.workloads import replicas_key
from infra_assets.pool_size import (
    PoolSize,
    PoolSizeUnavailable,
    current_pool_size,
    pool_metadata,
    usable_pool_size,
)
from infra_assets.programs.cluster import EXISTING_KUBECONFIG_CONFIG, cluster_program
from infra_assets.programs.esc import esc_program
from infra_assets.programs.gpu_pool import API_KEY_CONFIG, PoolJoin, gpu_pool_program
from infra_assets.programs.k8s import KUBE_CONTEXT_CONFIG, KUBECONFIG_CONFIG, k8s_program
from infra_assets.render import (
    change_counts,
    gpu_pool_yaml,
    manifests_yaml,
    masked_outputs,
    plan_metadata,
    redactor,
    write_plan,
)
from infra_assets.replicas import WORKLOAD_REPLICAS, kept_replicas, last_planned_replicas
from infra_assets.settings import (
    CLUSTER,
    ESC,
    GPU_POOL,
    K8S,
    InfraSettings,
    ModeDecision,
    decide_mode,
    missing_backend_credentials,
    stack_name,
)
from infra_assets.signals import BacklogSignal
from infra_assets.specs.cloud_init import render_cloud_config
from infra_assets.specs.cluster_validation import validate_cluster
from infra_assets.specs.esc import esc_document, render_esc_yaml
from infra_assets.specs.gpu_pool import NodeCountError
from infra_assets.specs.k8s import ReplicaCountError, manifest_id, render_manifests
from infra_assets.specs.validation import (
    ValidationReport,
    scan_esc_document,
    scan_manifests,
    validate_esc,
    validate_gpu_pool,
    validate_k8s,
)
from resources.pulumi_stack import (
    PulumiCliMissingError,
    PulumiStackResource,
    StackConfigValue,
    StackLockedError,
    cli_available,
    stack_pool,
)

GROUP = "infrastructure"
OWNERS = ["team:platform"]
ESC_KEY = dg.AssetKey("esc_environment")
CLUSTER_KEY = dg.AssetKey("k8s_cluster")
GPU_POOL_KEY = dg.AssetKey("lambda_gpu_pool")
K8S_KEY = dg.AssetKey("k8s_deployments")
ASSET_KEYS = {ESC: ESC_KEY, CLUSTER: CLUSTER_KEY, GPU_POOL: GPU_POOL_KEY, K8S: K8S_KEY}


@dataclass(frozen=True)
class StackWork:
    """What one stack run needs, built from the specs. Plan files are already redacted."""

    component: str
    stack: str
    files: Mapping[str, str]
    metadata: Mapping[str, Any]  # plan facts (numbers and short strings)
    objects: Mapping[str, str]  # the plan per object (name -> redacted YAML), one metadata entry each
    program: Callable[[], None]
    report: ValidationReport
    config: Mapping[str, StackConfigValue] = field(default_factory=dict, repr=False)  # may hold secrets


@dataclass(frozen=True)
class StackOutcome:
    """What `run_stack` did: the mode that ran, metadata, masked outputs."""

    decision: ModeDecision
    metadata: dict[str, Any]
    outputs: dict[str, Any]  # masked stack outputs (empty in plan mode)


# ---------------------------------------------------------------- building the work of each stack


def esc_work(infra: InfraSettings) -> StackWork:
    """The esc stack: the environment YAML (literal secrets redacted) and its program."""
    spec = infra.specs().esc
    document = esc_document(spec)
    redacted, _ = scan_esc_document(document)
    text = render_esc_yaml(spec, redacted)
    report = validate_esc(spec, document)
    return StackWork(
        component=ESC,
        stack=infra.stack(ESC),
        files={"environment.yaml": text},
        metadata={
            "environment": f"{spec.organization}/{spec.qualified_name}",
            "secrets_referenced": len(spec.secrets),
            "env_vars_exported": len(spec.exported_env_vars),
            "imports": len(spec.imports),
        },
        objects={f"{spec.organization}/{spec.qualified_name}": text},
        program=esc_program(spec, text),
        report=report,
    )


def cluster_work(infra: InfraSettings) -> StackWork:
    """The cluster stack: the k3s server (or an existing kubeconfig) and every pool's cloud-config, validated."""
    spec = infra.cluster()
    configs = {f"{p.name}.cloud-config.yaml": render_cloud_config(spec, p) for p in (spec.server, *spec.pools)}
    summary = {
        "cluster": spec.name,
        "source": spec.source,
        "k3s": {"version": spec.k3s_version, "sha256": spec.k3s_sha256, "url": spec.k3s_binary_url},
        "server": {"instance_type": spec.server.instance_type, "region": spec.server.region},
        "pools": [
            {
                "name": p.name,
                "instance_type": p.instance_type,
                "nodes": {"min": p.min_nodes, "desired": p.desired_nodes, "max": p.max_nodes},
                "labels": p.node_labels,
                "taints": [str(t) for t in p.taints],
            }
            for p in spec.pools
        ],
        "outputs": {"kubeconfig": "[secret]", "joinToken": "[secret]", "serverUrl": "the server's https URL"},
    }
    text = yaml.safe_dump(summary, sort_keys=False)
    config: dict[str, StackConfigValue] = {}
    if spec.owns_server and infra.lambda_api_key:
        config[API_KEY_CONFIG] = StackConfigValue(infra.lambda_api_key, secret=True)
    if not spec.owns_server and infra.kubeconfig:
        content = (
            Path(infra.kubeconfig).expanduser().read_text() if Path(infra.kubeconfig).expanduser().is_file() else ""
        )
        if content:
            config[EXISTING_KUBECONFIG_CONFIG] = StackConfigValue(content, secret=True)
    return StackWork(
        component=CLUSTER,
        stack=infra.stack(CLUSTER),
        files={"cluster.yaml": text, **configs},
        metadata={
            "cluster": spec.name,
            "source": spec.source,
            "k3s_version": spec.k3s_version,
            "pools": len(spec.pools),
            "cloud_configs": len(configs),
        },
        objects={spec.name: text, **{name.removesuffix(".yaml"): body for name, body in configs.items()}},
        program=cluster_program(spec, api_base_url=infra.lambda_api_base_url),
        report=validate_cluster(spec),
        config=config,
    )


def pool_join(infra: InfraSettings, pool_name: str) -> PoolJoin:
    """How the nodes of `pool_name` join the cluster (its cloud-config, the cluster stack's outputs)."""
    cluster = infra.cluster()
    return PoolJoin(render_cloud_config(cluster, cluster.pool(pool_name)), infra.stack_ref(CLUSTER))


def gpu_pool_work(infra: InfraSettings, desired_nodes: int, reason: str, before: int | None = None) -> StackWork:
    """The gpu-pool stack at `desired_nodes`; the Lambda key goes in as secret config.

    The plan records when the size last changed (`nodes_changed_at`, kept while the size stays) and from what
    (`nodes_before_change`: `before`, the size the run started from, else the last plan's).
    """
    pool = infra.specs(desired_nodes=desired_nodes).gpu_pool
    stack = infra.stack(GPU_POOL)
    text = gpu_pool_yaml(pool, reason=reason)
    config = {API_KEY_CONFIG: StackConfigValue(infra.lambda_api_key, secret=True)} if infra.lambda_api_key else {}
    return StackWork(
        component=GPU_POOL,
        stack=stack,
        files={"gpu-pool.yaml": text},
        metadata=pool_metadata(pool, infra.output_dir, stack, reason, before),
        objects={pool.pool_name: text},
        program=gpu_pool_program(pool, api_base_url=infra.lambda_api_base_url, join=pool_join(infra, pool.pool_name)),
        report=validate_gpu_pool(pool),
        config=config,
    )


def k8s_work(
    infra: InfraSettings,
    gpu_nodes: int | None,
    replicas: Mapping[str, int] | None = None,
    warn: Callable[[str], None] | None = None,
) -> StackWork:
    """The k8s stack: TEI sized for `gpu_nodes` (None: the spec's pool size), `replicas` (workload -> count)
    for the workloads named, the last plan's replicas for the others (`infra_assets.replicas`).

    Raises `ReplicaCountError` for replicas outside a workload's bounds, of an unknown or a GPU workload.
    """
    stack = infra.stack(K8S)
    base = infra.specs(desired_nodes=gpu_nodes).k8s
    kept = kept_replicas(base, last_planned_replicas(infra.output_dir, stack), warn or (lambda _: None))
    spec = base.with_replicas({**kept, **(replicas or {})})
    raw = render_manifests(spec)
    manifests, _ = scan_manifests(raw)
    text = manifests_yaml(manifests)
    # The brief's surface: each workload's replicas as stack config `<workload>_replicas` (TEI follows the pool).
    config: dict[str, StackConfigValue] = {
        replicas_key(w.name): StackConfigValue(str(w.replicas)) for w in spec.workloads if not w.on_gpu_pool
    }
    if infra.kubeconfig:
        config[KUBECONFIG_CONFIG] = StackConfigValue(infra.kubeconfig)
    if infra.kube_context:
        config[KUBE_CONTEXT_CONFIG] = StackConfigValue(infra.kube_context)
    kinds = [m["kind"] for m in raw]
    return StackWork(
        component=K8S,
        stack=stack,
        files={"manifests.yaml": text},
        metadata={
            "resources_planned": len(raw),
            "namespaces": kinds.count("Namespace"),
            "deployments": kinds.count("Deployment"),
            "services": kinds.count("Service"),
            "external_secrets": kinds.count("ExternalSecret"),
            "replicas_total": sum(w.replicas for w in spec.workloads),
            "gpu_replicas": sum(w.replicas for w in spec.workloads if w.on_gpu_pool),
            WORKLOAD_REPLICAS: spec.replicas,
        },
        objects={manifest_id(m): manifests_yaml([m]) for m in manifests},
        program=k8s_program(spec, manifests, cluster_stack=infra.stack_ref(CLUSTER)),
        report=validate_k8s(spec, raw),
        config=config,
    )


# ---------------------------------------------------------------- mode, execution, metadata


def current_nodes(infra: InfraSettings, pulumi: PulumiStackResource, log: dg.DagsterLogManager) -> tuple[PoolSize, int]:
    """The pool's current size and the size to plan with (`pool_size.usable_pool_size`), for assets and checks.

    A stale size is logged as a warning; an unreadable gpu-pool stack fails the step, naming the stack.
    """
    try:
        return usable_pool_size(infra, pulumi, log.warning)
    except PoolSizeUnavailable as e:
        raise dg.Failure(description=f"Cannot size the GPU pool: {e}. Nothing was planned or applied.") from None


def refused_size(stack: str, error: NodeCountError) -> dg.Failure:
    """The run failure for an out-of-range pool size: names the allowed range; nothing was written."""
    return dg.Failure(description=f"Refusing to plan stack {stack}: {error}. Nothing was planned or applied.")


def missing_credentials(infra: InfraSettings, pulumi: PulumiStackResource, component: str) -> list[str]:
    """Names of the variables a real run of `component` needs but doesn't have."""
    has_token = bool(getattr(pulumi, "access_token", None))
    missing = missing_backend_credentials(
        backend_url=getattr(pulumi, "backend_url", None),
        secrets_provider=getattr(pulumi, "secrets_provider", None),
        has_access_token=has_token,
        has_passphrase=bool(getattr(pulumi, "config_passphrase", None)),
    )
    if component == ESC and not has_token and "PULUMI_ACCESS_TOKEN" not in missing:
        missing.append("PULUMI_ACCESS_TOKEN")  # the pulumiservice provider always talks to Pulumi Cloud
    return missing + infra.missing_component_credentials(component)


def stack_mode(infra: InfraSettings, pulumi: PulumiStackResource, component: str) -> ModeDecision:
    """The mode this component can run in now (plan fallback when the CLI or a credential is missing)."""
    if infra.requested_mode == "plan":
        return decide_mode("plan", cli_found=False, missing=[])
    missing = missing_credentials(infra, pulumi, component)
    return decide_mode(infra.requested_mode, cli_found=cli_available(), missing=missing)


def secret_redactor(infra: InfraSettings, pulumi: PulumiStackResource, work: StackWork) -> Callable[[str], str]:
    """Redacts every secret value known to the resources and the stack's config."""
    known = [*infra.secret_values(), getattr(pulumi, "access_token", None), getattr(pulumi, "config_passphrase", None)]
    known += [v.value for v in work.config.values() if v.secret]
    return redactor(known)


def run_pulumi(
    pulumi: PulumiStackResource,
    work: StackWork,
    action: str,
    redact: Callable[[str], str],
    log_line: Callable[[str], None],
) -> Any:
    """Call `pulumi.<action>` for the stack; output lines and failures are redacted (no chained traceback)."""
    method = getattr(pulumi, action)
    try:
        return method(
            stack_name=work.stack,
            program=work.program,
            config=dict(work.config),
            on_output=lambda line: log_line(redact(line.rstrip())),
        )
    except (PulumiCliMissingError, StackLockedError):
        raise
    except Exception as e:
        message = redact(str(e))[:4000]
        raise dg.Failure(description=f"pulumi {action} of stack {work.stack} failed: {message}") from None


def run_stack(
    context: dg.AssetExecutionContext, infra: InfraSettings, pulumi: PulumiStackResource, work: StackWork
) -> StackOutcome:
    """Write the plan; preview or apply the stack when the mode allows it; return masked metadata."""
    decision = stack_mode(infra, pulumi, work.component)

    def write(decision: ModeDecision) -> dict[str, Any]:
        summary = {"mode": decision.label, "spec_valid": work.report.passed, **work.metadata}
        return write_plan(infra.output_dir, work.stack, work.files, summary)

    paths = write(decision)  # the plan is written first, whatever happens next
    result = None
    if decision.effective != "plan":
        if not work.report.passed:
            raise dg.Failure(
                description=f"Refusing to {decision.effective} {work.stack}: the spec has "
                f"{len(work.report.findings)} validation finding(s); see the spec_valid check.",
                metadata={"findings": dg.MetadataValue.md(work.report.markdown())},
            )
        action = "preview" if decision.effective == "preview" else "up"
        try:
            result = run_pulumi(pulumi, work, action, secret_redactor(infra, pulumi, work), context.log.info)
        except PulumiCliMissingError:
            decision = ModeDecision(decision.requested, "plan", "pulumi CLI not found when the stack ran")
            paths = write(decision)
        except StackLockedError:
            context.log.warning(f"Stack {work.stack} is locked by another update; retrying later.")
            raise dg.RetryRequested(max_retries=3, seconds_to_wait=120) from None
    if decision.reason:
        context.log.warning(f"{work.stack}: {decision.requested} requested, running plan instead ({decision.reason}).")

    title = (
        "PLAN: rendered desired state, nothing was applied" if result is None else f"{decision.label}: desired state"
    )
    metadata: dict[str, Any] = {
        "mode": decision.label,
        "stack": work.stack,
        **work.metadata,
        "spec_findings": len(work.report.findings),
        "plan_dir": dg.MetadataValue.path(str(paths[next(iter(work.files))].parent)),
        **plan_metadata(title, work.objects, paths),
    }
    outputs: dict[str, Any] = {}
    if result is not None:
        redact = secret_redactor(infra, pulumi, work)
        outputs = masked_outputs(result.outputs, getattr(result, "secret_output_names", ()), redact)
        metadata.update(change_counts(result.change_summary))
        metadata["has_changes"] = bool(result.has_changes)
        metadata["outputs"] = dg.MetadataValue.json(outputs)
    return StackOutcome(decision, metadata, outputs)


# ---------------------------------------------------------------- the assets


class PoolScaleConfig(dg.Config):
    """Run config of a pool asset, `lambda_gpu_pool` or `node_pool/<name>` (what `scale_gpu_pool_job`,
    `scale_node_pool_job` and the pools' sensors set)."""

    desired_nodes: int | None = Field(
        default=None,
        description="Nodes to run, within the pool's min..max (outside it the run fails and nothing is "
        "planned); default: the pool's current size (stack outputs, or the last plan in plan mode), else the "
        "spec's desired.",
    )
    reason: str = Field(default="no size requested", description="Why this size (shown in metadata and the plan).")
    signal: str = Field(default="run config", description="What the size was decided from (the sensor's reading).")
    old_size: int | None = Field(
        default=None, description="The size the decision started from (default: the pool's current size)."
    )


class K8sScaleConfig(dg.Config):
    """Run config of `k8s_deployments` (what `scale_workloads_job` and the TEI sensor set; the CLI `scale` alike)."""

    replicas: dict[str, int] = Field(
        default_factory=dict,
        description="Replicas per workload, e.g. {data-intelligence-mcp: 3}, each within the workload's "
        "min..max (outside it the run fails and nothing is planned). TEI follows the GPU pool and cannot be named; "
        "workloads not named keep their current replicas.",
    )
    reason: str = Field(default="no replicas requested", description="Why (shown in metadata).")
    signal: str = Field(default="run config", description="What the replicas were decided from.")


def decision_metadata(signal: str, old: Any, new: Any, reason: str) -> dict[str, Any]:
    """A scaling decision as materialization metadata: `signal`, `old_size` (when known), `new_size`, `reason`."""
    metadata: dict[str, Any] = {"signal": signal, "new_size": new, "reason": reason}
    if old is not None:
        metadata["old_size"] = old
    return metadata


def known_size(infra: InfraSettings, pulumi: PulumiStackResource, log: dg.DagsterLogManager) -> int | None:
    """The GPU pool's current size for the record, or None when the stack cannot be read (logged)."""
    try:
        return current_pool_size(infra, pulumi).nodes
    except PoolSizeUnavailable as e:
        log.warning(f"old_size unknown: {e}")
        return None


def build_infra_assets(env: str, backlog: BacklogSignal | None = None) -> list[dg.AssetsDefinition]:
    """The four infra stack assets for `env` (stacks `<env>-esc`, `<env>-cluster`, `<env>-gpu-pool`, `<env>-k8s`).

    `backlog` (from the code location) makes the GPU pool depend on the assets reporting the embedding backlog,
    so the lineage shows what sizes it; without it the pool has no upstream.
    """
    esc_stack, cluster_stack, gpu_stack, k8s_stack = (stack_name(env, c) for c in (ESC, CLUSTER, GPU_POOL, K8S))
    sized_by = (
        f" The gpu_backlog_sensor sizes it from the embedding backlog `{backlog.metadata_key}` reported by "
        f"{backlog.names} (upstream in the lineage)."
        if backlog
        else ""
    )

    @dg.asset(
        key=ESC_KEY,
        group_name=GROUP,
        kinds={"pulumi", "yaml"},
        owners=OWNERS,
        pool=stack_pool(esc_stack),
        description=f"Pulumi ESC environment holding every Sophia AI credential as references into the "
        f"GitHub secrets mirror, exported as environment variables (stack `{esc_stack}`).",
    )
    def esc_environment(
        context: dg.AssetExecutionContext, infra: InfraSettings, pulumi: PulumiStackResource
    ) -> dg.MaterializeResult:
        outcome = run_stack(context, infra, pulumi, esc_work(infra))
        return dg.MaterializeResult(metadata=outcome.metadata)

    @dg.asset(
        key=CLUSTER_KEY,
        group_name=GROUP,
        kinds={"pulumi", "kubernetes", "lambda"},
        owners=OWNERS,
        pool=stack_pool(cluster_stack),
        description=f"The Kubernetes cluster the pools join (stack `{cluster_stack}`): a k3s server on a Lambda "
        "instance with generated join/admin tokens, or an existing cluster by kubeconfig (SOPHIA_CLUSTER_SOURCE). "
        "Plans every pool's cloud-config; its kubeconfig and join token are secret outputs (masked here).",
    )
    def k8s_cluster(
        context: dg.AssetExecutionContext, infra: InfraSettings, pulumi: PulumiStackResource
    ) -> dg.MaterializeResult:
        outcome = run_stack(context, infra, pulumi, cluster_work(infra))
        return dg.MaterializeResult(metadata=outcome.metadata)

    @dg.asset(
        key=GPU_POOL_KEY,
        group_name=GROUP,
        kinds={"pulumi", "lambda"},
        owners=OWNERS,
        deps=[CLUSTER_KEY, *(backlog.asset_keys if backlog else ())],
        pool=stack_pool(gpu_stack),
        description=f"Lambda Cloud GPU pool running the embedding server, sized by run config "
        f"`desired_nodes` (set by the backlog sensor) within the spec's bounds (stack `{gpu_stack}`).{sized_by}",
    )
    def lambda_gpu_pool(
        context: dg.AssetExecutionContext,
        config: PoolScaleConfig,
        infra: InfraSettings,
        pulumi: PulumiStackResource,
    ) -> dg.MaterializeResult:
        reason = config.reason
        if config.desired_nodes is not None:
            try:
                requested = desired = infra.specs().gpu_pool.check_nodes(config.desired_nodes)
            except NodeCountError as e:
                raise refused_size(gpu_stack, e) from None
            source = "run config"
            old = config.old_size if config.old_size is not None else known_size(infra, pulumi, context.log)
        else:  # keep the size the pool runs now (the sensor owns the size)
            current, desired = current_nodes(infra, pulumi, context.log)
            requested, source, old = current.nodes, current.source, current.nodes
            reason = f"{reason} (kept the current size, from {current.label})"
        outcome = run_stack(context, infra, pulumi, gpu_pool_work(infra, desired, reason, old))
        metadata = {**outcome.metadata, "requested_nodes": requested, "size_source": source}
        metadata |= decision_metadata(config.signal, old, desired, reason)
        if outcome.decision.effective == "apply" and isinstance(outcome.outputs.get("node_count"), int):
            metadata["node_count"] = outcome.outputs["node_count"]
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset(
        key=K8S_KEY,
        group_name=GROUP,
        kinds={"pulumi", "kubernetes"},
        owners=OWNERS,
        deps=[ESC_KEY, CLUSTER_KEY, GPU_POOL_KEY],
        pool=stack_pool(k8s_stack),
        description=f"Kubernetes namespaces, ESC-synced secrets, Deployments and Services of the MCP servers "
        f"and the GPU embedding server (one TEI replica per node the GPU pool runs now) (stack `{k8s_stack}`). "
        "Run config `replicas` scales the MCP servers (scale_workloads_job); the tei_replicas_sensor re-plans "
        "it when the GPU pool's size changes.",
    )
    def k8s_deployments(
        context: dg.AssetExecutionContext, config: K8sScaleConfig, infra: InfraSettings, pulumi: PulumiStackResource
    ) -> dg.MaterializeResult:
        current, gpu_nodes = current_nodes(infra, pulumi, context.log)
        before = last_planned_replicas(infra.output_dir, k8s_stack)
        try:
            work = k8s_work(infra, gpu_nodes, config.replicas, context.log.warning)
        except ReplicaCountError as e:
            raise dg.Failure(
                description=f"Refusing to plan stack {k8s_stack}: {e}. Nothing was planned or applied."
            ) from None
        after: dict[str, int] = work.metadata[WORKLOAD_REPLICAS]
        changed = [w for w in after if w in config.replicas or before.get(w, after[w]) != after[w]]
        old = {w: before[w] for w in changed if w in before}
        new = {w: after[w] for w in changed}
        outcome = run_stack(context, infra, pulumi, work)
        metadata = {**outcome.metadata, "gpu_nodes_source": current.source}
        metadata |= decision_metadata(config.signal, old, new, config.reason)
        return dg.MaterializeResult(metadata=metadata)

    return [esc_environment, k8s_cluster, lambda_gpu_pool, k8s_deployments]
