"""`python -m sophia_pipelines.demo`: land everything, then print what landed and a sample search.

Registers every current source run as a partition, lands each stream in one run over its partitions and brings
documents, chunks and vectors up to date (`sophia_pipelines.land`, the same as `python -m sophia_pipelines.land`),
against the Dagster instance in $DAGSTER_HOME (so the runs show up in `dg dev`), on whatever mode SOPHIA_ENV
selects (local by default).
"""

from __future__ import annotations

import argparse
import sys
import time

import dagster as dg

from resources.profile import current_env
from resources.registry import build_hybrid_search_resources, resolve
from sophia_pipelines.domain.tables import DOCUMENT_REJECTS
from sophia_pipelines.land import console_log_level, land_everything, summary
from sophia_pipelines.run_health import end_dead_runs
from sophia_pipelines.search import format_response, hybrid_search
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
    print(f"Landing every source run and updating documents, chunks and vectors (SOPHIA_ENV={env}) ...", flush=True)
    instance = dg.DagsterInstance.get()
    for run_id in end_dead_runs(instance):  # no daemon here: a killed earlier run must not hold the data-plane pool
        print(f"Marked run {run_id} failed: its process is gone.", flush=True)
    started = time.perf_counter()
    result = land_everything(defs, instance, run_config=console_log_level(args.log_level))
    print(summary(result))
    if not result.success:
        print("Landing failed; see the log above or the runs in `dg dev`.", file=sys.stderr)
        return 1
    print(f"{len(result.runs)} runs succeeded in {time.perf_counter() - started:.1f}s.\n")
    print("\n".join(summary_lines(defs)))
    embedder, store, lexical = build_hybrid_search_resources()
    print(f"\nSearch: {args.query!r} (top {args.k}, {store.count():,} vectors, {lexical.count():,} indexed chunks)")
    print(format_response(hybrid_search(args.query, embedder, store, lexical, args.k)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
