"""Asset checks of the infra plane, beside the assets they check.

`spec_valid` (always, blocking): the spec the asset just planned passes every rule in
`specs/validation.py`. `no_drift` (apply mode only): `refresh` then `preview` of the stack report no
changes; in plan/preview mode it yields nothing, so the UI shows it as skipped, with the reason logged.
Both build the stack's work as its asset does: each pool and TEI at the pool's current size
(`infra_assets.pool_size`).
"""

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from infra_assets.assets import (
    CLUSTER_KEY,
    ESC_KEY,
    GPU_POOL_KEY,
    K8S_KEY,
    StackWork,
    cluster_work,
    current_nodes,
    esc_work,
    gpu_pool_work,
    k8s_work,
    run_pulumi,
    secret_redactor,
    stack_mode,
)
from infra_assets.node_pools import node_pool_key, node_pool_work, pool_size_or_fail
from infra_assets.render import change_counts
from infra_assets.settings import CLUSTER, ESC, GPU_POOL, K8S, NODE_POOL, InfraSettings, node_pool_plan, stack_name
from infra_assets.specs.node_pools import build_node_pool_specs
from infra_assets.specs.validation import ValidationReport
from resources.profile import profile
from resources.pulumi_stack import PulumiCliMissingError, PulumiStackResource, stack_pool

SPEC_VALID = "spec_valid"
NO_DRIFT = "no_drift"
NO_DRIFT_DESCRIPTION = (
    "Apply mode only: `pulumi refresh` then `pulumi preview` of the stack show no changes (nobody changed the "
    "infrastructure outside Pulumi, and the spec matches what runs). Skipped in plan and preview mode."
)

# Drift is checked once a day, after the nightly quiet hours (by the infra automation condition sensor).
DRIFT_CHECK_CRON = "0 4 * * *"
DRIFT_CHECK_CONDITION = dg.AutomationCondition.on_cron(DRIFT_CHECK_CRON)

WorkBuilder = Callable[[dg.AssetCheckExecutionContext, InfraSettings, PulumiStackResource], StackWork]


def _esc(_: dg.AssetCheckExecutionContext, infra: InfraSettings, __: PulumiStackResource) -> StackWork:
    return esc_work(infra)


def _cluster(_: dg.AssetCheckExecutionContext, infra: InfraSettings, __: PulumiStackResource) -> StackWork:
    return cluster_work(infra)


def _node_pool(name: str) -> WorkBuilder:
    def build(context: dg.AssetCheckExecutionContext, infra: InfraSettings, pulumi: PulumiStackResource) -> StackWork:
        spec = infra.specs().node_pool(name)
        size = pool_size_or_fail(infra, pulumi, spec)
        return node_pool_work(infra, spec.with_desired(size.usable(spec)), "check")

    return build


def _gpu_pool(context: dg.AssetCheckExecutionContext, infra: InfraSettings, pulumi: PulumiStackResource) -> StackWork:
    return gpu_pool_work(infra, current_nodes(infra, pulumi, context.log)[1], "check")


def _k8s(context: dg.AssetCheckExecutionContext, infra: InfraSettings, pulumi: PulumiStackResource) -> StackWork:
    return k8s_work(infra, current_nodes(infra, pulumi, context.log)[1])


def validation_result(report: ValidationReport) -> dg.AssetCheckResult:
    """Findings as counts per rule plus a markdown table (locations only, never values)."""
    metadata: dict[str, Any] = {"findings": len(report.findings), **report.counts}
    for rule in sorted({f.rule for f in report.findings}):
        metadata[f"findings_{rule}"] = report.count(rule)
    metadata["details"] = dg.MetadataValue.md(report.markdown())
    summary = "spec valid" if report.passed else f"{len(report.findings)} finding(s) in {report.subject}"
    return dg.AssetCheckResult(passed=report.passed, metadata=metadata, description=summary)


def _spec_check(key: dg.AssetKey, build: WorkBuilder, rules: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=key, name=SPEC_VALID, blocking=True, description=f"The spec is valid: {rules}")
    def _check(
        context: dg.AssetCheckExecutionContext, infra: InfraSettings, pulumi: PulumiStackResource
    ) -> dg.AssetCheckResult:
        return validation_result(build(context, infra, pulumi).report)

    return _check


def _drift_check(key: dg.AssetKey, component: str, stack: str, build: WorkBuilder) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        name=f"{key.path[-1].replace('-', '_')}_{NO_DRIFT}",
        specs=[
            dg.AssetCheckSpec(
                NO_DRIFT, asset=key, description=NO_DRIFT_DESCRIPTION, automation_condition=DRIFT_CHECK_CONDITION
            )
        ],
        can_subset=True,
        pool=stack_pool(stack),
    )
    def _check(
        context: dg.AssetCheckExecutionContext, infra: InfraSettings, pulumi: PulumiStackResource
    ) -> Iterator[dg.AssetCheckResult]:
        decision = stack_mode(infra, pulumi, component)
        if decision.effective != "apply":
            context.log.info(f"{NO_DRIFT} of {stack} skipped: it runs in apply mode only (mode: {decision.label}).")
            return
        work = build(context, infra, pulumi)
        redact = secret_redactor(infra, pulumi, work)
        try:
            refreshed = run_pulumi(pulumi, work, "refresh", redact, context.log.info)
            previewed = run_pulumi(pulumi, work, "preview", redact, context.log.info)
        except PulumiCliMissingError:
            context.log.info(f"{NO_DRIFT} of {stack} skipped: the pulumi CLI disappeared.")
            return
        refresh_counts = {f"refresh_{k}": v for k, v in change_counts(refreshed.change_summary).items()}
        preview_counts = {f"preview_{k}": v for k, v in change_counts(previewed.change_summary).items()}
        drifted = bool(refreshed.has_changes) or bool(previewed.has_changes)
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=NO_DRIFT,
            passed=not drifted,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={**refresh_counts, **preview_counts, "stack": stack},
            description="drift detected" if drifted else "no drift",
        )

    return _check


RULES = {
    ESC: "no secret literals, every reference resolves, the project's variables are exported.",
    CLUSTER: "k3s pinned by version and checksum, every pool labelled, GPU pools tainted, each cloud-config sound.",
    GPU_POOL: "min <= desired <= max nodes, instance type, region, one SSH key, node labels.",
    NODE_POOL: "min <= desired <= max nodes, a CPU instance type, instance names, an SSH key, a workload-type "
    "label, a scaling signal.",
    K8S: "images pinned, replicas within bounds, GPU placement, secrets only via ESC-synced secretKeyRefs, "
    "no secret literals, manifests valid against the Kubernetes schemas (offline).",
}


def build_infra_checks(env: str) -> list[dg.AssetChecksDefinition]:
    """`spec_valid` and `no_drift` for each infra asset of `env` (the stacks and the CPU node pools)."""
    builders: list[tuple[dg.AssetKey, str, str, WorkBuilder]] = [
        (key, component, stack_name(env, component), build)
        for key, component, build in ((ESC_KEY, ESC, _esc), (CLUSTER_KEY, CLUSTER, _cluster))
    ]
    builders.append((GPU_POOL_KEY, GPU_POOL, stack_name(env, GPU_POOL), _gpu_pool))
    builders += [
        (node_pool_key(p.pool_name), NODE_POOL, node_pool_plan(env, p.pool_name), _node_pool(p.pool_name))
        for p in build_node_pool_specs(profile(env))
    ]
    builders.append((K8S_KEY, K8S, stack_name(env, K8S), _k8s))
    checks: list[dg.AssetChecksDefinition] = []
    for key, component, stack, build in builders:
        checks.append(_spec_check(key, build, RULES[component]))
        checks.append(_drift_check(key, component, stack, build))
    return checks
