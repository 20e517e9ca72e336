"""Pipeline throughput on N generated documents, side by side with the bare embedding model.

    python benchmarks/pipeline_throughput.py [--docs 10000] [--reps 3] [--clean] [--profile FILE] [--stock] [--all]
    python benchmarks/pipeline_throughput.py --smoke [--all]
    python benchmarks/pipeline_throughput.py --scale-out [--pinned] [--docs 10000]

Generates N documents shaped like the bundled samples (tools.sample_factory, in a child process), then runs, each
in a fresh child process so that memory and warm caches do not leak between measurements, interleaved:

    pipeline rep 0, bare, pipeline rep 1, bare, ..., pipeline rep R-1, bare

* a pipeline rep materializes the whole data graph (land jobs, then `data_pipeline` with the lexical index) on local
  defaults into a fresh data directory (first run), then again with nothing changed (re-run), both through
  `land_everything` as `python -m sophia_pipelines.land` runs it (an idle re-run launches nothing; `--all`: every
  job is launched again, as the CLI's `--all`), and samples its RSS every 25 ms to report the peak per stage;
* a bare rep embeds the chunk texts of rep 0's warehouse with the same embedder, batch by batch, timing only
  the model (`Embedder.embed`); each pipeline rep after the first is compared with the bare reps before and after.

Prints, as median (min-max) over the reps: first run / bare model, embed stage / bare model, no-change re-run /
first run, stage times and peak RSS per stage. `--stock` also times wordllama's own padded `embed` on the same
batches (the pooling before/after). `--scale-out` runs two independent pipelines of N/2 documents one after the
other, then at once. `--smoke` (300 docs, 1 rep) checks the machinery in seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tools/ is a checkout-only package

SMOKE_DOCS = 300
SCALE_OUT_START_DELAY = 60.0  # seconds for both parallel children to import, load and warm up before they start
RSS_SAMPLE_SECONDS = 0.025
RESULT_PREFIX = "RESULT "
TARGETS = {  # the targets, printed next to the measurements
    "first_run_over_bare": "<= 1.3",
    "embed_stage_over_bare": "close to 1",
    "rerun_over_first_run": "<= 0.05",
    "peak_rss_mb": "<= 1024",
}


# --- children -------------------------------------------------------------------------------------------------


class RssSampler:
    """Samples this process's RSS every `interval` seconds in a daemon thread: [(unix time, bytes)]."""

    def __init__(self, interval: float = RSS_SAMPLE_SECONDS) -> None:
        import psutil

        self.samples: list[tuple[float, int]] = []
        self._process, self._interval, self._stop = psutil.Process(), interval, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._process.memory_info().rss))
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self, start: float, end: float) -> float:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return max(inside, default=0) / 2**20


def warmup_texts() -> list[str]:
    """The bundled samples' chunk texts: realistic input, not part of the measured set."""
    from resources.payloads import BUNDLED_SAMPLES_DIR
    from sophia_pipelines.domain.chunking import chunk_document
    from sophia_pipelines.domain.normalize import normalize_records
    from tools.sample_factory import load_sample_records

    records = load_sample_records(BUNDLED_SAMPLES_DIR)
    return [c.text for d in normalize_records(records).documents for c in chunk_document(d.document_id, d.text)]


def run_pipeline(
    data: Path, samples: Path, profile: Path | None, start_at: float = 0.0, launch_all: bool = False
) -> dict[str, Any]:
    """First run and no-change re-run of the whole graph (land every stream, then `data_pipeline`).

    `launch_all`: both passes launch every job (`land_everything(skip_unchanged=False)`, the CLI's `--all`).
    """
    import dagster as dg

    from resources.registry import local_resources
    from sophia_pipelines.assets.ingestion import build_ingestion_assets, build_land_jobs
    from sophia_pipelines.assets.lexical import build_lexical_assets
    from sophia_pipelines.assets.vectors import build_vector_assets
    from sophia_pipelines.assets.warehouse import build_warehouse_assets
    from sophia_pipelines.jobs import data_pipeline_job
    from sophia_pipelines.land import land_everything

    resources = local_resources(data, samples)
    assets = [
        *build_ingestion_assets("duckdb"),
        *build_warehouse_assets("duckdb"),
        *build_vector_assets("duckdb"),
        *build_lexical_assets("duckdb"),
    ]
    defs = dg.Definitions(assets=assets, jobs=[*build_land_jobs(), data_pipeline_job], resources=resources)
    resources["embedder"].embed(warmup_texts())  # model loaded and warm, outside the measurement
    time.sleep(max(0.0, start_at - time.time()))  # scale-out: parallel children start their first runs together

    out: dict[str, Any] = {}
    with dg.DagsterInstance.ephemeral() as instance, RssSampler() as rss:
        for label in ("first", "rerun"):
            profiler = cProfile.Profile() if profile and label == "first" else None
            started, started_at, cpu_started = time.perf_counter(), time.time(), time.process_time()
            if profiler:
                profiler.enable()
            result = land_everything(defs, instance, skip_unchanged=not launch_all)
            if profiler:
                profiler.disable()
                profiler.dump_stats(profile)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            if not result.success:
                raise SystemExit(f"{label} run failed: " + "; ".join(result.failures()))
            steps: dict[str, dict[str, float]] = {}
            for run_id in result.run_ids:
                for s in instance.get_run_step_stats(run_id):
                    start, end = s.start_time or 0.0, s.end_time or 0.0
                    steps[s.step_key] = {"seconds": end - start, "peak_rss_mb": rss.peak_mb(start, end)}
            metadata = {
                e.materialization.asset_key.to_user_string(): {
                    k: v.value for k, v in e.materialization.metadata.items() if isinstance(v.value, int | float)
                }
                for e in result.get_asset_materialization_events()
            }
            out[label] = {
                "seconds": elapsed,
                "cpu_seconds": cpu,  # every thread of the process: cpu / seconds = cores kept busy
                "started_at": started_at,
                "steps": steps,
                "metadata": metadata,
            }
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_bare(warehouse_file: Path, batch_size: int, stock: bool) -> dict[str, Any]:
    """The embedder alone on every chunk text of `warehouse_file`, read in batches; only `embed` is timed."""
    import duckdb

    from resources.registry import local_resources

    embedder = local_resources(warehouse_file.parent / "bare", Path("."))["embedder"]  # the pipeline's embedder
    embedder.embed(warmup_texts())
    from resources.embeddings import load_wordllama

    model = load_wordllama(embedder.config, embedder.dimension) if stock else None
    seconds, stock_s, chunks = 0.0, 0.0, 0
    con = duckdb.connect(str(warehouse_file), read_only=True)
    try:
        reader = con.sql("SELECT text FROM chunks ORDER BY chunk_id").to_arrow_reader(batch_size)
        for batch in reader:
            texts = batch.column(0).to_pylist()
            t0 = time.perf_counter()
            embedder.embed(texts)
            seconds += time.perf_counter() - t0
            chunks += len(texts)
            if model is not None:
                t0 = time.perf_counter()
                model.embed(texts, norm=False, batch_size=embedder.batch_size)
                stock_s += time.perf_counter() - t0
    finally:
        con.close()
    return {
        "seconds": seconds,
        "stock_wordllama_seconds": stock_s if stock else None,
        "chunks": chunks,
        "model_id": embedder.model_id,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_floor(samples: Path, batch_size: int) -> dict[str, Any]:
    """The work every first run must do besides embedding, timed alone in one process with no warehouse, no
    Dagster and no writes: read and parse the payload files, normalize, chunk, tokenize for BM25; then the bare
    embedder on the same chunks (wall and CPU seconds: how many cores the model itself keeps busy)."""
    import pyarrow as pa

    from resources.registry import local_resources
    from resources.tokenizer import chunk_texts, token_lists
    from sophia_pipelines.domain.chunking import chunk_document
    from sophia_pipelines.domain.normalize import normalize_records
    from tools.sample_factory import load_sample_records

    embedder = local_resources(samples.parent / "floor-data", samples)["embedder"]
    embedder.embed(warmup_texts())
    seconds: dict[str, float] = {}

    def timed(name: str, work: Any) -> Any:
        t0 = time.perf_counter()
        out = work()
        seconds[name] = time.perf_counter() - t0
        return out

    records = timed("read_and_parse", lambda: load_sample_records(samples))
    documents = timed("normalize", lambda: normalize_records(records).documents)
    chunks = timed("chunk", lambda: [(d, c) for d in documents for c in chunk_document(d.document_id, d.text)])
    titles = pa.array([d.title for d, _ in chunks], pa.string())
    texts = [c.text for _, c in chunks]
    timed("tokenize", lambda: token_lists(chunk_texts(titles, pa.array(texts, pa.string()))))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for start in range(0, len(texts), batch_size):
        embedder.embed(texts[start : start + batch_size])
    embed_wall, embed_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "records": len(records),
        "documents": len(documents),
        "chunks": len(texts),
        "seconds": seconds,
        "embed_seconds": embed_wall,
        "embed_cpu_seconds": embed_cpu,
    }


def floor_report(floor: dict[str, Any]) -> dict[str, float]:
    """What the floor says about first run / bare model: no pipeline that does this work in sequence can go below
    1 + (work besides embedding) / embedding."""
    rest = sum(floor["seconds"].values())
    ratio = 1 + rest / floor["embed_seconds"]
    print(
        f"\nfloor ({floor['documents']:,} documents, {floor['chunks']:,} chunks; in one process, no I/O but the "
        f"payload files):"
    )
    for name, secs in floor["seconds"].items():
        print(f"  {name:<16}{secs:>8.2f} s")
    print(f"  {'embed (bare)':<16}{floor['embed_seconds']:>8.2f} s wall, {floor['embed_cpu_seconds']:.2f} s CPU")
    target = TARGETS["first_run_over_bare"]
    print(f"  => first run / bare model cannot be below {ratio:.2f} in sequence (target {target})")
    return {"floor_first_run_over_bare": ratio, "embed_cores": floor["embed_cpu_seconds"] / floor["embed_seconds"]}


def child(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["pipeline", "bare", "floor"])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--samples", type=Path)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--stock", action="store_true")
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--cpus", help="run on these CPUs only, e.g. 0 or 0,1 (a pod's CPU limit, locally)")
    args = parser.parse_args(argv)
    if args.cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
    if args.mode == "pipeline":
        result = run_pipeline(args.data, args.samples, args.profile, args.start_at, args.all)
    elif args.mode == "floor":
        result = run_floor(args.samples, args.batch_size)
    else:
        result = run_bare(args.data / "warehouse.duckdb", args.batch_size, args.stock)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


# --- parent ---------------------------------------------------------------------------------------------------


def spawn(*children: Sequence[str]) -> list[dict[str, Any]] | dict[str, Any]:
    """Run this script as children with these args, all at once; their RESULT lines as dicts (one: the dict)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    results = []
    with tempfile.TemporaryDirectory() as logs:
        procs = []
        for i, args in enumerate(children):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
            log = (Path(logs) / f"{i}.log").open("w+")
            procs.append((subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=log, text=True), log, args))
        for i, (proc, log, args) in enumerate(procs):
            stdout, _ = proc.communicate()
            if proc.returncode != 0:
                log.seek(0)
                kept = Path(tempfile.gettempdir()) / f"pipeline_throughput-{args[0]}-{os.getpid()}-{i}.log"
                kept.write_text(log.read())
                raise SystemExit(f"child {args[0]} failed ({proc.returncode}), whole log in {kept}:\n{stdout[-2000:]}")
            log.close()
            lines = [line for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
            results.append(json.loads(lines[-1][len(RESULT_PREFIX) :]))
    return results[0] if len(results) == 1 else results


def scale_out(docs: int, tmp: Path, pinned: bool = False) -> dict[str, float]:
    """Two independent pipelines of `docs`/2 documents each (own corpus, own data directory): one after the
    other, then both at once; the speed-up is the summed sequential first-run time over the parallel span.

    `pinned`: every pipeline runs on one CPU of its own (sequential: CPU 0; parallel: CPU 0 and CPU 1), as pods
    with a one-CPU limit would, so neither borrows the other's core."""
    halves = []
    for seed in (7, 8):
        samples = tmp / f"scale-samples-{seed}"
        gen = [sys.executable, "-m", "tools.sample_factory", "--out", str(samples), "--documents", str(docs // 2)]
        subprocess.run([*gen, "--seed", str(seed)], cwd=REPO, check=True, capture_output=True)
        halves.append(samples)
    sequential = sequential_cpu = 0.0
    for i, samples in enumerate(halves):
        cpus = ["--cpus", "0"] if pinned else []
        run = spawn(["pipeline", "--data", str(tmp / f"scale-seq-{i}"), "--samples", str(samples), *cpus])
        sequential += run["first"]["seconds"]
        sequential_cpu += run["first"]["cpu_seconds"]
    start_at = time.time() + SCALE_OUT_START_DELAY
    both = spawn(
        *(
            [
                "pipeline",
                *("--data", str(tmp / f"scale-par-{i}"), "--samples", str(s), "--start-at", str(start_at)),
                *(["--cpus", str(i)] if pinned else []),
            ]
            for i, s in enumerate(halves)
        )
    )
    span = max(r["first"]["started_at"] + r["first"]["seconds"] for r in both) - min(
        r["first"]["started_at"] for r in both
    )
    # Two pipelines at once need their summed CPU time on 2 cores, so the span is at least half of it: a pipeline
    # that alone keeps more than one core busy (threads in the tokenizer, DuckDB) caps the speed-up below 2x.
    ceiling = sequential / (sequential_cpu / 2)
    print(
        f"\nscale-out{' (one CPU per pipeline)' if pinned else ''}, 2 x {docs // 2:,} docs: "
        f"sequential {sequential:.2f}s ({sequential_cpu / sequential:.2f} cores "
        f"busy), parallel {span:.2f}s, speed-up {sequential / span:.2f}x (target >= 1.7x on 2 cores; "
        f"ceiling on 2 cores for this CPU use: {ceiling:.2f}x)"
    )
    return {
        "sequential_s": sequential,
        "sequential_cpu_s": sequential_cpu,
        "parallel_s": span,
        "speedup": sequential / span,
        "ceiling": ceiling,
        "pinned": pinned,
    }


def spread(values: Sequence[float], fmt: str = ".3f") -> str:
    """'median (min-max)' of `values`."""
    if not values:
        return "n/a"
    med = statistics.median(values)
    return f"{med:{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def summarize(pipelines: list[dict[str, Any]], bares: list[dict[str, Any]]) -> dict[str, Any]:
    """Ratios per rep: pipeline rep i against the bare reps before (i-1) and after (i) it."""
    first, stage, rerun = [], [], []
    for i, rep in enumerate(pipelines):
        around = [bares[j]["seconds"] for j in (i - 1, i) if 0 <= j < len(bares)]
        bare_s = statistics.mean(around)
        first.append(rep["first"]["seconds"] / bare_s)
        stage.append(rep["first"]["steps"]["chunk_vectors"]["seconds"] / bare_s)
        rerun.append(rep["rerun"]["seconds"] / rep["first"]["seconds"])
    return {"first_run_over_bare": first, "embed_stage_over_bare": stage, "rerun_over_first_run": rerun}


def report(docs: int, pipelines: list[dict[str, Any]], bares: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = summarize(pipelines, bares)
    md = pipelines[0]["first"]["metadata"]
    documents, chunks = md["documents"]["dagster/row_count"], md["chunks"]["dagster/row_count"]
    reps = len(pipelines)
    print(f"\n{docs:,} generated docs -> {documents:,} documents, {chunks:,} chunks; {reps} rep(s), interleaved")
    print(f"bare model ({bares[0]['model_id']}): {spread([b['seconds'] for b in bares], '.2f')} s")
    if bares[0].get("stock_wordllama_seconds") is not None:
        stock = [b["stock_wordllama_seconds"] for b in bares]
        print(f"  wordllama's own padded embed, same batches: {spread(stock, '.2f')} s")
    print(f"first run:        {spread([p['first']['seconds'] for p in pipelines], '.2f')} s")
    print(f"no-change re-run: {spread([p['rerun']['seconds'] for p in pipelines], '.2f')} s")
    print(f"\n{'ratio':<26}{'median (min-max)':>28}   target")
    for name, values in ratios.items():
        print(f"{name:<26}{spread(values):>28}   {TARGETS[name]}")
    print(f"\n{'stage (first run)':<36}{'seconds':>22}{'peak RSS MB':>14}{'re-run s':>10}")
    for step in sorted(pipelines[0]["first"]["steps"]):
        secs = [p["first"]["steps"][step]["seconds"] for p in pipelines]
        peak = max(p["first"]["steps"][step]["peak_rss_mb"] for p in pipelines)
        again = statistics.median(p["rerun"]["steps"].get(step, {"seconds": 0.0})["seconds"] for p in pipelines)
        print(f"{step:<36}{spread(secs, '.2f'):>22}{peak:>14,.0f}{again:>10.2f}")
    peak_rss = max(p["peak_rss_mb"] for p in pipelines)
    print(f"\npeak RSS of a whole pipeline process: {peak_rss:,.0f} MB (target {TARGETS['peak_rss_mb']})")
    print(f"peak RSS of a bare-model process:    {max(b['peak_rss_mb'] for b in bares):,.0f} MB")
    return {"docs": docs, "documents": documents, "chunks": chunks, "ratios": ratios, "peak_rss_mb": peak_rss}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", "--documents", type=int, default=10_000, help="3k, 10k, 118k, 500k, ...")
    parser.add_argument("--reps", type=int, default=3, help="pipeline reps (bare reps interleaved)")
    parser.add_argument("--clean", action="store_true", help="generate only valid records (no quarantine)")
    parser.add_argument("--samples", type=Path, help="use this corpus (a sample_factory --out folder), not a new one")
    parser.add_argument("--profile", type=Path, help="cProfile the first run of rep 0 into this file")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--stock", action="store_true", help="also time wordllama's own (padded) embed")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_DOCS} docs, 1 rep: the machinery only")
    parser.add_argument("--scale-out", action="store_true", help="only: 2 independent pipelines at once vs 1 by 1")
    parser.add_argument("--pinned", action="store_true", help="--scale-out with one CPU per pipeline (a pod's limit)")
    parser.add_argument("--floor", action="store_true", help="also time the non-embedding work alone (the floor)")
    parser.add_argument(
        "--all", action="store_true", help="launch every land job and data_pipeline even when nothing changed"
    )
    args = parser.parse_args(argv)
    docs, reps = (SMOKE_DOCS, 1) if args.smoke else (args.docs, max(1, args.reps))
    if args.scale_out:
        tmp = Path(tempfile.mkdtemp(prefix="sophia-scale-"))
        try:
            result = scale_out(docs, tmp, args.pinned)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="sophia-bench-"))
    try:
        samples = args.samples.resolve() if args.samples else tmp / "samples"
        if not args.samples:
            t0 = time.perf_counter()
            gen = [sys.executable, "-m", "tools.sample_factory", "--out", str(samples), "--documents", str(docs)]
            subprocess.run([*gen, *(["--clean"] if args.clean else [])], cwd=REPO, check=True, capture_output=True)
            print(f"generated {docs:,} documents in {time.perf_counter() - t0:.1f}s (child process)", flush=True)
        pipelines: list[dict[str, Any]] = []
        bares: list[dict[str, Any]] = []
        for rep in range(reps):
            data = tmp / f"data-{rep}"
            profile = ["--profile", str(args.profile.resolve())] if args.profile and rep == 0 else []
            launch_all = ["--all"] if args.all else []
            pipelines.append(spawn(["pipeline", "--data", str(data), "--samples", str(samples), *profile, *launch_all]))
            p = pipelines[-1]
            print(
                f"pipeline rep {rep}: first {p['first']['seconds']:.2f}s, re-run {p['rerun']['seconds']:.2f}s, "
                f"peak RSS {p['peak_rss_mb']:,.0f} MB",
                flush=True,
            )
            bares.append(spawn(["bare", "--data", str(tmp / "data-0"), *(["--stock"] if args.stock else [])]))
            print(f"bare rep {rep}: {bares[-1]['seconds']:.2f}s for {bares[-1]['chunks']:,} chunks", flush=True)
            if rep:
                shutil.rmtree(data, ignore_errors=True)
        summary = report(docs, pipelines, bares)
        if args.floor:
            floor = spawn(["floor", "--data", str(tmp / "floor"), "--samples", str(samples)])
            summary["floor"] = floor_report(floor)
        if args.profile:
            print(f"\ncProfile of rep 0's first run ({args.profile}), top 15 by cumulative time:")
            pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(15)
        if args.json:
            args.json.write_text(json.dumps({"summary": summary, "pipelines": pipelines, "bares": bares}, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
