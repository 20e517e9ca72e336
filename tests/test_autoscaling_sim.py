"""The autoscaling simulation's smoke mode (1 simulated day), in-process: the policy's behaviour over a run."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.autoscaling_sim import SimConfig, SimResult, main, meets_target, run_all, simulate, static_strategy

CFG = SimConfig(days=1)


@pytest.fixture(scope="module")
def day() -> tuple[np.ndarray, dict[str, SimResult]]:
    arrivals, results = run_all(CFG)
    return arrivals, {r.name.split(" (")[0]: r for r in results}


def test_every_chunk_is_accounted_for(day: tuple[np.ndarray, dict[str, SimResult]]) -> None:
    arrivals, results = day
    for r in results.values():
        assert r.embedded + r.backlog[-1] == arrivals.sum() == r.wait_counts.sum()
    assert results["static-max"].gpu_hours == CFG.policy.max_nodes * 24 and results["static-max"].actions == 0


def test_waits_are_fifo_and_nodes_embed_only_after_booting() -> None:
    per_minute = int(CFG.chunks_per_node_minute)  # 18,000 chunks per ready node and minute
    arrivals = np.array([2 * per_minute, 0, 0, per_minute // 2] + [0] * 12)
    one = simulate(CFG, arrivals, "one ready node", static_strategy(1), start_nodes=1)
    # minute 0's chunks: half embedded in minute 0 (1 min), half in minute 1 (2 min); minute 3's at once (1 min)
    assert one.wait_counts[1] == per_minute + per_minute // 2 and one.wait_counts[2] == per_minute
    assert one.wait_counts.sum() == arrivals.sum() and one.max_wait == 2
    cold = simulate(CFG, arrivals, "asked for at minute 0", static_strategy(1), start_nodes=0)
    assert CFG.boot_min == 10 and cold.ready[:10].sum() == 0 and cold.nodes.sum() == len(arrivals)  # billed booting
    assert cold.wait_counts[10:13].tolist() == [per_minute // 2, per_minute, per_minute]  # from minute 10 on
    assert cold.max_wait == 12 and cold.wait_quantile(0.5) == 11


def test_policy_stays_within_bounds_steps_and_the_work_floor(day: tuple[np.ndarray, dict[str, SimResult]]) -> None:
    _, results = day
    nodes, backlog, p = results["policy"].nodes, results["policy"].backlog, CFG.policy
    assert nodes.min() >= p.min_nodes and nodes.max() <= p.max_nodes
    steps = np.diff(nodes)
    assert steps.max() <= p.max_step_up and steps.min() >= -p.max_step_down
    assert np.all(nodes[1:][backlog[:-1] > 0] >= 1)  # work queued at a decision: never an empty pool


def test_policy_respects_its_cooldowns(day: tuple[np.ndarray, dict[str, SimResult]]) -> None:
    _, results = day
    nodes, p = results["policy"].nodes, CFG.policy
    changes = np.flatnonzero(np.diff(nodes)) + 1  # minutes at which the size changed
    assert len(changes) == results["policy"].actions
    last = 0  # the starting size counts as set at minute 0
    for t in changes:
        waited_s = (t - last) * 60
        if nodes[t] < nodes[t - 1]:
            assert waited_s >= p.down_cooldown_s
        elif nodes[t - 1] > 0:  # growing an empty pool with work queued is not held by the cooldown
            assert waited_s >= p.up_cooldown_s
        last = t


def test_policy_beats_static_max_within_the_slo_and_flaps_less_than_naive(
    day: tuple[np.ndarray, dict[str, SimResult]],
) -> None:
    _, results = day
    policy, static_max, naive = results["policy"], results["static-max"], results["naive threshold"]
    assert policy.gpu_hours <= 0.5 * static_max.gpu_hours
    assert policy.wait_quantile(0.95) * 60 <= CFG.slo_wait_s
    assert meets_target(CFG, policy, static_max)
    assert policy.actions * 5 < naive.actions
    assert results["static-min"].wait_quantile(0.95) * 60 > CFG.slo_wait_s  # the day needs more than one node


def test_smoke_cli_prints_the_table_and_writes_the_png(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "sim.png"
    assert main(["--smoke", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    for label in ("policy", "static-max", "static-min (1)", "naive threshold", "GPU-h", "p95 wait", "PASS"):
        assert label in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
