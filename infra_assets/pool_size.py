"""The current size of a pool: one reader for the scaling sensors, the assets, the checks and the CLI.

Where the size comes from depends on the mode the infra plane runs in:

- preview/apply: the `desired_nodes` output of the pool's stack (`<env>-gpu-pool`, or `<env>-<pool name>` for a
  CPU node pool: what Pulumi last applied); a stack without that output (not created or never applied) runs the
  spec's default size;
- plan (also the fallback when the Pulumi CLI or the backend's credentials are missing): the last plan
  written for the pool's stack (`<out_dir>/<stack>/plan.json`), else the spec's default.

`changed_at` is when the size last changed: the plan records it (`nodes_changed_at`, kept while the planned
size stays the same), and the size before that change (`nodes_before_change`, so the GPU sensor can count the
nodes still booting). For the stack both are known only when the last plan holds the stack's size; otherwise
(and for the spec's default) they are None. The sensors' cooldowns run on this clock.

`current_pool_size` reads the GPU pool, `current_node_pool_size` a CPU node pool, both through `stack_pool_size`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from infra_assets.programs.gpu_pool import DESIRED_NODES_OUTPUT, gpu_pool_program, node_pool_program
from infra_assets.render import PLAN_SUMMARY
from infra_assets.settings import GPU_POOL, InfraSettings, missing_backend_credentials, node_pool_plan
from infra_assets.specs.gpu_pool import GpuPoolSpec
from infra_assets.specs.node_pools import NodePoolSpec
from resources.pulumi_stack import PulumiCliMissingError, PulumiStackResource

Source = Literal["stack", "plan", "spec"]
SOURCE_LABELS: dict[str, str] = {
    "stack": "the pool stack's outputs",
    "plan": "the last plan",
    "spec": "the spec's default",
}
DESIRED_NODES = DESIRED_NODES_OUTPUT  # a pool stack's output, also the plan.json / metadata entry
CHANGED_AT = "nodes_changed_at"  # plan.json: epoch seconds when the planned size last changed
BEFORE_CHANGE = "nodes_before_change"  # plan.json: the planned size before that change (absent: unknown)


class PoolSizeUnavailable(RuntimeError):
    """A pool's stack exists in a mode that reads it, but its outputs could not be read."""


@dataclass(frozen=True, slots=True)
class PoolSize:
    """How many nodes a pool runs (or was last planned at), where that came from, since when, and before."""

    nodes: int  # as recorded: may lie outside today's bounds if they narrowed since (see `usable`)
    source: Source
    changed_at: float | None = None
    previous: int | None = None  # the size before the change at `changed_at`, when known

    @property
    def label(self) -> str:
        return SOURCE_LABELS[self.source]

    def usable(self, pool: GpuPoolSpec | NodePoolSpec) -> int:
        """The size to plan with: `nodes` within the pool's bounds (nobody asked for a stale size now)."""
        return pool.clamp(self.nodes)

    def stale_warning(self, pool: GpuPoolSpec | NodePoolSpec) -> str | None:
        """What to log when `nodes` is outside the pool's bounds, else None."""
        usable = self.usable(pool)
        if usable == self.nodes:
            return None
        kind = "GPU pool" if isinstance(pool, GpuPoolSpec) else "node pool"
        return (
            f"{self.label}: {kind} size {self.nodes} is outside {pool.pool_name}'s allowed range "
            f"{pool.allowed_range}; using {usable}."
        )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def last_planned_size(out_dir: Path, stack: str) -> PoolSize | None:
    """The size in the last plan of the pool `stack` under `out_dir`, or None (never planned, unreadable)."""
    try:
        plan = json.loads((out_dir / stack / PLAN_SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    nodes = _count(plan.get(DESIRED_NODES)) if isinstance(plan, dict) else None
    if nodes is None:
        return None
    changed = plan.get(CHANGED_AT)
    changed_at = float(changed) if isinstance(changed, int | float) and not isinstance(changed, bool) else None
    return PoolSize(nodes, "plan", changed_at, _count(plan.get(BEFORE_CHANGE)))


def size_changed_at(out_dir: Path, stack: str, nodes: int, now: float) -> float:
    """When the planned size became `nodes`: the last plan's time while the size stays, else `now`."""
    last = last_planned_size(out_dir, stack)
    if last is not None and last.nodes == nodes and last.changed_at is not None:
        return last.changed_at
    return now


def size_history(out_dir: Path, stack: str, nodes: int, now: float, before: int | None = None) -> dict[str, Any]:
    """The plan.json entries saying when the planned size became `nodes` and what it was before, when known.

    While the size stays, both carry over from the last plan; on a change, the size before is `before` (the size
    the run started from, e.g. the stack's) or else the last plan's.
    """
    last = last_planned_size(out_dir, stack)
    history: dict[str, Any] = {CHANGED_AT: size_changed_at(out_dir, stack, nodes, now)}
    if last is not None and last.nodes == nodes:
        previous = last.previous
    else:
        previous = before if before is not None else (last.nodes if last is not None else None)
    if previous is not None:
        history[BEFORE_CHANGE] = previous
    return history


def pool_metadata(
    pool: GpuPoolSpec | NodePoolSpec, out_dir: Path, stack: str, reason: str, before: int | None = None
) -> dict[str, Any]:
    """A pool plan's metadata: its shape, its size and bounds, why, and when the size last changed (`size_history`)."""
    return {
        "pool_name": pool.pool_name,
        "instance_type": pool.instance_type,
        "region": pool.region,
        DESIRED_NODES: pool.desired_nodes,
        "min_nodes": pool.min_nodes,
        "max_nodes": pool.max_nodes,
        "reason": reason,
        **size_history(out_dir, stack, pool.desired_nodes, time.time(), before),
    }


def _can_read_stack(infra: InfraSettings, pulumi: PulumiStackResource) -> bool:
    """Preview/apply was asked for and the state backend's credentials are present."""
    if infra.requested_mode == "plan":
        return False
    missing = missing_backend_credentials(
        backend_url=getattr(pulumi, "backend_url", None),
        secrets_provider=getattr(pulumi, "secrets_provider", None),
        has_access_token=bool(getattr(pulumi, "access_token", None)),
        has_passphrase=bool(getattr(pulumi, "config_passphrase", None)),
    )
    return not missing


def stack_pool_size(
    infra: InfraSettings, pulumi: PulumiStackResource, stack: str, program: Callable[[], None], default: int
) -> PoolSize:
    """The size of the pool run by `stack` (see the module docstring); `PoolSizeUnavailable` if unreadable."""
    planned = last_planned_size(infra.output_dir, stack)
    fallback = PoolSize(default, "spec")
    if not _can_read_stack(infra, pulumi):
        return planned or fallback
    try:
        outputs = pulumi.outputs(stack, program)
    except PulumiCliMissingError:
        return planned or fallback  # the assets fall back to plan mode too
    except Exception as e:  # messages of PulumiStackResource are redacted; only the kind is repeated here
        raise PoolSizeUnavailable(f"could not read the outputs of stack {stack} ({type(e).__name__})") from None
    nodes = _count(outputs.get(DESIRED_NODES))
    if nodes is None:
        return fallback  # no stack yet, or never applied
    if planned is not None and planned.nodes == nodes:
        return PoolSize(nodes, "stack", planned.changed_at, planned.previous)
    return PoolSize(nodes, "stack")


def current_pool_size(infra: InfraSettings, pulumi: PulumiStackResource) -> PoolSize:
    """The GPU pool's current size (stack `<env>-gpu-pool`)."""
    pool = infra.specs().gpu_pool
    return stack_pool_size(infra, pulumi, infra.stack(GPU_POOL), gpu_pool_program(pool), pool.desired_nodes)


def current_node_pool_size(infra: InfraSettings, pulumi: PulumiStackResource, pool: NodePoolSpec) -> PoolSize:
    """A CPU node pool's current size (stack `<env>-<pool name>`)."""
    stack = node_pool_plan(infra.env, pool.pool_name)
    return stack_pool_size(infra, pulumi, stack, node_pool_program(pool), pool.desired_nodes)


def usable_pool_size(
    infra: InfraSettings, pulumi: PulumiStackResource, warn: Callable[[str], None]
) -> tuple[PoolSize, int]:
    """The current size and the size to plan with (within today's bounds; `warn` says when they differ)."""
    size = current_pool_size(infra, pulumi)
    pool = infra.specs().gpu_pool
    if message := size.stale_warning(pool):
        warn(message)
    return size, size.usable(pool)
