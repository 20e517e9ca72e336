"""Property tests of the pure autoscaling policies (infra_assets.autoscaling), plus the wording of their reasons."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra_assets.autoscaling import (
    TEI_WORKLOAD,
    BusinessHours,
    Demand,
    GpuSignal,
    GpuThroughput,
    PoolPolicy,
    ReplicaBounds,
    RunQueue,
    combine,
    cpu_demand,
    decide,
    follow_gpu_pool,
    gpu_demand,
    queue_demand,
    replicas_for,
    scale_workloads,
    schedule_demand,
)

PROPERTY = settings(max_examples=150, deadline=None)


@st.composite
def policies(draw: st.DrawFn, max_boot_s: int = 900) -> PoolPolicy:
    low = draw(st.integers(0, 4))
    return PoolPolicy(
        min_nodes=low,
        max_nodes=draw(st.integers(max(low, 1), 8)),
        max_step_up=draw(st.integers(1, 3)),
        max_step_down=draw(st.integers(1, 3)),
        up_cooldown_s=draw(st.integers(0, 600)),
        down_cooldown_s=draw(st.integers(0, 1800)),
        scale_down_fraction=draw(st.sampled_from([0.3, 0.5, 0.7, 0.75, 0.9, 1.0])),
        boot_time_s=draw(st.integers(0, max_boot_s)),
    )


@st.composite
def demands(draw: st.DrawFn) -> Demand:
    up_to = draw(st.integers(0, 12))
    return Demand("test signal", up_to=up_to, down_to=up_to + draw(st.integers(0, 6)), has_work=draw(st.booleans()))


sizes = st.integers(0, 12)
ages = st.none() | st.floats(0, 4000, allow_nan=False)


@st.composite
def in_bounds(draw: st.DrawFn) -> tuple[PoolPolicy, Demand, int]:
    """A policy, a demand and a current size the policy allows (so steps and cooldowns apply)."""
    policy, demand = draw(policies()), draw(demands())
    return policy, demand, draw(st.integers(policy.floor(demand.has_work), policy.max_nodes))


# --- decide: the generic invariants --------------------------------------------------------------------------


@PROPERTY
@given(policies(), demands(), sizes, ages)
def test_never_outside_bounds_and_never_empty_while_work_is_queued(
    policy: PoolPolicy, demand: Demand, current: int, age: float | None
) -> None:
    d = decide(policy, demand, current=current, since_change_s=age)
    assert policy.min_nodes <= d.new_size <= policy.max_nodes
    if demand.has_work:
        assert d.new_size >= 1
    assert (d.old_size, d.signal, d.changed) == (current, demand.signal, d.new_size != current)
    assert d.reason


@PROPERTY
@given(in_bounds(), ages)
def test_at_most_one_step_per_decision(case: tuple[PoolPolicy, Demand, int], age: float | None) -> None:
    policy, demand, current = case
    d = decide(policy, demand, current=current, since_change_s=age)
    assert current - policy.max_step_down <= d.new_size <= current + policy.max_step_up


@PROPERTY
@given(in_bounds(), st.floats(0, 4000, allow_nan=False))
def test_separate_up_and_down_cooldowns(case: tuple[PoolPolicy, Demand, int], age: float) -> None:
    policy, demand, current = case
    d = decide(policy, demand, current=current, since_change_s=age)
    if age < policy.up_cooldown_s:
        assert d.new_size <= current
    if age < policy.down_cooldown_s:
        assert d.new_size >= current
    if d.new_size > current:
        assert age >= policy.up_cooldown_s
    if d.new_size < current:
        assert age >= policy.down_cooldown_s


@PROPERTY
@given(in_bounds(), ages)
def test_hysteresis_grows_only_for_need_and_shrinks_only_to_clearly_enough(
    case: tuple[PoolPolicy, Demand, int], age: float | None
) -> None:
    policy, demand, current = case
    d = decide(policy, demand, current=current, since_change_s=age)
    if d.new_size > current:
        assert demand.up_to > current
        assert d.new_size <= max(demand.up_to, policy.floor(demand.has_work))  # never past the need
    if d.new_size < current:
        assert demand.down_to < current
        assert d.new_size >= demand.down_to  # the smaller pool is still clearly enough
    if demand.up_to <= current <= demand.down_to:  # inside the band: nothing moves
        assert not d.changed


@PROPERTY
@given(policies(), demands(), sizes)
def test_a_steady_signal_settles_monotonically_without_flapping(policy: PoolPolicy, demand: Demand, start: int) -> None:
    size, seen = start, [start]
    for _ in range(30):
        size = decide(policy, demand, current=size, since_change_s=None).new_size
        seen.append(size)
    moves = [b - a for a, b in itertools.pairwise(seen) if b != a]
    assert all(m > 0 for m in moves) or all(m < 0 for m in moves)
    settled = decide(policy, demand, current=size, since_change_s=None)
    assert not settled.changed


def test_policy_rejects_impossible_settings() -> None:
    for bad in (
        {"min_nodes": 3, "max_nodes": 2},
        {"min_nodes": 0, "max_nodes": 0},
        {"min_nodes": 0, "max_nodes": 2, "max_step_up": 0},
        {"min_nodes": 0, "max_nodes": 2, "scale_down_fraction": 0},
        {"min_nodes": 0, "max_nodes": 2, "down_cooldown_s": -1},
    ):
        with pytest.raises(ValueError):
            PoolPolicy(**bad)


# --- GPU pool: backlog, throughput per node, boot time ----------------------------------------------------------


@st.composite
def gpu_cases(draw: st.DrawFn) -> tuple[PoolPolicy, GpuThroughput, GpuSignal]:
    policy = draw(policies(max_boot_s=1200))
    throughput = GpuThroughput(draw(st.integers(50, 2000)), draw(st.integers(policy.boot_time_s + 60, 3600)))
    booting = draw(st.lists(st.integers(0, int(policy.boot_time_s)), max_size=4))
    signal = GpuSignal(
        backlog=draw(st.integers(0, 10_000_000)),
        ready_nodes=draw(st.integers(0, 6)),
        booting_s_left=tuple(float(b) for b in booting),
        arrival_per_s=float(draw(st.integers(0, 5000))),
    )
    return policy, throughput, signal


def supply(throughput: GpuThroughput, lefts: list[float]) -> float:
    """Chunks the nodes (seconds until each embeds) embed within the drain target."""
    h, rate = throughput.drain_target_s, throughput.chunks_per_s_per_node
    return sum(rate * max(0.0, h - left) for left in lefts)


@PROPERTY
@given(gpu_cases())
def test_gpu_demand_meets_the_backlog_with_the_fewest_nodes(case: tuple[PoolPolicy, GpuThroughput, GpuSignal]) -> None:
    policy, throughput, signal = case
    demand = gpu_demand(policy, throughput, signal)
    need = signal.backlog + signal.arrival_per_s * throughput.drain_target_s
    lefts = [0.0] * signal.ready_nodes + list(signal.booting_s_left)
    assert demand.has_work == (signal.backlog > 0)
    if signal.backlog > 0:
        assert demand.up_to >= 1
    if demand.up_to > signal.nodes:  # grow: the new nodes (booting from now) close the gap, one fewer would not
        new = [policy.boot_time_s] * (demand.up_to - signal.nodes)
        assert supply(throughput, lefts + new) >= need - 1e-6
        assert supply(throughput, lefts + new[1:]) < need
    else:  # no growth: the pool as asked for already meets the need
        assert supply(throughput, lefts) >= need - 1e-6
    # hysteresis: the 'clearly enough' size, once ready, is filled to at most scale_down_fraction
    assert demand.down_to * throughput.chunks_per_node * policy.scale_down_fraction >= need * (1 - 1e-9)
    assert demand.down_to >= demand.up_to


@PROPERTY
@given(gpu_cases(), st.sampled_from([30, 60, 120]))
def test_gpu_booting_nodes_count_as_capacity_so_the_pool_does_not_overscale(
    case: tuple[PoolPolicy, GpuThroughput, GpuSignal], dt: int
) -> None:
    """Size the pool now; `dt` seconds later, with arrivals as measured, the nodes still booting suffice."""
    policy, throughput, signal = case
    rate = throughput.chunks_per_s_per_node
    size = max(gpu_demand(policy, throughput, signal).up_to, signal.nodes)
    lefts = [0.0] * signal.ready_nodes + list(signal.booting_s_left)
    lefts += [policy.boot_time_s] * (size - signal.nodes)
    embedded = sum(rate * max(0.0, dt - left) for left in lefts)  # each node embeds once it is ready
    later = GpuSignal(
        backlog=max(0, round(signal.backlog + signal.arrival_per_s * dt - embedded)),
        ready_nodes=sum(1 for left in lefts if left <= dt),
        booting_s_left=tuple(left - dt for left in lefts if left > dt),
        arrival_per_s=signal.arrival_per_s,
    )
    assert gpu_demand(policy, throughput, later).up_to <= size


def test_gpu_counts_booting_nodes_unlike_a_pool_that_ignores_them() -> None:
    policy = PoolPolicy(0, 8, boot_time_s=600)
    throughput = GpuThroughput(chunks_per_s_per_node=300, drain_target_s=1200)
    start = GpuSignal(backlog=300_000, ready_nodes=1, arrival_per_s=500)
    assert gpu_demand(policy, throughput, start).up_to == 4  # 3 more nodes asked for
    # 5 minutes on, the backlog grew by what the one ready node could not absorb: the 3 booting nodes cover it.
    booting = GpuSignal(backlog=360_000, ready_nodes=1, booting_s_left=(300.0,) * 3, arrival_per_s=500)
    assert gpu_demand(policy, throughput, booting).up_to == 3
    blind = GpuSignal(backlog=360_000, ready_nodes=1, arrival_per_s=500)  # the same pool, boots not counted
    assert gpu_demand(policy, throughput, blind).up_to == 5


def test_gpu_pool_grows_to_max_when_new_nodes_cannot_boot_within_the_drain_target() -> None:
    policy = PoolPolicy(0, 4, boot_time_s=1200)
    demand = gpu_demand(policy, GpuThroughput(300, 600), GpuSignal(backlog=1_000_000, ready_nodes=1))
    assert demand.up_to == 4


# --- CPU pools: run queue and business hours ----------------------------------------------------------------------

# data-intelligence-pool (cpu_4x_large) and business-intelligence-pool (cpu_8x_large) both run 1-2 nodes
DATA_POOL = BI_POOL = PoolPolicy(1, 2, up_cooldown_s=60, down_cooldown_s=600, boot_time_s=180)


@PROPERTY
@given(policies(), st.integers(0, 60), st.integers(0, 60), st.integers(1, 8))
def test_queue_demand_fits_every_run_pod(policy: PoolPolicy, queued: int, running: int, per_node: int) -> None:
    demand = queue_demand(policy, RunQueue(queued, running), per_node)
    pods = queued + running
    assert demand.up_to * per_node >= pods > (demand.up_to - 1) * per_node or pods == demand.up_to == 0
    assert demand.down_to * per_node * policy.scale_down_fraction >= pods - 1e-9
    assert demand.has_work == (pods > 0)
    d = decide(policy, demand, current=0, since_change_s=0)
    assert d.new_size >= (1 if pods else 0)


@PROPERTY
@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.integers(-12, 12),
)
def test_business_hours_read_utc_whatever_the_timezone(at: datetime, offset_h: int) -> None:
    hours = BusinessHours()
    local = at.astimezone(timezone(timedelta(hours=offset_h)))
    assert hours.contains(local) == hours.contains(at) == (at.weekday() < 5 and 8 <= at.hour < 20)
    demand = schedule_demand(BI_POOL, hours, local)
    assert demand.up_to == demand.down_to == (BI_POOL.max_nodes if hours.contains(at) else hours.off_hours_nodes)


@PROPERTY
@given(policies(), st.integers(0, 30), st.integers(0, 30), st.datetimes(timezones=st.just(UTC)))
def test_cpu_demand_is_the_larger_of_queue_and_schedule(
    policy: PoolPolicy, queued: int, running: int, at: datetime
) -> None:
    queue, hours = RunQueue(queued, running), BusinessHours()
    both = cpu_demand(policy, queue, 3, hours, at)
    by_queue, by_clock = queue_demand(policy, queue, 3), schedule_demand(policy, hours, at)
    assert both == combine(by_queue, by_clock)
    assert both.up_to == max(by_queue.up_to, by_clock.up_to) and both.has_work == by_queue.has_work


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        (datetime(2026, 12, 7, 8, 0, tzinfo=UTC), True),  # Monday 08:00
        (datetime(2026, 12, 7, 7, 59, tzinfo=UTC), False),
        (datetime(2026, 12, 11, 19, 59, tzinfo=UTC), True),  # Friday
        (datetime(2026, 12, 11, 20, 0, tzinfo=UTC), False),
        (datetime(2026, 12, 12, 12, 0, tzinfo=UTC), False),  # Saturday noon
        (datetime(2026, 12, 7, 9, 30, tzinfo=timezone(timedelta(hours=2))), False),  # 07:30 UTC
    ],
)
def test_business_hours_window(at: datetime, inside: bool) -> None:
    assert BusinessHours().contains(at) is inside


def test_business_hours_refuse_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        BusinessHours().contains(datetime(2026, 12, 7, 9))


def test_bi_pool_follows_business_hours_and_the_data_pool_follows_its_queue() -> None:
    morning = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    bi = decide(
        BI_POOL, cpu_demand(BI_POOL, RunQueue(0, 0), 2, BusinessHours(), morning), current=1, since_change_s=None
    )
    assert (bi.new_size, bi.changed) == (2, True) and "inside business hours" in bi.signal
    data = decide(DATA_POOL, cpu_demand(DATA_POOL, RunQueue(4, 2), 3), current=1, since_change_s=None)
    assert data.new_size == 2 and data.signal == "4 queued + 2 running runs (3/node)"


# --- workload replicas -----------------------------------------------------------------------------------------------

replica_bounds = st.integers(0, 5).flatmap(lambda lo: st.builds(ReplicaBounds, st.just(lo), st.integers(lo, 12)))
factors = st.floats(0, 5, allow_nan=False)


@PROPERTY
@given(st.integers(0, 15), factors, factors, replica_bounds)
def test_replicas_scale_monotonically_within_bounds(current: int, f1: float, f2: float, bounds: ReplicaBounds) -> None:
    lo, hi = sorted((f1, f2))
    r_lo = replicas_for("data-intelligence-mcp", bounds, current=current, factor=lo)
    r_hi = replicas_for("data-intelligence-mcp", bounds, current=current, factor=hi)
    assert bounds.min_replicas <= r_lo <= r_hi <= bounds.max_replicas
    kept = bounds.clamp(current)
    assert replicas_for("data-intelligence-mcp", bounds, current=current, factor=1.0) == kept
    if hi >= 1:
        assert r_hi >= kept
    if lo <= 1:
        assert r_lo <= kept


@PROPERTY
@given(
    st.dictionaries(st.sampled_from(["a-mcp_replicas", "b-mcp_replicas"]), st.integers(0, 9)), factors, replica_bounds
)
def test_scale_workloads_changes_only_the_named_workload(
    current: dict[str, int], factor: float, bounds: ReplicaBounds
) -> None:
    before = dict(current)
    after = scale_workloads(current, "a-mcp", factor, bounds)
    assert current == before  # pure: the input is not touched
    assert {k: v for k, v in after.items() if k != "a-mcp_replicas"} == {
        k: v for k, v in before.items() if k != "a-mcp_replicas"
    }
    assert bounds.min_replicas <= after["a-mcp_replicas"] <= bounds.max_replicas


@PROPERTY
@given(st.integers(0, 12), replica_bounds)
def test_tei_runs_one_replica_per_gpu_node(nodes: int, bounds: ReplicaBounds) -> None:
    after = follow_gpu_pool({"data-intelligence-mcp_replicas": 2}, nodes, bounds)
    assert after == {"data-intelligence-mcp_replicas": 2, f"{TEI_WORKLOAD}_replicas": bounds.clamp(nodes)}


def test_tei_replicas_do_not_take_a_factor() -> None:
    with pytest.raises(ValueError, match="follow the GPU pool"):
        scale_workloads({}, TEI_WORKLOAD, 2.0, ReplicaBounds(0, 4))
    with pytest.raises(ValueError, match="gpu_nodes"):
        replicas_for(TEI_WORKLOAD, ReplicaBounds(0, 4), factor=2.0)


def test_mcp_replicas_round_up() -> None:
    bounds = ReplicaBounds(1, 6)
    assert scale_workloads({"data-intelligence-mcp_replicas": 3}, "data-intelligence-mcp", 1.5, bounds) == {
        "data-intelligence-mcp_replicas": 5
    }
    assert scale_workloads({}, "business-intelligence-mcp", 10, bounds) == {"business-intelligence-mcp_replicas": 6}


# --- the reasons a human reads ---------------------------------------------------------------------------------------

POOL = PoolPolicy(0, 4, max_step_up=2, max_step_down=1, up_cooldown_s=120, down_cooldown_s=900)


def reason(up_to: int, down_to: int, current: int, age: float | None, has_work: bool = True) -> str:
    return decide(POOL, Demand("sig", up_to, down_to, has_work), current=current, since_change_s=age).reason


def test_reasons_say_why_nothing_happened() -> None:
    assert reason(0, 0, 3, 660) == "scale-down cooldown 4 min left (enough: 1)"
    assert reason(4, 4, 2, 75) == "scale-up cooldown 45 s left (needs 4)"
    assert reason(6, 6, 4, None) == "at max (4 nodes; needs 6)"
    assert reason(2, 3, 3, None) == "within band (needs 2, clearly enough at 3, runs 3)"
    assert reason(0, 0, 1, None) == "work is queued (1 node kept)"
    assert reason(0, 0, 0, None, has_work=False) == "within band (needs 0, clearly enough at 0, runs 0)"


def test_reasons_say_what_changed() -> None:
    assert reason(4, 4, 1, None) == "scale up 1 -> 3: needs 4 nodes (step limit 2)"
    assert reason(2, 2, 1, None) == "scale up 1 -> 2: needs 2 nodes"
    assert reason(0, 1, 3, None) == "scale down 3 -> 2: 1 node clearly enough (step limit 1)"
    assert reason(1, 1, 0, 0) == "0 nodes is empty while work is queued"
    assert reason(0, 0, 7, 0) == "7 nodes is above max 4"
    assert reason(0, 0, 0, 0, has_work=False) != ""
    at_min = decide(PoolPolicy(1, 2), Demand("sig", 0, 0, False), current=1, since_change_s=None)
    assert (at_min.changed, at_min.reason) == (False, "at min (1 node)")


def test_gpu_decision_carries_the_signal_and_sizes() -> None:
    policy = PoolPolicy(0, 4, boot_time_s=600)
    signal = GpuSignal(backlog=400_000, ready_nodes=1, arrival_per_s=200)
    d = decide(policy, gpu_demand(policy, GpuThroughput(300, 1200), signal), current=1, since_change_s=3600)
    assert (d.old_size, d.new_size, d.changed) == (1, 3, True)
    assert d.signal == "backlog 400,000 chunks, 200/s arriving, 1 ready"
    assert d.reason == "scale up 1 -> 3: needs 3 nodes"
