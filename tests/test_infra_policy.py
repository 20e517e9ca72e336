"""Pure tests of the GPU scaling policy and the mode / stack-name rules."""

from __future__ import annotations

import pytest

from infra_assets.scaling_policy import ScalingPolicy, decide
from infra_assets.settings import decide_mode, missing_backend_credentials, parse_stack_name, stack_name
from infra_assets.specs.gpu_pool import build_gpu_pool_spec
from resources.profile import profile

POLICY = ScalingPolicy(min_nodes=0, max_nodes=4, backlog_per_node=50_000, cooldown_s=900)


def test_policy_from_pool_spec() -> None:
    pool = build_gpu_pool_spec(profile("production"))
    policy = ScalingPolicy.for_pool(pool, cooldown_s=profile("production").scale_down_cooldown_s)
    assert (policy.min_nodes, policy.max_nodes, policy.backlog_per_node) == (0, 4, 50_000)


@pytest.mark.parametrize(("backlog", "nodes"), [(0, 0), (1, 1), (50_000, 1), (50_001, 2), (10**9, 4)])
def test_target_is_bounded(backlog: int, nodes: int) -> None:
    assert POLICY.target(backlog) == nodes


def test_scale_up_is_immediate() -> None:
    decision = decide(POLICY, backlog=120_000, current=1, seconds_since_change=1)
    assert decision.changed and decision.desired_nodes == 3


def test_hysteresis_keeps_the_pool_near_a_threshold() -> None:
    # 3 nodes; 2 would suffice for 90k, but 90k is above half of 2 nodes' capacity: hold.
    decision = decide(POLICY, backlog=90_000, current=3, seconds_since_change=10_000)
    assert not decision.changed and decision.desired_nodes == 3 and "hysteresis" in decision.reason


def test_cooldown_holds_scale_down_then_releases() -> None:
    held = decide(POLICY, backlog=0, current=3, seconds_since_change=60)
    assert not held.changed and "cooldown" in held.reason
    released = decide(POLICY, backlog=0, current=3, seconds_since_change=901)
    assert released.changed and released.desired_nodes == 0


def test_unchanged_backlog_is_not_a_change() -> None:
    assert not decide(POLICY, backlog=100_000, current=2, seconds_since_change=None).changed


def test_out_of_bounds_current_is_corrected() -> None:
    decision = decide(POLICY, backlog=0, current=9, seconds_since_change=None)
    assert decision.changed and decision.desired_nodes == 4


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
