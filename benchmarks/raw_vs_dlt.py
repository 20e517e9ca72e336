"""Raw landing against dlt on the same payload files: first load and no-change re-load, interleaved reps.

    pip install -e '.[bench]'     # dlt with its duckdb destination and parquet support
    python benchmarks/raw_vs_dlt.py [--items 10000 100000] [--reps 3] [--default-loader] [--smoke]

For each size, a corpus is generated once (tools.sample_factory; items ~ documents), then, interleaved per rep:

* ours: `stages.raw.land_raw` of every stream into a fresh DuckDB warehouse (files parsed once, rows MERGEd by
  record id, batch fingerprints recorded), then again with nothing changed (every file skipped by fingerprint);
* dlt 1.31: one `merge` resource per stream (primary key `record_id`, the same row columns, the payload as a
  `json` column, not unnested) into a fresh DuckDB destination with the parquet loader; then the same load again
  (dlt has no file fingerprints: it re-reads and re-merges everything). `--default-loader` adds dlt's default
  (insert_values) loader.

Every load starts after `os.sync()`, so none pays in its fsyncs for the pages another step left dirty.

Prints median (min-max) seconds and the ratios dlt / ours (target >= 3x with the parquet loader at 100k items).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dagster_duckdb import DuckDBResource  # noqa: E402

from resources.payloads import BadPayload, SamplePayloadSource  # noqa: E402
from resources.warehouse import DuckDBWarehouse  # noqa: E402
from sophia_pipelines.stages.raw import land_raw, raw_record_id  # noqa: E402
from sophia_pipelines.streams import STREAMS, StreamSpec  # noqa: E402

SMOKE_ITEMS = 200
TARGET = 3.0


def generate(root: Path, items: int) -> int:
    """The corpus under `root` (sample factory in a child process); the number of items written."""
    cmd = [sys.executable, "-m", "tools.sample_factory", "--out", str(root), "--documents", str(items)]
    out = subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return sum(int(line.rsplit(":", 1)[1]) for line in out.splitlines() if ":" in line)


def sources(samples: Path) -> dict[str, SamplePayloadSource]:
    return {
        system: SamplePayloadSource(system=system, samples_dir=str(samples)) for system in {s.system for s in STREAMS}
    }


def settle() -> None:
    """Write back every dirty page first, so a load does not pay for the previous step's files (the generated
    corpus, the other loader's output) in its own fsyncs."""
    os.sync()


def land_ours(samples: Path, data: Path) -> float:
    """Every stream landed once into `data`/warehouse.duckdb (a fresh or existing file); seconds."""
    warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=str(data / "warehouse.duckdb")))
    payloads = sources(samples)
    settle()
    started = time.perf_counter()
    with warehouse.session() as session:
        for spec in STREAMS:
            land_raw(session, spec.table, spec.source, payloads[spec.system], spec.stream)
    return time.perf_counter() - started


def dlt_rows(spec: StreamSpec, payloads: SamplePayloadSource) -> Iterator[dict[str, Any]]:
    """The rows our raw table holds, from the same files (parsed by the same reader)."""
    for batch in payloads.fetch_batches(spec.stream, {}):
        if isinstance(batch, BadPayload):
            continue
        for index, item in enumerate(batch.items):
            yield {
                "record_id": raw_record_id(spec.source, batch.batch_id, index),
                "source": spec.source,
                "batch_id": batch.batch_id,
                "item_index": index,
                "payload": item,
                "fetched_at": batch.fetched_at,
            }


def land_dlt(samples: Path, data: Path, loader: str | None) -> float:
    """Every stream loaded by dlt (`merge` on record_id) into `data`/dlt.duckdb; seconds (extract+normalize+load)."""
    import dlt

    payloads = sources(samples)
    resources = [
        dlt.resource(
            dlt_rows(spec, payloads[spec.system]),
            name=spec.table.name,
            write_disposition="merge",
            primary_key="record_id",
            columns={"payload": {"data_type": "json"}},
        )
        for spec in STREAMS
    ]
    pipeline = dlt.pipeline(
        pipeline_name=f"raw_{data.name}",
        pipelines_dir=str(data / "dlt_pipelines"),
        destination=dlt.destinations.duckdb(str(data / "dlt.duckdb")),
        dataset_name="raw",
    )
    settle()
    started = time.perf_counter()
    pipeline.run(resources, loader_file_format=loader)
    return time.perf_counter() - started


def row_count(database: Path, schema: str) -> int:
    """Rows of every stream's raw table in `database` (`schema`: main for ours, the dataset for dlt's)."""
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        return sum(con.execute(f"SELECT COUNT(*) FROM {schema}.{s.table.name}").fetchall()[0][0] for s in STREAMS)
    finally:
        con.close()


def spread(values: list[float], fmt: str = ".2f") -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def bench(items: int, reps: int, default_loader: bool, tmp: Path) -> dict[str, Any]:
    samples = tmp / f"samples-{items}"
    written = generate(samples, items)
    runs: dict[str, list[float]] = {}
    variants = [("dlt-parquet", "parquet")] + ([("dlt-default", None)] if default_loader else [])
    for rep in range(reps):
        data = tmp / f"ours-{items}-{rep}"
        data.mkdir()
        runs.setdefault("ours", []).append(land_ours(samples, data))
        runs.setdefault("ours re-load", []).append(land_ours(samples, data))
        ours_rows = row_count(data / "warehouse.duckdb", "main")
        for name, loader in variants:
            dlt_data = tmp / f"{name}-{items}-{rep}"
            dlt_data.mkdir()
            runs.setdefault(name, []).append(land_dlt(samples, dlt_data, loader))
            runs.setdefault(f"{name} re-load", []).append(land_dlt(samples, dlt_data, loader))
            dlt_rows_landed = row_count(dlt_data / "dlt.duckdb", "raw")
            if dlt_rows_landed != ours_rows:
                raise SystemExit(f"{name} holds {dlt_rows_landed} rows, ours {ours_rows}: not the same load")
            shutil.rmtree(dlt_data, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    print(f"\n{written:,} items ({items:,} generated docs), {reps} rep(s), interleaved")
    for name, values in runs.items():
        print(f"  {name:<22}{spread(values):>24} s")
    ratios = {}
    for name, _ in variants:
        ratio = [d / o for d, o in zip(runs[name], runs["ours"], strict=True)]
        again = [d / o for d, o in zip(runs[f"{name} re-load"], runs["ours re-load"], strict=True)]
        ratios[name], ratios[f"{name} re-load"] = ratio, again
        print(f"  {name} / ours: {spread(ratio)}x (target >= {TARGET}x); re-load: {spread(again, '.1f')}x")
    return {"items": written, "seconds": runs, "ratios": ratios}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--default-loader", action="store_true", help="also dlt's default loader")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_ITEMS} items, 1 rep: the machinery only")
    args = parser.parse_args(argv)
    sizes, reps = ([SMOKE_ITEMS], 1) if args.smoke else (args.items, max(1, args.reps))
    logging.getLogger("dlt").setLevel(logging.WARNING)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    tmp = Path(tempfile.mkdtemp(prefix="sophia-raw-vs-dlt-"))
    try:
        results = [bench(n, reps, args.default_loader, tmp) for n in sizes]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
