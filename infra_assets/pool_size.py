"""The current size of the GPU pool: one reader for the backlog sensor, the assets, the checks and the CLI.

Where the size comes from depends on the mode the infra plane runs in:

- preview/apply: the `desired_nodes` output of the `<env>-gpu-pool` stack (what Pulumi last applied);
  a stack without that output (not created or never applied) runs the spec's default size;
- plan (also the fallback when the Pulumi CLI or the backend's credentials are missing): the last plan
  written for the gpu-pool stack (`<out_dir>/<env>-gpu-pool/plan.json`), else the spec's default.

`changed_at` is when the size last changed: the plan records it (`nodes_changed_at`, kept while the planned
size stays the same). For the stack it is known only when the last plan holds the stack's size; otherwise
(and for the spec's default) it is None. The backlog sensor's scale-down cooldown runs on this clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from infra_assets.programs.gpu_pool import DESIRED_NODES_OUTPUT, gpu_pool_program
from infra_assets.render import PLAN_SUMMARY
from infra_assets.settings import GPU_POOL, InfraSettings, missing_backend_credentials
from infra_assets.specs.gpu_pool import GpuPoolSpec
from resources.pulumi_stack import PulumiCliMissingError, PulumiStackResource

Source = Literal["stack", "plan", "spec"]
SOURCE_LABELS: dict[str, str] = {
    "stack": "the gpu-pool stack's outputs",
    "plan": "the last plan",
    "spec": "the spec's default",
}
DESIRED_NODES = DESIRED_NODES_OUTPUT  # the gpu-pool stack output, also the plan.json / metadata entry
CHANGED_AT = "nodes_changed_at"  # plan.json: epoch seconds when the planned size last changed


class PoolSizeUnavailable(RuntimeError):
    """The gpu-pool stack exists in a mode that reads it, but its outputs could not be read."""


@dataclass(frozen=True, slots=True)
class PoolSize:
    """How many nodes the GPU pool runs (or was last planned at), where that came from, and since when."""

    nodes: int  # as recorded: may lie outside today's bounds if they narrowed since (see `usable`)
    source: Source
    changed_at: float | None = None

    @property
    def label(self) -> str:
        return SOURCE_LABELS[self.source]

    def usable(self, pool: GpuPoolSpec) -> int:
        """The size to plan with: `nodes` within the pool's bounds (nobody asked for a stale size now)."""
        return pool.clamp(self.nodes)

    def stale_warning(self, pool: GpuPoolSpec) -> str | None:
        """What to log when `nodes` is outside the pool's bounds, else None."""
        usable = self.usable(pool)
        if usable == self.nodes:
            return None
        return (
            f"{self.label}: GPU pool size {self.nodes} is outside {pool.pool_name}'s allowed range "
            f"{pool.allowed_range}; using {usable}."
        )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def last_planned_size(out_dir: Path, stack: str) -> PoolSize | None:
    """The size in the last plan of the gpu-pool `stack` under `out_dir`, or None (never planned, unreadable)."""
    try:
        plan = json.loads((out_dir / stack / PLAN_SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    nodes = _count(plan.get(DESIRED_NODES)) if isinstance(plan, dict) else None
    if nodes is None:
        return None
    changed = plan.get(CHANGED_AT)
    changed_at = float(changed) if isinstance(changed, int | float) and not isinstance(changed, bool) else None
    return PoolSize(nodes, "plan", changed_at)


def size_changed_at(out_dir: Path, stack: str, nodes: int, now: float) -> float:
    """When the planned size became `nodes`: the last plan's time while the size stays, else `now`."""
    last = last_planned_size(out_dir, stack)
    if last is not None and last.nodes == nodes and last.changed_at is not None:
        return last.changed_at
    return now


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


def current_pool_size(infra: InfraSettings, pulumi: PulumiStackResource) -> PoolSize:
    """The GPU pool's current size (see the module docstring); `PoolSizeUnavailable` if the stack is unreadable."""
    pool = infra.specs().gpu_pool
    stack = infra.stack(GPU_POOL)
    planned = last_planned_size(infra.output_dir, stack)
    default = PoolSize(pool.desired_nodes, "spec")
    if not _can_read_stack(infra, pulumi):
        return planned or default
    try:
        outputs = pulumi.outputs(stack, gpu_pool_program(pool))
    except PulumiCliMissingError:
        return planned or default  # the assets fall back to plan mode too
    except Exception as e:  # messages of PulumiStackResource are redacted; only the kind is repeated here
        raise PoolSizeUnavailable(f"could not read the outputs of stack {stack} ({type(e).__name__})") from None
    nodes = _count(outputs.get(DESIRED_NODES))
    if nodes is None:
        return default  # no stack yet, or never applied
    changed_at = planned.changed_at if planned is not None and planned.nodes == nodes else None
    return PoolSize(nodes, "stack", changed_at)


def usable_pool_size(
    infra: InfraSettings, pulumi: PulumiStackResource, warn: Callable[[str], None]
) -> tuple[PoolSize, int]:
    """The current size and the size to plan with (within today's bounds; `warn` says when they differ)."""
    size = current_pool_size(infra, pulumi)
    pool = infra.specs().gpu_pool
    if message := size.stale_warning(pool):
        warn(message)
    return size, size.usable(pool)
