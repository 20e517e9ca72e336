"""How long one tick of each scaling sensor takes, with a large embedding backlog and a long run queue.

    python benchmarks/scaling_sensor_ticks.py [--rows 1000000] [--runs 10000] [--ticks 20] [--smoke]

Each sensor comes from the production definitions and is ticked with `dg.build_sensor_context` on a temp SQLite
instance, like the daemon does (Dagster times a tick out at 60 s), in plan mode (no Pulumi):

- `gpu_backlog_sensor`: the data plane's backlog is N chunks in DuckDB, half of them embedded; the `chunks`
  asset counts what is pending with its own query (`PENDING_EMBEDDING_SQL`, timed: the data plane pays it once
  per materialization) and reports it as metadata, after a history of 200 earlier reports. The sensor reads the
  newest report only, so its tick should not grow with N: printed for N = 1,000 and N = --rows, with the ratio.
- `data_intelligence_pool_sensor`: the instance holds R queued data-plane runs, 50 started ones, R finished
  ones and R/10 queued runs of other planes (written in one transaction, the rows `add_run` writes); the tick
  counts queued and in-progress runs with two indexed queries. Printed for R = 100 and R = --runs.
- `business_intelligence_pool_sensor` and `tei_replicas_sensor`: one tick each (no data-size input).

Printed per case: the input, the median and max tick (ms) over --ticks ticks, what the tick decided.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.storage.runs.schema import RunsTable, RunTagsTable
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._time import get_current_datetime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from infra_assets.assets import build_infra_assets
from infra_assets.definitions import build_infra_definitions
from infra_assets.settings import InfraSettings
from resources.profile import TEI_MODEL, profile
from resources.pulumi_stack import PulumiStackResource
from sophia_pipelines.stages.chunks import PENDING_EMBEDDING_SQL
from sophia_platform.defs.infrastructure.definitions import DATA_PLANE_RUNS, EMBEDDING_BACKLOG

TIMEOUT_S = 60.0
HISTORY_EVENTS = 200
ORIGIN = RemoteJobOrigin(  # a queued run names where it would be launched from; these are never launched
    RemoteRepositoryOrigin(InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="x")), "__repository__"),
    "data_pipeline",
)


@contextmanager
def temp_instance() -> Iterator[dg.DagsterInstance]:
    with tempfile.TemporaryDirectory() as home, dg.DagsterInstance.local_temp(home) as instance:
        yield instance


def time_ticks(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, infra: InfraSettings, n: int) -> Any:
    """(median ms, max ms, what the last tick decided) over `n` ticks."""
    resources = {"infra": infra, "pulumi": PulumiStackResource()}
    seconds: list[float] = []
    data: Any = None
    for _ in range(n):
        context = dg.build_sensor_context(instance=instance, sensor_name=sensor.name, resources=resources)
        start = time.perf_counter()
        data = sensor.evaluate_tick(context)
        seconds.append(time.perf_counter() - start)
    if data.run_requests:
        ((op, config),) = data.run_requests[0].run_config["ops"].items()
        decided = f"requests {op}: {config['config'].get('reason', '')}"
    else:
        decided = f"skips: {(data.skip_message or '')[:80]}"
    return statistics.median(seconds) * 1e3, max(seconds) * 1e3, decided


def backlog_db(path: Path, rows: int) -> tuple[int, float]:
    """A DuckDB with `rows` chunks, half embedded for the model; (pending, seconds of the data plane's count)."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE chunks AS SELECT 'c' || i AS chunk_id, md5(i::VARCHAR) AS content_hash FROM range(?) t(i)",
            [rows],
        )
        con.execute(
            "CREATE TABLE vector_ledger AS SELECT chunk_id, content_hash, ? AS model_id FROM chunks "
            "WHERE hash(chunk_id) % 2 = 0",
            [TEI_MODEL],
        )
        start = time.perf_counter()
        (pending,) = con.execute(PENDING_EMBEDDING_SQL, [TEI_MODEL]).fetchone()
        return int(pending), time.perf_counter() - start


def seed_runs(instance: dg.DagsterInstance, queued: int, started: int, finished: int, others: int) -> None:
    """Runs in the run storage in one transaction (the rows `add_run` writes for each)."""
    data, other = dict(DATA_PLANE_RUNS.tags), {"sophia/plane": "infra"}
    plan = [
        (dg.DagsterRunStatus.QUEUED, data, queued),
        (dg.DagsterRunStatus.STARTED, data, started),
        (dg.DagsterRunStatus.SUCCESS, data, finished),
        (dg.DagsterRunStatus.QUEUED, other, others),
    ]
    runs = [
        dg.DagsterRun("data_pipeline", str(uuid.uuid4()), status=status, tags=tags, remote_job_origin=ORIGIN)
        for status, tags, n in plan
        for _ in range(n)
    ]
    storage: Any = instance.run_storage
    now = get_current_datetime()
    with storage.connect() as conn:
        conn.execute(RunsTable.insert(), [storage._get_run_insertion_values(r, now) for r in runs])
        tags = [{"run_id": r.run_id, "key": k, "value": v} for r in runs for k, v in r.tags_for_storage().items()]
        conn.execute(RunTagsTable.insert(), tags)


def row(case: str, size: str, median_ms: float, max_ms: float, decided: str) -> None:
    print(f"{case:<34} {size:>28} {median_ms:>9.2f} {max_ms:>9.2f}  {decided}")


def gpu_section(defs: dg.Definitions, infra: InfraSettings, sizes: list[int], ticks: int, tmp: Path) -> list[float]:
    sensor = defs.resolve_sensor_def("gpu_backlog_sensor")
    medians: list[float] = []
    for rows in sizes:
        pending, count_s = backlog_db(tmp / f"backlog-{rows}.duckdb", rows)
        with temp_instance() as instance:
            for i in range(HISTORY_EVENTS):  # earlier reports: the sensor must read only the newest
                instance.report_runless_asset_event(
                    dg.AssetMaterialization("chunks", metadata={"pending_embedding": i, "rows": rows})
                )
            instance.report_runless_asset_event(
                dg.AssetMaterialization("chunks", metadata={"pending_embedding": pending, "rows": rows})
            )
            median_ms, max_ms, decided = time_ticks(sensor, instance, infra, ticks)
        medians.append(median_ms)
        row("gpu_backlog_sensor", f"{rows:,} rows ({pending:,} pending)", median_ms, max_ms, decided)
        row("  (the chunks asset's count)", f"{rows:,} rows, once per run", count_s * 1e3, count_s * 1e3, "")
    return medians


def queue_section(defs: dg.Definitions, infra: InfraSettings, sizes: list[int], ticks: int) -> list[float]:
    sensor = defs.resolve_sensor_def("data_intelligence_pool_sensor")
    medians: list[float] = []
    for runs in sizes:
        with temp_instance() as instance:
            seed_runs(instance, queued=runs, started=50, finished=runs, others=runs // 10)
            median_ms, max_ms, decided = time_ticks(sensor, instance, infra, ticks)
        medians.append(median_ms)
        row("data_intelligence_pool_sensor", f"{runs:,} queued + 50 started", median_ms, max_ms, decided)
    return medians


def other_section(defs: dg.Definitions, infra: InfraSettings, ticks: int) -> None:
    resources = {"infra": infra, "pulumi": PulumiStackResource()}
    k8s = dg.materialize(build_infra_assets("production"), resources=resources, selection="k8s_deployments")
    assert k8s.success  # TEI's sensor compares the pool with this plan
    for name in ("business_intelligence_pool_sensor", "tei_replicas_sensor"):
        with temp_instance() as instance:
            median_ms, max_ms, decided = time_ticks(defs.resolve_sensor_def(name), instance, infra, ticks)
        row(name, "-", median_ms, max_ms, decided)


def verdict(label: str, medians: list[float]) -> str:
    ratio = medians[-1] / medians[0]
    return f"{label}: largest / smallest median tick = {ratio:.2f}x"


def run(rows: int, runs: int, ticks: int) -> dict[str, list[float]]:
    """Print the table; the median tick per section (ms), smallest input first."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        infra = InfraSettings(env="production", out_dir=str(tmp / "plan"))
        defs = build_infra_definitions(profile("production"), EMBEDDING_BACKLOG, DATA_PLANE_RUNS)
        header = f"{'sensor':<34} {'input':>28} {'median ms':>9} {'max ms':>9}"
        print(f"{header}  decision (Dagster's tick timeout: {TIMEOUT_S:.0f} s)")
        gpu = gpu_section(defs, infra, sorted({min(1_000, rows), rows}), ticks, tmp)
        queue = queue_section(defs, infra, sorted({min(100, runs), runs}), ticks)
        other_section(defs, infra, ticks)
    print(verdict("gpu_backlog_sensor (backlog rows)", gpu))
    print(verdict("data_intelligence_pool_sensor (queued runs)", queue))
    return {"gpu": gpu, "queue": queue}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="chunks in the DuckDB backlog (largest case)")
    p.add_argument("--runs", type=int, default=10_000, help="queued data-plane runs (largest case)")
    p.add_argument("--ticks", type=int, default=20, help="ticks per case")
    p.add_argument("--smoke", action="store_true", help="10,000 rows, 500 runs, 3 ticks")
    args = p.parse_args(argv)
    if args.smoke:
        args.rows, args.runs, args.ticks = 10_000, 500, 3
    run(args.rows, args.runs, args.ticks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
