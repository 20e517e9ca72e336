"""How long one tick of each source sensor takes with 10,000 listed source runs (Dagster times a tick out at 60 s).

    python benchmarks/sensor_ticks.py [--runs 10000]

Each sensor is ticked with `dg.build_sensor_context` on a temp SQLite instance, like the daemon does (the partitions a
tick adds are applied between ticks, not timed), against the HTTP stand-ins in tests/standins/ (Apify runs,
PhantomBuster containers, Tavily) and a samples folder of N payload files. Printed per tick: the source runs
listed, the partitions added, the runs requested and the seconds the tick took; first the catch-up ticks of an
empty cursor (bounded pages, the rest carried in the cursor), then a steady-state tick after a few new source runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/standins is checkout-only

from resources.apify import ApifyPayloadSource
from resources.phantombuster import PhantomBusterPayloadSource
from resources.profile import profile
from resources.registry import local_resources
from resources.tavily import TavilyPayloadSource
from resources.warehouse import DuckDBWarehouse
from sophia_pipelines.assets.ingestion import build_ingestion_assets, build_land_jobs
from sophia_pipelines.sensors.source_sensors import build_source_sensors
from sophia_pipelines.streams import (
    LINKEDIN_PROFILES,
    LINKEDIN_SEARCH,
    STREAMS,
    WEB_SEARCH,
    WEBSITE_CONTENT,
    StreamSpec,
)
from tests.standins.apify import ApifyStandin, website_content_items
from tests.standins.phantombuster import PhantomBusterStandin, search_export_rows
from tests.standins.tavily import TavilyStandin

TIMEOUT_S = 60.0
KEY = "benchmark-key-0000000000"
AGENT = "9990001"


class Ticker:
    """One sensor ticked like the daemon does it, on its own instance and cursor."""

    def __init__(
        self,
        sensor: dg.SensorDefinition,
        sources: dict[str, Any],
        instance: dg.DagsterInstance,
        streams: Sequence[StreamSpec] = STREAMS,
    ) -> None:
        self.sensor, self.sources, self.instance = sensor, sources, instance
        warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=":memory:"))
        resources = {**sources, "warehouse": warehouse}
        self.defs = dg.Definitions(
            assets=build_ingestion_assets("duckdb", streams), sensors=[sensor], resources=resources
        )
        self.cursor: str | None = None

    def tick(self) -> tuple[float, int, int, int]:
        """(seconds, source runs listed, partitions added, runs requested) of one tick."""
        started = time.perf_counter()
        with dg.build_sensor_context(
            instance=self.instance,
            instance_ref=self.instance.get_ref(),
            definitions=self.defs,
            resources=self.sources,
            cursor=self.cursor,
        ) as context:
            data = self.sensor.evaluate_tick(context)
        elapsed = time.perf_counter() - started
        added = 0
        for request in data.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            added += len(request.partition_keys)
        self.cursor = data.cursor
        requested = len(data.run_requests or [])
        return elapsed, max(added, requested), added, requested


def sensor_named(name: str, env: str) -> dg.SensorDefinition:
    (sensor,) = [s for s in build_source_sensors(profile(env), build_land_jobs()) if s.name == name]
    return sensor


def line(name: str, label: str, figures: tuple[float, int, int, int]) -> str:
    seconds, listed, added, requested = figures
    return f"  {name:<32} {label:<9} {listed:>6} listed {added:>6} new partitions {requested:>6} runs {seconds:7.2f} s"


def report(name: str, ticker: Ticker, catch_up_ticks: int, then: Callable[[], None]) -> float:
    """Print each catch-up tick and a steady-state tick after `then`; the slowest tick's seconds."""
    worst = 0.0
    for n in range(1, catch_up_ticks + 1):
        figures = ticker.tick()
        worst = max(worst, figures[0])
        print(line(name, f"tick {n}", figures), flush=True)
        if figures[3] == 0 and n > 1:
            break
    then()
    figures = ticker.tick()
    print(line(name, "steady", figures), flush=True)
    return max(worst, figures[0])


@contextmanager
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def bench_samples(runs: int, tmp: Path) -> float:
    samples = tmp / "samples"
    folder = samples / WEBSITE_CONTENT.sample_folder
    folder.mkdir(parents=True)
    item = json.dumps(website_content_items(1))
    for n in range(runs):
        (folder / f"run-{n:05d}.json").write_text(item.replace("page-0", f"page-{n}"))
    sources = {k: v for k, v in local_resources(tmp / "data", samples).items() if k in {s.system for s in STREAMS}}
    with instance() as inst:
        ticker = Ticker(sensor_named("sample_files", "local"), sources, inst)

        def drop_files() -> None:
            for n in range(10):
                (folder / f"new-{n}.json").write_text(item.replace("page-0", f"new-{n}"))

        return report(f"sample_files ({runs} files)", ticker, 20, drop_files)


def bench_apify(runs: int) -> float:
    actors = {WEBSITE_CONTENT.stream: "apify~website-content-crawler", LINKEDIN_PROFILES.stream: "dev_fusion~lps"}
    with ApifyStandin(KEY) as standin, instance() as inst:
        start = datetime.now(UTC) - timedelta(hours=60)
        for n in range(runs):
            standin.add_run(
                actors[WEBSITE_CONTENT.stream], [], run_id=f"run{n:06d}", started_at=start + timedelta(seconds=15 * n)
            )
        standin.runs[actors[LINKEDIN_PROFILES.stream]] = []  # a second actor with no runs yet
        source = ApifyPayloadSource(token=KEY, api_url=standin.url, actors=actors)
        ticker = Ticker(
            sensor_named("apify_runs", "production"), {"apify": source}, inst, [WEBSITE_CONTENT, LINKEDIN_PROFILES]
        )

        def new_runs() -> None:
            recent = datetime.now(UTC) - timedelta(minutes=10)
            for n in range(5):
                standin.add_run(actors[WEBSITE_CONTENT.stream], [], run_id=f"new{n}", started_at=recent)

        return report(f"apify_runs ({runs} runs)", ticker, 20, new_runs)


def bench_phantombuster(runs: int) -> float:
    with PhantomBusterStandin(KEY, page_size=100) as standin, instance() as inst:
        t0 = 1_760_000_000_000
        for n in range(runs):
            standin.add_container(AGENT, search_export_rows(1), ended_at=t0 + n * 1000, container_id=f"c{n:06d}")
        source = PhantomBusterPayloadSource(
            api_key=KEY,
            base_url=standin.base_url,
            s3_base_url=standin.s3_base_url,
            agents={LINKEDIN_SEARCH.stream: AGENT},
        )
        ticker = Ticker(
            sensor_named("phantombuster_containers", "production"), {"phantombuster": source}, inst, [LINKEDIN_SEARCH]
        )

        def new_containers() -> None:
            for n in range(5):
                standin.add_container(AGENT, [], ended_at=t0 + (runs + n) * 1000, container_id=f"new{n}")

        return report(f"phantombuster ({runs} containers)", ticker, 40, new_containers)


def bench_tavily() -> float:
    with TavilyStandin(KEY) as standin, instance() as inst:
        source = TavilyPayloadSource(api_key=KEY, api_base_url=standin.url, queries=["q1", "q2", "q3"])
        ticker = Ticker(sensor_named("tavily_daily", "production"), {"tavily": source}, inst, [WEB_SEARCH])
        return report("tavily_daily (3 queries)", ticker, 2, lambda: None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000, help="source runs listed by each source")
    args = parser.parse_args(argv)
    print(f"One tick of each source sensor, {args.runs} source runs listed (Dagster's tick timeout: {TIMEOUT_S:.0f} s)")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        worst = {
            "sample_files": bench_samples(args.runs, tmp),
            "apify_runs": bench_apify(args.runs),
            "phantombuster_containers": bench_phantombuster(args.runs),
            "tavily_daily": bench_tavily(),
        }
    print("\nSlowest tick per sensor (target: well under the timeout):")
    for name, seconds in worst.items():
        print(f"  {name:<26} {seconds:6.2f} s  ({seconds / TIMEOUT_S:.0%} of {TIMEOUT_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
