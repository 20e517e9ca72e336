"""How many replicas each Kubernetes workload runs now: the one reader for the k8s asset, its checks and the CLI.

Every k8s plan records `workload_replicas` (workload -> replicas) in its `plan.json`, in every mode (the plan is
written before each preview or `up`); a workload asked for another count (run config `replicas`, `python -m
infra_assets scale`) keeps it until asked again, so a later plan without one never undoes a scaling. A workload
the last plan does not name starts at its spec's count (the profile's `mcp_replicas`). A workload on the GPU pool
(TEI) is not kept: it runs one replica per GPU node of the pool's current size.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from infra_assets.render import PLAN_SUMMARY
from infra_assets.specs.k8s import K8sSpec

WORKLOAD_REPLICAS = "workload_replicas"  # plan.json / metadata entry of the k8s stack


def last_planned_replicas(out_dir: Path, stack: str) -> dict[str, int]:
    """Replicas per workload in the last k8s plan of `stack` (empty: never planned, or unreadable)."""
    try:
        plan = json.loads((out_dir / stack / PLAN_SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    recorded = plan.get(WORKLOAD_REPLICAS) if isinstance(plan, dict) else None
    if not isinstance(recorded, dict):
        return {}
    return {k: v for k, v in recorded.items() if isinstance(v, int) and not isinstance(v, bool)}


def kept_replicas(spec: K8sSpec, recorded: dict[str, int], warn: Callable[[str], None]) -> dict[str, int]:
    """The recorded count of each workload not on the GPU pool, within its bounds (`warn` when clamped)."""
    kept: dict[str, int] = {}
    for w in spec.workloads:
        if w.on_gpu_pool or w.name not in recorded:
            continue
        kept[w.name] = w.clamp(recorded[w.name])
        if kept[w.name] != recorded[w.name]:
            warn(
                f"the last k8s plan: {w.name} replicas {recorded[w.name]} is outside its allowed range "
                f"{w.allowed_range}; using {kept[w.name]}."
            )
    return kept
