"""The cluster's CPU node pools as assets: `node_pool/<pool name>`, one per pool, each its own stack.

Each pool is the stack `<env>-<pool name>`: the same Lambda dynamic provider as the GPU pool (`programs/gpu_pool.py`,
resource `<pool name>`), whose launches pass the pool's filled cloud-config (its nodes join the cluster with the
pool's labels) and whose scale-down drains each node first. The asset sizes the pool to run config `desired_nodes`
(within the pool's bounds; outside them the run fails and nothing is written) or, without one, keeps its current
size (`pool_size.current_node_pool_size`: the stack's outputs, or the last plan in plan mode). Like the other stack
assets it always writes the plan (`<out>/<env>-<pool name>/node-pool.yaml` and `plan.json` with `nodes_changed_at`,
the sensors' cooldown clock), then previews or applies the stack when the mode allows (`assets.run_stack`), and
records the decision (`signal`, `old_size`, `new_size`, `reason`).
"""

import dagster as dg
import yaml

from infra_assets.assets import (
    CLUSTER_KEY,
    GROUP,
    OWNERS,
    PoolScaleConfig,
    StackWork,
    decision_metadata,
    pool_join,
    refused_size,
    run_stack,
)
from infra_assets.pool_size import PoolSize, PoolSizeUnavailable, current_node_pool_size, pool_metadata
from infra_assets.programs.gpu_pool import API_KEY_CONFIG, node_pool_program
from infra_assets.settings import NODE_POOL, InfraSettings, node_pool_plan
from infra_assets.specs.node_pools import NodePoolSpec, build_node_pool_specs
from infra_assets.specs.pools import NodeCountError
from infra_assets.specs.validation import validate_node_pool
from resources.profile import profile
from resources.pulumi_stack import PulumiStackResource, StackConfigValue, stack_pool

NODE_POOL_PREFIX = "node_pool"
NODE_POOL_FILE = "node-pool.yaml"
SCALED_BY_TAG = "sophia/scaled-by"


def node_pool_key(pool: str) -> dg.AssetKey:
    """`node_pool/data-intelligence-pool`."""
    return dg.AssetKey([NODE_POOL_PREFIX, pool])


def scaled_by(pool: NodePoolSpec) -> str:
    """A tag value naming the pool's signals, e.g. `run-queue` or `business-hours`."""
    kinds = [k for k, on in (("run-queue", pool.runs_per_node), ("business-hours", pool.business_hours)) if on]
    return "+".join(kinds) or "none"


def node_pool_yaml(pool: NodePoolSpec, reason: str) -> str:
    """The pool's desired state as YAML."""
    doc = {
        "pool_name": pool.pool_name,
        "instance_type": pool.instance_type,
        "region": pool.region,
        "instance_names": f"{pool.name_prefix}-NNN",
        "nodes": {"min": pool.min_nodes, "desired": pool.desired_nodes, "max": pool.max_nodes},
        "node_labels": dict(pool.labels),
        "scaled_by": pool.describe_signal(),
        "reason": reason,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def node_pool_work(infra: InfraSettings, pool: NodePoolSpec, reason: str, before: int | None = None) -> StackWork:
    """The pool's stack at `pool.desired_nodes`: its plan, its program (joining the cluster), the Lambda key as
    secret config. The plan records when the size last changed and from what (`before`, else the last plan's)."""
    stack = node_pool_plan(infra.env, pool.pool_name)
    text = node_pool_yaml(pool, reason)
    config = {API_KEY_CONFIG: StackConfigValue(infra.lambda_api_key, secret=True)} if infra.lambda_api_key else {}
    return StackWork(
        component=NODE_POOL,
        stack=stack,
        files={NODE_POOL_FILE: text},
        metadata={
            **pool_metadata(pool, infra.output_dir, stack, reason, before),
            "scaled_by": pool.describe_signal(),
        },
        objects={pool.pool_name: text},
        program=node_pool_program(pool, api_base_url=infra.lambda_api_base_url, join=pool_join(infra, pool.pool_name)),
        report=validate_node_pool(pool),
        config=config,
    )


def pool_size_or_fail(infra: InfraSettings, pulumi: PulumiStackResource, pool: NodePoolSpec) -> PoolSize:
    """`current_node_pool_size`, or a run failure naming the stack when its outputs cannot be read."""
    try:
        return current_node_pool_size(infra, pulumi, pool)
    except PoolSizeUnavailable as e:
        raise dg.Failure(description=f"Cannot size node pool {pool.pool_name}: {e}. Nothing was planned.") from None


def build_node_pool_asset(env: str, pool: NodePoolSpec) -> dg.AssetsDefinition:
    """The `node_pool/<name>` asset of one pool of `env` (its bounds and signal as declared for the profile)."""
    name = pool.pool_name
    stack = node_pool_plan(env, name)

    @dg.asset(
        key=node_pool_key(name),
        group_name=GROUP,
        kinds={"pulumi", "lambda", "kubernetes"},
        owners=OWNERS,
        tags={SCALED_BY_TAG: scaled_by(pool)},
        deps=[CLUSTER_KEY],
        pool=stack_pool(stack),  # one run at a time per pool stack (its no_drift check shares it)
        description=f"CPU node pool `{name}` ({pool.instance_type}, {pool.allowed_range} nodes, labels "
        f"{', '.join(f'{k}={v}' for k, v in pool.labels.items())}) on Lambda Cloud (stack `{stack}`): its nodes "
        f"join the cluster on boot and are drained before termination. Sized by {pool.describe_signal()} through "
        "scale_node_pool_job (its sensor sets `desired_nodes`).",
    )
    def node_pool(
        context: dg.AssetExecutionContext,
        config: PoolScaleConfig,
        infra: InfraSettings,
        pulumi: PulumiStackResource,
    ) -> dg.MaterializeResult:
        spec = infra.specs().node_pool(name)
        reason = config.reason
        if config.desired_nodes is not None:
            try:
                desired = spec.check_nodes(config.desired_nodes)
            except NodeCountError as e:
                raise refused_size(stack, e) from None
            old = config.old_size if config.old_size is not None else pool_size_or_fail(infra, pulumi, spec).nodes
        else:  # keep the size the pool runs now (its sensor owns the size)
            current = pool_size_or_fail(infra, pulumi, spec)
            if message := current.stale_warning(spec):
                context.log.warning(message)
            desired, old = current.usable(spec), current.nodes
            reason = f"{reason} (kept the current size, from {current.label})"
        outcome = run_stack(context, infra, pulumi, node_pool_work(infra, spec.with_desired(desired), reason, old))
        metadata = {**outcome.metadata, "node_labels": dict(spec.labels)}
        metadata |= decision_metadata(config.signal, old, desired, reason)
        if outcome.decision.effective == "apply" and isinstance(outcome.outputs.get("node_count"), int):
            metadata["node_count"] = outcome.outputs["node_count"]
        return dg.MaterializeResult(metadata=metadata)

    return node_pool


def build_node_pool_assets(env: str) -> list[dg.AssetsDefinition]:
    """One `node_pool/<name>` asset per CPU pool of the profile `env` names."""
    return [build_node_pool_asset(env, pool) for pool in build_node_pool_specs(profile(env))]
