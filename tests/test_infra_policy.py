"""Pure tests of the GPU pool's scaling wiring (spec + profile -> policy) and the mode / stack-name rules.

The GPU pool runs the pure policy of `infra_assets.autoscaling` (its own property tests: test_autoscaling_policies.py)
with the spec's throughput, boot time and steps and the profile's cooldowns: production plans 300 chunks/s per
node over a 1,200 s drain target, so a ready node clears 360,000 chunks and a node asked for now (600 s boot)
180,000.
"""

from __future__ import annotations

import dataclasses

import pytest

from infra_assets.autoscaling import Decision, GpuSignal, gpu_demand
from infra_assets.pool_size import PoolSize
from infra_assets.scaling import booting_s_left, gpu_decision, gpu_throughput, pool_policy
from infra_assets.settings import decide_mode, missing_backend_credentials, parse_stack_name, stack_name
from infra_assets.specs.gpu_pool import build_gpu_pool_spec
from resources.profile import PoolBounds, profile

PROD = dataclasses.replace(profile("production"), gpu_pool=PoolBounds(0, 4, 1))  # the cases assume a 0..4 pool
POOL = build_gpu_pool_spec(PROD)
NOW = 1_000_000.0


def _size(nodes: int, since: float | None = None, previous: int | None = None) -> PoolSize:
    """A pool of `nodes` whose size changed `since` seconds ago (None: unknown), from `previous` nodes."""
    return PoolSize(nodes, "plan", None if since is None else NOW - since, previous)


def _decide(backlog: int, current: int, since: float | None, previous: int | None = None) -> Decision:
    return gpu_decision(PROD, POOL, _size(current, since, previous), backlog, NOW)


def test_policy_from_pool_spec_and_profile() -> None:
    policy = pool_policy(PROD, POOL)
    assert (policy.min_nodes, policy.max_nodes, policy.max_step_up, policy.max_step_down) == (0, 4, 2, 1)
    assert (policy.up_cooldown_s, policy.down_cooldown_s, policy.boot_time_s) == (120, 900, 600)
    assert gpu_throughput(POOL).chunks_per_node == 360_000


@pytest.mark.parametrize(("backlog", "nodes"), [(0, 0), (1, 1), (180_000, 1), (180_001, 2), (10**9, 4)])
def test_target_is_bounded(backlog: int, nodes: int) -> None:
    policy = pool_policy(PROD, POOL)
    demand = gpu_demand(policy, gpu_throughput(POOL), GpuSignal(backlog, ready_nodes=0))
    assert policy.clamp(demand.up_to, has_work=demand.has_work) == nodes


def test_scale_up_waits_for_the_up_cooldown_and_the_step_limit() -> None:
    held = _decide(1_000_000, current=1, since=60)  # 1 ready node: 640k more need 4 new nodes (capped at max)
    assert not held.changed and "scale-up cooldown 1 min left" in held.reason
    grown = _decide(1_000_000, current=1, since=121)
    assert grown.changed and grown.new_size == 3 and "step limit 2" in grown.reason
    assert _decide(1_000_000, current=1, since=None).new_size == 3  # an unknown last change holds nothing


def test_booting_nodes_count_as_capacity_to_come() -> None:
    # 3 nodes asked for 60 s ago (from 1): 2 boot for 540 s more, so 360k + 2 x 300/s x 660 s = 756k ahead.
    assert booting_s_left(_size(3, 60, previous=1), POOL.boot_time_s, NOW) == (540.0, 540.0)
    held = _decide(700_000, current=3, since=600, previous=1)
    assert not held.changed and "within band" in held.reason  # booting over: 3 x 360k clears it
    still = _decide(750_000, current=3, since=200, previous=1)
    assert not still.changed  # the booting nodes' capacity counts: no growth while they boot
    # 1M: 360k ready + 480k booting fall short by 160k: one more node; counted as ready (previous size unknown),
    # the same 3 nodes would clear it.
    assert _decide(1_000_000, current=3, since=200, previous=1).new_size == 4
    assert not _decide(1_000_000, current=3, since=200, previous=None).changed


def test_hysteresis_keeps_the_pool_near_a_threshold() -> None:
    # 3 nodes; 2 would suffice for 600k (2 x 360k), but 600k fills 2 nodes beyond 75%: hold.
    decision = _decide(600_000, current=3, since=10_000)
    assert not decision.changed and decision.new_size == 3 and "within band" in decision.reason


def test_cooldown_holds_scale_down_then_releases_one_step() -> None:
    held = _decide(0, current=3, since=60)
    assert not held.changed and "scale-down cooldown 14 min left" in held.reason
    released = _decide(0, current=3, since=901)
    assert released.changed and released.new_size == 2 and "step limit 1" in released.reason


def test_unchanged_backlog_is_not_a_change() -> None:
    assert not _decide(500_000, current=2, since=None).changed


def test_out_of_bounds_current_is_corrected() -> None:
    decision = _decide(0, current=9, since=None)
    assert decision.changed and decision.new_size == 4


def test_a_negative_reading_counts_as_no_backlog() -> None:
    assert _decide(-10, current=1, since=None).new_size == 0


@pytest.mark.parametrize(
    ("requested", "cli", "missing", "effective", "label"),
    [
        ("plan", False, ["X"], "plan", "plan"),
        ("apply", True, [], "apply", "apply"),
        ("preview", False, [], "plan", "plan (fallback: pulumi CLI not found on PATH)"),
        ("apply", True, ["LAMBDA_API_KEY"], "plan", "plan (fallback: missing credentials: LAMBDA_API_KEY)"),
    ],
)
def test_decide_mode(requested: str, cli: bool, missing: list[str], effective: str, label: str) -> None:
    decision = decide_mode(requested, cli_found=cli, missing=missing)
    assert (decision.effective, decision.label) == (effective, label)


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown infra mode"):
        decide_mode("destroy", cli_found=True, missing=[])


def test_backend_credentials() -> None:
    cloud = {"backend_url": None, "secrets_provider": None}
    assert missing_backend_credentials(**cloud, has_access_token=False, has_passphrase=True) == ["PULUMI_ACCESS_TOKEN"]
    diy = {"backend_url": "file:///tmp/state", "has_access_token": False}
    assert missing_backend_credentials(**diy, secrets_provider=None, has_passphrase=False) == [
        "PULUMI_CONFIG_PASSPHRASE"
    ]
    assert missing_backend_credentials(**diy, secrets_provider="awskms://alias/x", has_passphrase=False) == []


def test_stack_names_round_trip() -> None:
    assert stack_name("production", "gpu-pool") == "production-gpu-pool"
    assert parse_stack_name("production-gpu-pool") == ("production", "gpu-pool")
    assert parse_stack_name("my-env-k8s") == ("my-env", "k8s")
    with pytest.raises(ValueError):
        parse_stack_name("production-db")
