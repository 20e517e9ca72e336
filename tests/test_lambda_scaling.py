"""Pure scaling policy of the Lambda GPU pool."""

from __future__ import annotations

import random

import pytest

from infra_assets.lambda_cloud.scaling import (
    PoolInstance,
    ScalingPlan,
    instance_name,
    is_live,
    name_suffix,
    next_sequence,
    order_oldest_first,
    plan_scaling,
)


def inst(iid: str, status: str = "active", launched_at: float | None = None, name: str | None = None):
    return PoolInstance(id=iid, name=name or f"pool-{iid}", status=status, ip=None, launched_at=launched_at)


def test_empty_pool_launches_desired() -> None:
    assert plan_scaling([], 3) == ScalingPlan(launch=3, terminate=[])


def test_at_desired_is_noop_even_while_booting() -> None:
    plan = plan_scaling([inst("a", "booting", 1), inst("b", "active", 2)], 2)
    assert plan.is_noop


def test_scale_up_keeps_every_healthy_instance() -> None:
    plan = plan_scaling([inst("a", "active", 1), inst("b", "booting", 2)], 5)
    assert plan == ScalingPlan(launch=3, terminate=[])


def test_scale_down_terminates_newest_first_by_launched_at() -> None:
    # Names suggest the opposite order: the recorded launch time wins.
    pool = [
        inst("old", launched_at=100.0, name="pool-009"),
        inst("mid", launched_at=200.0, name="pool-001"),
        inst("new", launched_at=300.0, name="pool-005"),
    ]
    assert plan_scaling(pool, 1).terminate == ["new", "mid"]


def test_scale_down_falls_back_to_name_suffix() -> None:
    pool = [inst("c", name="pool-010"), inst("a", name="pool-002"), inst("b", name="pool-003")]
    assert plan_scaling(pool, 1).terminate == ["c", "b"]


def test_unrecorded_launch_time_sorts_as_oldest() -> None:
    pool = [inst("known", launched_at=5.0, name="pool-001"), inst("unknown", name="pool-009")]
    assert plan_scaling(pool, 1).terminate == ["known"]


def test_desired_is_clamped_to_zero() -> None:
    plan = plan_scaling([inst("a", launched_at=1), inst("b", launched_at=2)], -4)
    assert plan == ScalingPlan(launch=0, terminate=["b", "a"])


def test_gone_statuses_are_ignored() -> None:
    pool = [inst("t1", "terminating"), inst("t2", "terminated"), inst("p", "preempted"), inst("a")]
    assert plan_scaling(pool, 2) == ScalingPlan(launch=1, terminate=[])


def test_unhealthy_is_replaced_when_needed_to_reach_desired() -> None:
    pool = [inst("ok", launched_at=1), inst("sick", "unhealthy", launched_at=2)]
    assert plan_scaling(pool, 2) == ScalingPlan(launch=1, terminate=["sick"])


def test_unhealthy_terminated_first_on_scale_down() -> None:
    pool = [inst("a", launched_at=1), inst("b", launched_at=2), inst("sick", "unhealthy", launched_at=0)]
    assert plan_scaling(pool, 1) == ScalingPlan(launch=0, terminate=["sick", "b"])


def test_unhealthy_surplus_at_desired_is_terminated_without_touching_healthy() -> None:
    pool = [inst("a", launched_at=1), inst("b", launched_at=2), inst("sick", "unhealthy", launched_at=3)]
    assert plan_scaling(pool, 2) == ScalingPlan(launch=0, terminate=["sick"])


def test_unknown_status_counts_as_live() -> None:
    assert is_live("rebooting")
    assert plan_scaling([inst("a", "rebooting")], 1).is_noop


@pytest.mark.parametrize("seed", range(200))
def test_invariants_on_random_pools(seed: int) -> None:
    rng = random.Random(seed)
    statuses = ["booting", "active", "unhealthy", "terminating", "terminated", "preempted"]
    pool = [
        inst(f"i{n}", rng.choice(statuses), rng.choice([None, float(rng.randint(0, 50))]), f"pool-{n:03d}")
        for n in range(rng.randint(0, 8))
    ]
    desired = rng.randint(-1, 8)
    plan = plan_scaling(pool, desired)
    live = [i for i in pool if i.status in ("booting", "active")]
    sick = [i.id for i in pool if i.status == "unhealthy"]
    kept_live = [i for i in live if i.id not in plan.terminate]
    assert len(kept_live) + plan.launch == max(0, desired)
    assert set(sick) <= set(plan.terminate)
    assert not any(i.status in ("terminating", "terminated", "preempted") for i in pool if i.id in plan.terminate)
    if len(live) <= max(0, desired):  # healthy instances are only ever removed on scale-down
        assert kept_live == live
    else:
        ordered = [i.id for i in order_oldest_first(live)]
        assert [i.id for i in order_oldest_first(kept_live)] == ordered[: max(0, desired)]


def test_instance_name_and_suffix() -> None:
    assert instance_name("train", 7) == "train-007"
    assert instance_name("train", 1234) == "train-1234"
    assert name_suffix("train-007") == 7
    assert name_suffix("train-007", "train") == 7
    assert name_suffix("train-x-007", "train") is None
    assert name_suffix("other-007", "train") is None
    assert name_suffix(None) is None
    assert next_sequence(["train-001", "train-004", "x-009", None], "train") == 5
    assert next_sequence([], "train") == 1


@pytest.mark.parametrize(("prefix", "n"), [("", 1), ("p", -1), ("p" * 61, 1)])
def test_instance_name_rejects_bad_input(prefix: str, n: int) -> None:
    with pytest.raises(ValueError):
        instance_name(prefix, n)
