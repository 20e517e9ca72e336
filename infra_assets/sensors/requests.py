"""What every scaling sensor shares: the skip message, the run tags and the run key of a decision."""

from __future__ import annotations

from infra_assets.autoscaling import Decision
from infra_assets.pool_size import PoolSize

MIN_INTERVAL_S = 60  # every scaling sensor ticks at most once a minute
SCALING_TAG = "sophia/scaling"  # which signal decided: backlog | run-queue | business-hours | gpu-pool
SCALED_TAG = "sophia/scaled"  # what was scaled: the asset key (a pool, or the k8s deployments)
OLD_SIZE_TAG = "sophia/old_size"
NEW_SIZE_TAG = "sophia/new_size"


def keeping(size: PoolSize, decision: Decision, signal: str | None = None) -> str:
    """A non-decision for the UI: the size kept, where it came from, why, and what was read (`signal`)."""
    return f"Keeping {size.nodes} node(s) (from {size.label}): {decision.reason}; {signal or decision.signal}."


def scaling_tags(signal_kind: str, scaled: str, old: int, new: int) -> dict[str, str]:
    """Run tags that make scaling runs searchable (values obey Dagster's tag rules)."""
    safe = "".join(c if c.isalnum() or c in "_.-" else "." for c in scaled)[-63:]
    return {SCALING_TAG: signal_kind, SCALED_TAG: safe, OLD_SIZE_TAG: str(old), NEW_SIZE_TAG: str(new)}


def transition_run_key(subject: str, old: int, new: int, size: PoolSize, now: float, window_s: float) -> str:
    """One request per transition of `subject` from `old` (as last changed) to `new` per `window_s`.

    Ticks before the requested run lands ask for the same key (Dagster launches a key once); the run moves the
    size's clock, so the next decision gets a new key; a run that failed is asked for again in the next window.
    """
    since = "spec" if size.changed_at is None else f"{size.changed_at:.3f}"
    return f"{subject}:{old}->{new}:since-{since}:window-{int(now // max(window_s, MIN_INTERVAL_S))}"
