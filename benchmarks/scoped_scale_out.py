"""Two partitions of one warehouse: the downstream runs of two source-run scopes one after the other, then at once.

    python benchmarks/scoped_scale_out.py [--docs 10000] [--reps 3] [--samples DIR] [--json FILE]
    python benchmarks/scoped_scale_out.py --smoke     # 300 docs, 1 rep: the machinery only

Each rep lands one corpus (tools.sample_factory) into two fresh local warehouses, in a child process, splits every
stream's source runs in two (every other partition key: two partitions' worth of work each), then runs each scope's
normalize, chunk and embed stages (what `data_pipeline` runs with `pipeline.source_runs` set), the stages'
own code with their own connections:
one scope after the other on the first warehouse, and both at once (two threads) on the second. Reps alternate which
comes first. Prints the speed-up (sequential / parallel) as median (min-max), and the cores the sequential pass
kept busy: two scopes at once on 2 cores cannot take less than their summed CPU time / 2.

This measures the local backends. DuckDB admits one writer *process* per file, so two scopes of one local warehouse
share one process (threads, each with its own connections); whatever holds the GIL (normalizing, chunking, building
frames) runs one thread at a time. In production (Snowflake, Pinecone, TEI, step pods) the scopes are separate runs
in separate pods, and the shared services take concurrent writers (docs/performance.md, Scale-out).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/ and benchmarks/ are checkout-only

from benchmarks.pipeline_throughput import REPO, RESULT_PREFIX, spread

TARGET_SPEEDUP = 1.7
SMOKE_DOCS = 300
CONFLICT_RETRIES = 8


def split_scopes(instance: Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Every stream's registered source runs split in two: every other partition key on each side."""
    from sophia_pipelines.streams import STREAMS

    first: dict[str, list[str]] = {}
    second: dict[str, list[str]] = {}
    for stream in STREAMS:
        keys = sorted(instance.get_dynamic_partitions(stream.partitions_name))
        if keys[::2]:
            first[stream.table.name] = keys[::2]
        if keys[1::2]:
            second[stream.table.name] = keys[1::2]
    if not first or not second:  # an empty scope is no scope: it would select everything
        raise SystemExit("the corpus needs at least two source runs to split")
    return first, second


def scoped_stages(data: Path, samples: Path) -> Callable[[dict[str, list[str]]], dict[str, float]]:
    """A function that runs the downstream stages for one scope on the warehouse in `data`, with resources (and
    connections) of its own each time it is called."""
    import duckdb

    from resources.registry import local_resources
    from sophia_pipelines.stages.chunks import rechunk_changed
    from sophia_pipelines.stages.documents import normalize_pending
    from sophia_pipelines.stages.scope import SourceRunScope
    from sophia_pipelines.stages.vectors import sync_vectors
    from sophia_pipelines.streams import STREAMS, normalizers, raw_tables

    specs, routes = raw_tables(STREAMS), normalizers(STREAMS)

    def run(runs: dict[str, list[str]]) -> dict[str, float]:
        res = local_resources(data, samples)
        warehouse, embedder, store, pipeline = (res[k] for k in ("warehouse", "embedder", "vector_store", "pipeline"))
        scope = SourceRunScope.of(runs)
        max_chars, overlap = pipeline.chunk_max_chars, pipeline.chunk_overlap_chars
        seconds: dict[str, float] = {"conflicts": 0}

        def stage(name: str, work: Callable[[], Any]) -> Any:
            """`work`, again after a write-write conflict with the other scope (DuckDB's optimistic concurrency:
            both inserted one document or chunk); the stages keep finished batches, so a retry does the rest."""
            t0 = time.perf_counter()
            for attempt in range(CONFLICT_RETRIES):
                try:
                    out = work()
                    break
                except (duckdb.TransactionException, duckdb.ConstraintException):
                    if attempt + 1 == CONFLICT_RETRIES:
                        raise
                    seconds["conflicts"] += 1
                    time.sleep(random.uniform(0, 0.1 * 2**attempt))  # the two scopes' retries drift apart
            seconds[name] = time.perf_counter() - t0
            return out

        def documents() -> None:
            with warehouse.session() as s:
                normalize_pending(s, specs, normalizers=routes, scope=scope)

        def chunks() -> None:
            with warehouse.session() as s:
                rechunk_changed(s, max_chars, overlap, embedder.model_id, scope=scope, raw_specs=specs)

        stage("documents", documents)
        stage("chunks", chunks)
        vectors = stage(
            "vectors",
            lambda: sync_vectors(warehouse, embedder, store, pipeline.embed_batch_size, scope=scope, raw_specs=specs),
        )
        seconds["chunks_embedded"] = vectors.chunks_embedded
        return seconds

    return run


def land(data: Path, samples: Path) -> Any:
    """Land every source run of `samples` into a fresh warehouse in `data`, and create the downstream tables (as a
    warehouse that has run before has them: DuckDB refuses two concurrent CREATEs of one table); the instance
    holding the partitions."""
    import dagster as dg

    from resources.registry import local_resources, resolve_all
    from sophia_pipelines.assets.ingestion import build_ingestion_assets, build_land_jobs
    from sophia_pipelines.land import land_sources
    from sophia_pipelines.streams import STREAMS, all_tables

    defs = dg.Definitions(
        assets=build_ingestion_assets("duckdb"), jobs=build_land_jobs(), resources=local_resources(data, samples)
    )
    instance = dg.DagsterInstance.ephemeral()
    if not land_sources(defs, instance).success:
        raise SystemExit(f"landing {samples} failed")
    res = resolve_all({k: defs.resources[k] for k in ("warehouse", "vector_store")}, instance)
    with res["warehouse"].session() as session:
        session.ensure_tables(all_tables(STREAMS))
    store = res["vector_store"]
    with store._open() as con:  # the store creates its table on its first write
        store._create_table(con)
    return instance


def child(samples: Path, tmp: Path, parallel_first: bool) -> dict[str, Any]:
    from resources.registry import local_resources

    local_resources(tmp / "warm", samples)["embedder"].embed(["warm up the model", "and its tokenizer"])
    seq_data, par_data = tmp / "sequential", tmp / "parallel"
    instance = land(seq_data, samples)
    land(par_data, samples)
    first, second = split_scopes(instance)

    def timed(work: Callable[[], list[dict[str, float]]]) -> dict[str, Any]:
        wall, cpu = time.perf_counter(), time.process_time()
        stages = work()
        return {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu, "stages": stages}

    def sequential() -> dict[str, Any]:
        run = scoped_stages(seq_data, samples)
        return timed(lambda: [run(first), run(second)])

    def parallel() -> dict[str, Any]:
        run = scoped_stages(par_data, samples)
        stages: list[dict[str, float]] = [{}, {}]
        errors: list[BaseException] = []

        def work(i: int, runs: dict[str, list[str]]) -> None:
            try:
                stages[i] = run(runs)
            except BaseException as exc:  # reported below: a failed scope fails the measurement
                errors.append(exc)

        def both() -> list[dict[str, float]]:
            threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate((first, second))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise errors[0]
            return stages

        return timed(both)

    order = (("parallel", parallel), ("sequential", sequential))
    out = {name: fn() for name, fn in (order if parallel_first else order[::-1])}
    out["same_result"] = same_state(seq_data / "warehouse.duckdb", par_data / "warehouse.duckdb")
    return out


def same_state(a: Path, b: Path) -> bool:
    """Whether the two warehouses hold the same documents, chunks and ledger (what each pass produced)."""
    import duckdb

    def state(path: Path) -> list[Any]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return [
                con.execute(sql).fetchall()
                for sql in (
                    "SELECT document_id, content_hash FROM documents ORDER BY 1",
                    "SELECT chunk_id, content_hash FROM chunks ORDER BY 1",
                    "SELECT chunk_id, content_hash, model_id FROM vector_ledger ORDER BY 1",
                )
            ]
        finally:
            con.close()

    return state(a) == state(b)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        result = child(Path(argv[1]), Path(argv[2]), argv[3] == "parallel-first")
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--samples", type=Path, help="use this corpus (a sample_factory --out folder)")
    parser.add_argument("--json", type=Path, help="also write every rep's figures here")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_DOCS} docs, 1 rep: the machinery only")
    args = parser.parse_args(argv)
    if args.smoke:
        args.docs, args.reps = SMOKE_DOCS, 1
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="sophia-scoped-") as tmp_dir:
        tmp = Path(tmp_dir)
        samples = args.samples.resolve() if args.samples else tmp / "samples"
        if not args.samples:
            gen = [sys.executable, "-m", "tools.sample_factory", "--out", str(samples), "--documents", str(args.docs)]
            subprocess.run(gen, cwd=REPO, check=True, capture_output=True)
        reps = []
        for rep in range(max(1, args.reps)):
            order = "parallel-first" if rep % 2 else "sequential-first"
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                str(samples),
                str(tmp / f"rep-{rep}"),
                order,
            ]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"rep {rep} failed:\n{proc.stderr[-3000:]}")
            line = next(x for x in proc.stdout.splitlines()[::-1] if x.startswith(RESULT_PREFIX))
            out = json.loads(line[len(RESULT_PREFIX) :])
            if not out["same_result"]:
                raise SystemExit(f"rep {rep}: the parallel scopes left another state than the sequential ones")
            seq, par = out["sequential"], out["parallel"]
            reps.append(out)
            print(
                f"rep {rep} ({order}): sequential {seq['seconds']:.2f}s ({seq['cpu_seconds'] / seq['seconds']:.2f} "
                f"cores busy), parallel {par['seconds']:.2f}s ({par['cpu_seconds'] / par['seconds']:.2f} cores), "
                f"speed-up {seq['seconds'] / par['seconds']:.2f}x",
                flush=True,
            )
    speedups = [r["sequential"]["seconds"] / r["parallel"]["seconds"] for r in reps]
    ceilings = [r["sequential"]["seconds"] / (r["sequential"]["cpu_seconds"] / 2) for r in reps]
    print(
        f"\n2 scopes of one local warehouse, {args.docs:,} docs: speed-up {spread(speedups, '.2f')}x "
        f"(target >= {TARGET_SPEEDUP}x); ceiling on 2 cores for the sequential CPU use {spread(ceilings, '.2f')}x"
    )
    if args.json:
        args.json.write_text(json.dumps(reps, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
