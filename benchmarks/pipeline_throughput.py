"""Pipeline throughput on N generated documents, side by side with the bare embedding model.

    python benchmarks/pipeline_throughput.py [--documents 10000] [--clean]

Generates N documents shaped like the bundled samples (tools.sample_factory), materializes the whole
data graph on local defaults into a temp dir, and prints:
  * per-stage wall time and docs/s (from Dagster's step stats),
  * the embed stage's chunks/s vs. the bare embedding model on the same chunk texts, in the same process
    (target: pipeline >= 0.85 x bare),
  * the no-change re-run time as a fraction of the first run (target <= 0.05),
  * peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/ is a checkout-only package

from resources.payloads import BUNDLED_SAMPLES_DIR
from resources.registry import local_resources
from sophia_pipelines.assets.ingestion import build_ingestion_assets, build_land_jobs
from sophia_pipelines.assets.vectors import build_vector_assets
from sophia_pipelines.assets.warehouse import build_warehouse_assets
from sophia_pipelines.domain.chunking import chunk_document
from sophia_pipelines.domain.normalize import normalize_records
from sophia_pipelines.jobs import data_pipeline_job
from sophia_pipelines.land import land_everything
from tools.sample_factory import load_sample_records, write_samples


def warmup_texts() -> list[str]:
    """The bundled samples' chunk texts: realistic input, not part of the measured set."""
    records = load_sample_records(BUNDLED_SAMPLES_DIR)
    return [c.text for d in normalize_records(records).documents for c in chunk_document(d.document_id, d.text)]


def materialize(assets: list, resources: dict, instance: dg.DagsterInstance) -> tuple[float, dict, dict]:
    """Land everything (one run per stream over its partitions, then `data_pipeline`), as the demo does."""
    defs = dg.Definitions(assets=assets, jobs=[*build_land_jobs(), data_pipeline_job], resources=resources)
    started = time.perf_counter()
    result = land_everything(defs, instance)
    elapsed = time.perf_counter() - started
    steps = {
        s.step_key: (s.end_time or 0) - (s.start_time or 0)
        for run_id in result.run_ids
        for s in instance.get_run_step_stats(run_id)
    }
    metadata = {
        e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    return elapsed, steps, metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--clean", action="store_true", help="generate only valid records (no quarantine)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="sophia-bench-") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        counts = write_samples(tmp / "samples", n_documents=args.documents, messy=not args.clean)
        print(f"generated {sum(counts.values()):,} source documents in {time.perf_counter() - t0:.1f}s: {counts}")

        resources = local_resources(tmp / "data", tmp / "samples")
        assets = [*build_ingestion_assets("duckdb"), *build_warehouse_assets("duckdb"), *build_vector_assets("duckdb")]
        embedder = resources["embedder"]
        # Load the model and reach steady state once, outside both measurements (the first large call is slower).
        embedder.embed(warmup_texts())

        with dg.DagsterInstance.ephemeral() as instance:
            first_s, steps, md = materialize(assets, resources, instance)
            rerun_s, steps2, md2 = materialize(assets, resources, instance)

        docs = md["documents"]["dagster/row_count"]
        chunks = md["chunks"]["dagster/row_count"]
        print(f"\nfirst run: {first_s:.2f}s for {docs:,} documents, {chunks:,} chunks")
        print(f"{'stage':<36}{'seconds':>9}{'docs/s':>12}")
        for step, seconds in sorted(steps.items(), key=lambda kv: kv[0]):
            print(f"{step:<36}{seconds:>9.2f}{docs / seconds if seconds else 0:>12,.0f}")

        con = duckdb.connect(str(tmp / "data" / "warehouse.duckdb"), read_only=True)
        texts = [r[0] for r in con.execute("SELECT text FROM chunks ORDER BY chunk_id").fetchall()]
        con.close()
        t0 = time.perf_counter()
        embedder.embed(texts)
        bare_s = time.perf_counter() - t0
        bare_rate = len(texts) / bare_s
        stage_rate = md["chunk_vectors"]["chunks_embedded"] / steps["chunk_vectors"]
        print(f"\nembedding, {len(texts):,} chunks ({embedder.model_id}):")
        print(f"  bare model            {bare_rate:>10,.0f} chunks/s  ({bare_s:.2f}s)")
        stage_s = steps["chunk_vectors"]
        print(f"  pipeline embed stage  {stage_rate:>10,.0f} chunks/s  ({stage_s:.2f}s, incl. reads/writes)")
        print(f"  ratio                 {stage_rate / bare_rate:>10.2f}   (target >= 0.85)")

        changed = sum(
            m.get("rows_inserted", 0) + m.get("rows_updated", 0) + m.get("chunks_embedded", 0) for m in md2.values()
        )
        print(f"\nno-change re-run: {rerun_s:.2f}s = {rerun_s / first_s:.3f} of the first run (target <= 0.05)")
        print(f"  rows/chunks changed by the re-run: {changed}")
        print("  " + ", ".join(f"{k} {v:.2f}s" for k, v in sorted(steps2.items())))
        v = md["chunk_vectors"]
        print(f"embed stage breakdown: embed {v['embed_seconds']}s, writes {v['write_seconds']}s")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
