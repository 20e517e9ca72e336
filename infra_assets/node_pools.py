"""The cluster's CPU node pools as assets: `node_pool/<pool name>`, one per pool, sized by run config.

Each asset plans its pool at the size asked for in run config (`desired_nodes`, within the pool's bounds; outside
them the run fails and nothing is written) or, without one, at its current size (`pool_size.current_node_pool_size`):
it writes `<out>/<env>-<pool name>/node-pool.yaml` and `plan.json` (with `nodes_changed_at`, the sensors'
cooldown clock) and records the decision (`signal`, `old_size`, `new_size`, `reason`). The cluster's join/drain of
real nodes is a later issue: preview and apply run plan instead and say so (`mode: plan (fallback: ...)`).
"""

import time
from typing import Any

import dagster as dg
import yaml
from pydantic import Field

from infra_assets.assets import GROUP, OWNERS, decision_metadata
from infra_assets.pool_size import DESIRED_NODES, current_node_pool_size, size_history
from infra_assets.render import plan_metadata, write_plan
from infra_assets.settings import InfraSettings, ModeDecision, node_pool_plan
from infra_assets.specs.node_pools import NodePoolSpec, build_node_pool_specs
from infra_assets.specs.pools import NodeCountError
from infra_assets.specs.validation import validate_node_pool
from resources.profile import profile

NODE_POOL_PREFIX = "node_pool"
NODE_POOL_FILE = "node-pool.yaml"
SCALED_BY_TAG = "sophia/scaled-by"
NO_CLUSTER = "no cluster provider for node pools yet (a later issue joins and drains nodes)"


def node_pool_key(pool: str) -> dg.AssetKey:
    """`node_pool/data-intelligence-pool`."""
    return dg.AssetKey([NODE_POOL_PREFIX, pool])


def scaled_by(pool: NodePoolSpec) -> str:
    """A tag value naming the pool's signals, e.g. `run-queue` or `business-hours`."""
    kinds = [k for k, on in (("run-queue", pool.runs_per_node), ("business-hours", pool.business_hours)) if on]
    return "+".join(kinds) or "none"


class NodePoolScaleConfig(dg.Config):
    """Run config of a `node_pool/<name>` asset (what `scale_node_pool_job` and the pool's sensor set)."""

    desired_nodes: int | None = Field(
        default=None,
        description="Nodes to run, within the pool's min..max (outside it the run fails and nothing is planned); "
        "default: the pool's current size (its last plan), else the spec's desired.",
    )
    reason: str = Field(default="no size requested", description="Why this size (shown in metadata and the plan).")
    signal: str = Field(default="run config", description="What the size was decided from (the sensor's reading).")
    old_size: int | None = Field(default=None, description="The size the decision started from (default: current).")


def node_pool_mode(infra: InfraSettings) -> ModeDecision:
    """Plan; preview and apply fall back to plan until the cluster has a node-pool provider."""
    requested = infra.requested_mode
    return ModeDecision(requested, "plan", None if requested == "plan" else NO_CLUSTER)


def node_pool_yaml(pool: NodePoolSpec, reason: str) -> str:
    """The pool's desired state as YAML."""
    doc = {
        "pool_name": pool.pool_name,
        "instance_type": pool.instance_type,
        "nodes": {"min": pool.min_nodes, "desired": pool.desired_nodes, "max": pool.max_nodes},
        "node_labels": dict(pool.labels),
        "scaled_by": pool.describe_signal(),
        "reason": reason,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _plan_pool(
    context: dg.AssetExecutionContext, infra: InfraSettings, pool: NodePoolSpec, reason: str, before: int
) -> dict[str, Any]:
    """Write the pool's plan at `pool.desired_nodes`; its metadata (mode, size, bounds, plan files)."""
    report = validate_node_pool(pool)
    if not report.passed:
        raise dg.Failure(
            description=f"Refusing to plan node pool {pool.pool_name}: {len(report.findings)} finding(s).",
            metadata={"findings": dg.MetadataValue.md(report.markdown())},
        )
    decision = node_pool_mode(infra)
    if decision.reason:
        context.log.warning(f"{pool.pool_name}: {decision.requested} requested, running plan ({decision.reason}).")
    plan = node_pool_plan(infra.env, pool.pool_name)
    text = node_pool_yaml(pool, reason)
    facts = {
        "pool_name": pool.pool_name,
        "instance_type": pool.instance_type,
        DESIRED_NODES: pool.desired_nodes,
        "min_nodes": pool.min_nodes,
        "max_nodes": pool.max_nodes,
        "scaled_by": pool.describe_signal(),
        **size_history(infra.output_dir, plan, pool.desired_nodes, time.time(), before),
    }
    paths = write_plan(infra.output_dir, plan, {NODE_POOL_FILE: text}, {"mode": decision.label, **facts})
    title = "PLAN: rendered desired state, nothing was applied"
    return {
        "mode": decision.label,
        **facts,
        "node_labels": dict(pool.labels),
        "plan_dir": dg.MetadataValue.path(str(paths[NODE_POOL_FILE].parent)),
        **plan_metadata(title, {pool.pool_name: text}, paths),
    }


def build_node_pool_asset(env: str, pool: NodePoolSpec) -> dg.AssetsDefinition:
    """The `node_pool/<name>` asset of one pool of `env` (its bounds and signal as declared for the profile)."""
    name = pool.pool_name

    @dg.asset(
        key=node_pool_key(name),
        group_name=GROUP,
        kinds={"kubernetes", "yaml"},
        owners=OWNERS,
        tags={SCALED_BY_TAG: scaled_by(pool)},
        pool=f"{NODE_POOL_PREFIX}/{node_pool_plan(env, name)}",  # one run at a time per pool
        description=f"CPU node pool `{name}` ({pool.instance_type}, {pool.allowed_range} nodes, labels "
        f"{', '.join(f'{k}={v}' for k, v in pool.labels.items())}). Sized by {pool.describe_signal()} through "
        f"scale_node_pool_job (its sensor sets `desired_nodes`). Plan only until the cluster can join and drain "
        "nodes: preview and apply fall back to plan.",
    )
    def node_pool(
        context: dg.AssetExecutionContext, config: NodePoolScaleConfig, infra: InfraSettings
    ) -> dg.MaterializeResult:
        spec = infra.specs().node_pool(name)
        reason = config.reason
        current = current_node_pool_size(infra, spec)
        if config.desired_nodes is not None:
            try:
                desired = spec.check_nodes(config.desired_nodes)
            except NodeCountError as e:
                raise dg.Failure(description=f"Refusing to plan node pool {name}: {e}. Nothing was planned.") from None
            old = config.old_size if config.old_size is not None else current.nodes
        else:  # keep the size the pool runs now (its sensor owns the size)
            if message := current.stale_warning(spec):
                context.log.warning(message)
            desired, old = current.usable(spec), current.nodes
            reason = f"{reason} (kept the current size, from {current.label})"
        metadata = _plan_pool(context, infra, spec.with_desired(desired), reason, old)
        metadata |= decision_metadata(config.signal, old, desired, reason)
        return dg.MaterializeResult(metadata=metadata)

    return node_pool


def build_node_pool_assets(env: str) -> list[dg.AssetsDefinition]:
    """One `node_pool/<name>` asset per CPU pool of the profile `env` names."""
    return [build_node_pool_asset(env, pool) for pool in build_node_pool_specs(profile(env))]
