"""The GPU pool autoscaling policy on a synthetic week, against static and naive pools.

    python benchmarks/autoscaling_sim.py [--smoke] [--days 7] [--seed 7] [--png benchmarks/out/autoscaling_sim.png]

Workload: chunks to embed, minute by minute: a diurnal weekday pattern (quiet nights and weekends), random
bursts (batches of 30k-250k chunks) and one large spike (a bulk re-embed). Pool: nodes embed
`chunks_per_s_per_node` each once ready; a node asked for is billed at once and embeds only after `boot_time_s`.
Every `decide_every_min` minutes (a sensor at 60 s) a strategy picks the pool size:

- policy: `infra_assets.autoscaling` (GPU demand + `decide`: cooldowns, hysteresis, steps, boot awareness);
- static-max / static-min: the pool's max, and the smallest pool that embeds at all (max(min, 1));
- naive: ceil(backlog / chunks one node embeds within the drain target), at once, no cooldown or hysteresis.

Wait = FIFO queueing delay of each chunk, in minutes (until the end of the minute it is embedded in; chunks
still queued at the end count with their age so far). Prints GPU-hours (booting nodes included), p50/p95/max
wait, scaling actions and the ratio to static-max; checks the target (policy <= 0.5 x static-max GPU-hours with
p95 wait <= SLO; exit code 1 if missed) and writes a PNG of backlog and nodes over time. `--smoke`: 1 day.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from infra_assets.autoscaling import GpuSignal, GpuThroughput, PoolPolicy, decide, gpu_demand

DEFAULT_PNG = Path(__file__).resolve().parent / "out" / "autoscaling_sim.png"
MINUTES_PER_DAY = 1440
ARRIVAL_WINDOW_MIN = 15  # the sensor's arrival rate: chunks landed over the last 15 minutes
TARGET_GPU_HOURS_RATIO = 0.5


@dataclass(frozen=True, slots=True)
class SimConfig:
    """The pool, the policy's settings, the SLO and the workload's shape."""

    days: int = 7
    seed: int = 7
    policy: PoolPolicy = field(
        default_factory=lambda: PoolPolicy(
            min_nodes=0,
            max_nodes=4,
            max_step_up=2,
            max_step_down=1,
            up_cooldown_s=120,
            down_cooldown_s=900,
            scale_down_fraction=0.75,
            boot_time_s=600,  # Lambda instance boot + TEI loading the model from the NFS cache
        )
    )
    throughput: GpuThroughput = field(
        default_factory=lambda: GpuThroughput(chunks_per_s_per_node=300, drain_target_s=1200)
    )
    slo_wait_s: float = 1800  # p95 queueing delay of a chunk
    decide_every_min: int = 1
    initial_nodes: int = 1
    night_rate: float = 40.0  # chunks/s
    weekday_peak_rate: float = 520.0  # chunks/s added at the diurnal peak (about 14:00 UTC)
    weekend_peak_rate: float = 120.0
    bursts_per_weekday: float = 5.0
    bursts_per_weekend_day: float = 1.0
    spike_chunks: int = 2_500_000
    spike_day: int = 2  # Wednesday (day 0 is a Monday); the last day when the run is shorter
    spike_minute_of_day: int = 15 * 60

    @property
    def minutes(self) -> int:
        return self.days * MINUTES_PER_DAY

    @property
    def chunks_per_node_minute(self) -> float:
        return self.throughput.chunks_per_s_per_node * 60

    @property
    def boot_min(self) -> int:
        return math.ceil(self.policy.boot_time_s / 60)


def synthetic_arrivals(cfg: SimConfig) -> np.ndarray:
    """Chunks arriving in each minute (deterministic for `cfg.seed`)."""
    rng = np.random.default_rng(cfg.seed)
    minute = np.arange(cfg.minutes)
    day, hour = minute // MINUTES_PER_DAY, (minute % MINUTES_PER_DAY) / 60
    weekday = (day % 7) < 5
    diurnal = np.clip(np.sin(np.pi * (hour - 7) / 14), 0, None) ** 1.5  # 07:00-21:00, peak at 14:00
    rate = cfg.night_rate + np.where(weekday, cfg.weekday_peak_rate, cfg.weekend_peak_rate) * diurnal
    noise = rng.lognormal(mean=-0.045, sigma=0.3, size=cfg.minutes)  # mean ~1
    arrivals = rng.poisson(rate * 60 * noise).astype(np.int64)
    for d in range(cfg.days):
        expected = cfg.bursts_per_weekday if d % 7 < 5 else cfg.bursts_per_weekend_day
        for _ in range(rng.poisson(expected)):
            start = d * MINUTES_PER_DAY + int(rng.integers(6 * 60, 22 * 60))
            length = int(rng.integers(1, 6))
            arrivals[start : start + length] += int(rng.integers(30_000, 250_000)) // length
    spike = min(cfg.spike_day, cfg.days - 1) * MINUTES_PER_DAY + cfg.spike_minute_of_day
    arrivals[spike : spike + 10] += cfg.spike_chunks // 10
    return arrivals


@dataclass(frozen=True, slots=True)
class PoolView:
    """What a strategy sees at a decision: the sensor's readings and the pool's clock."""

    minute: int
    backlog: int
    ready: int
    booting_s_left: tuple[float, ...]
    arrival_per_s: float
    size: int
    since_change_s: float | None


Strategy = Callable[[PoolView], int]


def policy_strategy(cfg: SimConfig) -> Strategy:
    """The pure policy, consulted like the sensor would."""

    def choose(v: PoolView) -> int:
        signal = GpuSignal(v.backlog, v.ready, v.booting_s_left, v.arrival_per_s)
        demand = gpu_demand(cfg.policy, cfg.throughput, signal)
        return decide(cfg.policy, demand, current=v.size, since_change_s=v.since_change_s).new_size

    return choose


def static_strategy(nodes: int) -> Strategy:
    return lambda _v: nodes


def naive_strategy(cfg: SimConfig) -> Strategy:
    """Nodes for the backlog right now, no cooldown, hysteresis, arrival or boot awareness."""
    per_node = cfg.throughput.chunks_per_node
    return lambda v: max(cfg.policy.min_nodes, min(cfg.policy.max_nodes, math.ceil(v.backlog / per_node)))


@dataclass(frozen=True, slots=True)
class SimResult:
    """One strategy's run: per-minute series and the summary numbers."""

    name: str
    nodes: np.ndarray  # provisioned (billed) nodes per minute
    ready: np.ndarray
    backlog: np.ndarray  # chunks queued at the end of each minute
    wait_counts: np.ndarray  # chunks per wait in whole minutes (index)
    actions: int
    embedded: int

    @property
    def gpu_hours(self) -> float:
        return float(self.nodes.sum()) / 60

    def wait_quantile(self, q: float) -> int:
        """Minutes within which a share `q` of all chunks was embedded (chunk-weighted)."""
        cumulative = np.cumsum(self.wait_counts)
        return int(np.searchsorted(cumulative, q * cumulative[-1]))

    @property
    def max_wait(self) -> int:
        return int(np.flatnonzero(self.wait_counts)[-1])


def simulate(cfg: SimConfig, arrivals: np.ndarray, name: str, strategy: Strategy, *, start_nodes: int) -> SimResult:
    """Run `strategy` minute by minute over `arrivals` with a FIFO backlog and node boot delay."""
    n = len(arrivals)
    ready_at: list[int] = [0] * start_nodes  # minute each provisioned node embeds from
    queue: deque[list[int]] = deque()  # [arrival minute, chunks left], oldest first
    backlog = 0
    nodes, ready_series, backlog_series = (np.zeros(n, dtype=np.int64) for _ in range(3))
    wait_counts = np.zeros(n + 1, dtype=np.int64)
    actions, embedded, changed_at = 0, 0, 0  # the starting size was set at minute 0
    for t in range(n):
        if t % cfg.decide_every_min == 0:
            recent = arrivals[max(0, t - ARRIVAL_WINDOW_MIN) : t]
            view = PoolView(
                minute=t,
                backlog=backlog,
                ready=sum(1 for r in ready_at if r <= t),
                booting_s_left=tuple(float((r - t) * 60) for r in ready_at if r > t),
                arrival_per_s=float(recent.mean()) / 60 if len(recent) else 0.0,
                size=len(ready_at),
                since_change_s=(t - changed_at) * 60.0,
            )
            new = strategy(view)
            if new != len(ready_at):
                actions, changed_at = actions + 1, t
                ready_at = sorted(ready_at + [t + cfg.boot_min] * (new - len(ready_at)))[:new]  # drop booting first
        queue.append([t, int(arrivals[t])])
        backlog += int(arrivals[t])
        ready = sum(1 for r in ready_at if r <= t)
        capacity = int(ready * cfg.chunks_per_node_minute)
        while capacity and queue:
            cohort = queue[0]
            take = min(capacity, cohort[1])
            wait_counts[t - cohort[0] + 1] += take
            cohort[1] -= take
            capacity -= take
            backlog -= take
            embedded += take
            if not cohort[1]:
                queue.popleft()
        nodes[t], ready_series[t], backlog_series[t] = len(ready_at), ready, backlog
    for arrived, left in queue:  # still queued at the end: their age so far
        wait_counts[n - arrived] += left
    return SimResult(name, nodes, ready_series, backlog_series, wait_counts, actions, embedded)


def run_all(cfg: SimConfig) -> tuple[np.ndarray, list[SimResult]]:
    """The workload and every strategy's result: policy, static-max, static-min, naive."""
    arrivals = synthetic_arrivals(cfg)
    smallest = max(cfg.policy.min_nodes, 1)
    runs = [
        ("policy", policy_strategy(cfg), cfg.initial_nodes),
        ("static-max", static_strategy(cfg.policy.max_nodes), cfg.policy.max_nodes),
        (f"static-min ({smallest})", static_strategy(smallest), smallest),
        ("naive threshold", naive_strategy(cfg), cfg.initial_nodes),
    ]
    return arrivals, [simulate(cfg, arrivals, name, s, start_nodes=start) for name, s, start in runs]


def meets_target(cfg: SimConfig, policy: SimResult, static_max: SimResult) -> bool:
    """Policy GPU-hours <= 0.5 x static-max with p95 wait within the SLO."""
    within_slo = policy.wait_quantile(0.95) * 60 <= cfg.slo_wait_s
    return policy.gpu_hours <= TARGET_GPU_HOURS_RATIO * static_max.gpu_hours and within_slo


def print_table(cfg: SimConfig, arrivals: np.ndarray, results: list[SimResult]) -> None:
    p = cfg.policy
    print(
        f"{cfg.days} day(s), {int(arrivals.sum()):,} chunks (spike {cfg.spike_chunks:,}); "
        f"pool {p.min_nodes}..{p.max_nodes} nodes at {cfg.throughput.chunks_per_s_per_node:g} chunks/s, "
        f"boot {p.boot_time_s:g}s; decisions every {cfg.decide_every_min} min; SLO p95 wait {cfg.slo_wait_s / 60:g} min"
    )
    static_max = next(r for r in results if r.name == "static-max")
    header = f"{'strategy':<18}{'GPU-h':>8}{'x max':>7}{'p50 wait':>10}{'p95 wait':>10}{'max wait':>10}{'actions':>9}"
    print(header + "\n" + "-" * len(header))
    for r in results:
        print(
            f"{r.name:<18}{r.gpu_hours:>8.1f}{r.gpu_hours / static_max.gpu_hours:>7.2f}"
            f"{r.wait_quantile(0.5):>7} min{r.wait_quantile(0.95):>7} min{r.max_wait:>7} min{r.actions:>9}"
        )


def _window_max(series: np.ndarray, width: int) -> np.ndarray:
    """`series` as the max of each `width`-minute window, repeated per minute (readable at a week's scale)."""
    padded = np.pad(series, (0, -len(series) % width), constant_values=0)
    return np.repeat(padded.reshape(-1, width).max(axis=1), width)[: len(series)]


def _day_ticks(ax: object, cfg: SimConfig) -> None:
    step = 12 if cfg.days > 1 else 2
    ticks = np.arange(0, cfg.days * 24 + 1, step)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    ax.set_xticks(ticks, [f"{days[int(h // 24) % 7]} {int(h % 24):02d}:00" for h in ticks], fontsize=8)


def write_png(cfg: SimConfig, arrivals: np.ndarray, results: list[SimResult], path: Path) -> None:
    """Arrivals, backlog and nodes over time: the policy against the naive threshold (static-max for reference)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_name = {r.name: r for r in results}
    hours = np.arange(len(arrivals)) / 60
    window = 30 if cfg.days > 1 else 10
    fig, (ax_in, ax_backlog, ax_nodes) = plt.subplots(3, 1, figsize=(13, 8.5), sharex=True)
    mean_rate = np.convolve(arrivals, np.ones(window) / window, mode="same") / 60
    ax_in.plot(hours, mean_rate, color="0.35", lw=0.8, label=f"arrivals ({window}-min mean)")
    per_node = cfg.throughput.chunks_per_s_per_node
    for nodes in range(1, cfg.policy.max_nodes + 1):
        ax_in.axhline(per_node * nodes, color="tab:red", ls=":", lw=0.7, alpha=0.4 + 0.15 * nodes)
    for nodes in (1, cfg.policy.max_nodes):
        label = f"{nodes} node{'s' if nodes > 1 else ''} "
        ax_in.text(hours[-1], per_node * nodes, label, ha="right", va="bottom", fontsize=8, color="tab:red")
    ax_in.set_yscale("log")
    ax_in.set_ylabel("chunks/s (log)")
    ax_in.legend(loc="upper left", fontsize=8)
    colors = {"policy": "tab:blue", "naive threshold": "tab:orange", "static-max": "tab:red"}
    for name in ("naive threshold", "policy"):
        r = by_name[name]
        ax_backlog.plot(hours, _window_max(r.backlog, window) + 1, color=colors[name], lw=1, label=name)
    ax_backlog.set_yscale("log")
    ax_backlog.set_ylabel(f"backlog, chunks\n(max per {window} min, log)")
    ax_backlog.legend(loc="upper left", fontsize=8)
    for name in ("static-max", "naive threshold", "policy"):
        r = by_name[name]
        style = {
            "static-max": {"ls": "--", "lw": 1.0},
            "naive threshold": {"lw": 0.5, "alpha": 0.45},
            "policy": {"lw": 1.4},
        }[name]
        label = f"{name}: {r.gpu_hours:.0f} GPU-h, {r.actions} actions, p95 wait {r.wait_quantile(0.95)} min"
        ax_nodes.step(hours, r.nodes, where="post", color=colors[name], label=label, **style)
    ax_nodes.set_ylabel("GPU nodes (billed)")
    ax_nodes.set_ylim(-0.2, cfg.policy.max_nodes + 0.9)
    ax_nodes.legend(loc="upper left", fontsize=8, ncol=3)
    _day_ticks(ax_nodes, cfg)
    for ax in (ax_in, ax_backlog, ax_nodes):
        ax.grid(alpha=0.3)
        for d in range(1, cfg.days):
            ax.axvline(24 * d, color="0.3", lw=0.6)
    fig.suptitle(
        f"GPU pool autoscaling, {cfg.days} synthetic day(s): policy vs naive threshold vs static-max "
        f"(boot {cfg.policy.boot_time_s / 60:g} min, SLO p95 wait {cfg.slo_wait_s / 60:g} min)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="simulate 1 day (CI)")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--png", type=Path, default=DEFAULT_PNG)
    args = parser.parse_args(argv)
    cfg = SimConfig(days=1 if args.smoke else args.days, seed=args.seed)
    arrivals, results = run_all(cfg)
    print_table(cfg, arrivals, results)
    policy, static_max = results[0], results[1]
    ok = meets_target(cfg, policy, static_max)
    print(
        f"\ntarget: policy GPU-hours {policy.gpu_hours:.1f} <= {TARGET_GPU_HOURS_RATIO} x {static_max.gpu_hours:.1f}"
        f" and p95 wait {policy.wait_quantile(0.95)} min <= {cfg.slo_wait_s / 60:g} min: {'PASS' if ok else 'FAIL'}"
    )
    write_png(cfg, arrivals, results, args.png)
    print(f"plot: {args.png}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
