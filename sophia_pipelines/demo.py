"""`python -m sophia_pipelines.demo`: run the data pipeline, then print what landed and a sample search.

Runs the `data_pipeline` job against the Dagster instance in $DAGSTER_HOME (so the run shows up in `dagster dev`),
on whatever mode SOPHIA_ENV selects (local by default).
"""

from __future__ import annotations

import argparse
import sys
import time

import dagster as dg

from resources.profile import current_env
from resources.registry import build_search_resources, resolve
from sophia_pipelines.domain.tables import DOCUMENT_REJECTS
from sophia_pipelines.run_health import end_dead_runs
from sophia_pipelines.search import format_results, search
from sophia_pipelines.streams import ALL_TABLES
from sophia_platform.loader import load_platform

DEFAULT_QUERY = "renting GPUs in the cloud for LLM inference"


def summary_lines(defs: dg.Definitions) -> list[str]:
    warehouse = resolve(defs.resources["warehouse"])
    lines = [f"Warehouse {warehouse.describe()}:"]
    with warehouse.session() as session:
        session.ensure_tables(ALL_TABLES)
        for spec in ALL_TABLES:
            lines.append(f"  {spec.name:<36} {session.row_count(spec):>8,} rows")
        reasons = session.query(
            f"SELECT reason, COUNT(*) AS n FROM {DOCUMENT_REJECTS.name} GROUP BY reason ORDER BY n DESC, reason LIMIT 5"
        )
    if not reasons.empty:
        lines.append("Top quarantine reasons:")
        lines += [f"  {int(r.n):>5}  {r.reason}" for r in reasons.itertuples(index=False)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--query", default=DEFAULT_QUERY, help="the sample search to run afterwards")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--log-level", default="INFO", help="Dagster console log level (DEBUG shows every event)")
    args = parser.parse_args(argv)

    env = current_env()
    defs = load_platform()
    job = defs.resolve_job_def("data_pipeline")
    print(f"Running job 'data_pipeline' (SOPHIA_ENV={env}) ...", flush=True)
    instance = dg.DagsterInstance.get()
    for run_id in end_dead_runs(instance):  # no daemon here: a killed earlier run must not hold the data-plane pool
        print(f"Marked run {run_id} failed: its process is gone.", flush=True)
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": args.log_level}}}},
        raise_on_error=False,
    )
    if not result.success:
        print("The run failed; see the log above or the run in `dagster dev`.", file=sys.stderr)
        return 1
    print(f"Run {result.run_id} succeeded in {time.perf_counter() - started:.1f}s.\n")
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        md = {k: v.value for k, v in mat.metadata.items() if isinstance(v.value, int | float)}
        interesting = ", ".join(f"{k}={v}" for k, v in md.items() if not k.startswith("dagster/"))
        print(f"  {mat.asset_key.to_user_string():<36} {interesting}")
    print()
    print("\n".join(summary_lines(defs)))
    embedder, store = build_search_resources()
    print(f"\nSearch: {args.query!r} (top {args.k}, {store.count():,} vectors)")
    print(format_results(args.query, search(args.query, embedder, store, args.k)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
