"""The lexical index's cost as the corpus grows: building it, and updating it after one edited document.

    python benchmarks/lexical_update.py --chunks 100000          # build, then edit one document, then query
    python benchmarks/lexical_update.py --chunks 100000 300000   # several sizes (peak RSS should stay flat)
    python benchmarks/lexical_update.py --smoke                  # a tiny corpus (CI)

Per size: a warehouse of generated documents (one ~1,000-character chunk each, words drawn from a Zipf-like
vocabulary, ~110 tokens a chunk as in the 500k-document estimate) is written by a child process; then a fresh child
process runs `sync_lexical` into an empty local store and reports its time and its peak RSS (`ru_maxrss`) over the
process's RSS just before the stage (imports and the warehouse connection); then one document's text is edited,
re-chunked, and `sync_lexical` timed again (the incremental update), and a few queries are timed on the store.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VOCABULARY = 50_000
WORDS_PER_DOCUMENT = 150  # ~1,000 characters: one chunk of at most 1,200
CHUNK_CHARS, OVERLAP_CHARS = 1200, 150


def _words(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randrange(3, 10))) for _ in range(VOCABULARY)]


def generate(database: str, documents: int, seed: int = 5) -> None:
    """Write `documents` generated documents and their chunks to the DuckDB warehouse at `database`."""
    import numpy as np
    import pandas as pd
    from dagster_duckdb import DuckDBResource

    from resources.warehouse import DuckDBWarehouse
    from sophia_pipelines.domain.tables import DOCUMENTS
    from sophia_pipelines.stages.chunks import rechunk_changed

    rng = random.Random(seed)
    words = np.array(_words(rng))
    weights = 1.0 / np.arange(1, VOCABULARY + 1)
    weights /= weights.sum()
    warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=database))
    gen = np.random.default_rng(seed)
    now = datetime(2026, 2, 1, tzinfo=UTC)
    for start in range(0, documents, 20_000):
        n = min(20_000, documents - start)
        picks = gen.choice(VOCABULARY, size=(n, WORDS_PER_DOCUMENT), p=weights)
        texts = [" ".join(row) for row in words[picks]]
        frame = pd.DataFrame(
            {
                "document_id": [f"doc-{start + i:07d}" for i in range(n)],
                "source": "bench/generated",
                "url": [f"https://example.com/{start + i}" for i in range(n)],
                "title": [f"Document {start + i}" for i in range(n)],
                "text": texts,
                "author": None,
                "published_at": now,
                "fetched_at": now,
                "content_hash": [f"h{hash(t)}" for t in texts],
                "raw_record_id": [f"raw-{start + i}" for i in range(n)],
            }
        )
        with warehouse.session() as s:
            s.ensure_tables([DOCUMENTS])
            s.insert(DOCUMENTS, frame)
    with warehouse.session() as s:
        rechunk_changed(s, CHUNK_CHARS, OVERLAP_CHARS, "bench-model")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def build_and_update(database: str, store_dir: str, out: str) -> None:
    """In a fresh process: build the index, edit one document, update, query; results (JSON) into `out`."""
    from dagster_duckdb import DuckDBResource

    from resources.lexical_store import LocalLexicalStore
    from resources.tokenizer import text_tokens
    from resources.warehouse import DuckDBWarehouse
    from sophia_pipelines.stages.chunks import rechunk_changed
    from sophia_pipelines.stages.lexical import sync_lexical

    warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=database))
    store = LocalLexicalStore(directory=store_dir)
    with warehouse.session() as s:
        s.scalar("SELECT 1")
    before = _rss_mb()
    t0 = time.perf_counter()
    built = sync_lexical(warehouse, store, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    build_s = time.perf_counter() - t0
    build_peak = _rss_mb()

    with warehouse.session() as s:
        s.execute(
            "UPDATE documents SET text = 'an edited document about sourdough and rye', content_hash = 'edited' "
            "WHERE document_id = 'doc-0000007'"
        )
        rechunk_changed(s, CHUNK_CHARS, OVERLAP_CHARS, "bench-model")
    t0 = time.perf_counter()
    updated = sync_lexical(warehouse, store)
    update_s = time.perf_counter() - t0

    queries = [text_tokens(q) for q in ("sourdough rye", "document", "edited document about")]
    store.query(queries[0], 50)  # load the segments once
    times = []
    for _ in range(5):
        for q in queries:
            t0 = time.perf_counter()
            store.query(q, 50)
            times.append((time.perf_counter() - t0) * 1000)
    Path(out).write_text(
        json.dumps(
            {
                "chunks": built.chunks_total,
                "build_s": round(build_s, 2),
                "build_pages": built.pages,
                "rss_before_mb": round(before, 1),
                "build_peak_rss_mb": round(build_peak, 1),
                "build_rss_growth_mb": round(build_peak - before, 1),
                "edit_update_s": round(update_s, 3),
                "edit_chunks_indexed": updated.chunks_indexed,
                "segments": len(store.segments()),
                "query_ms_median": round(sorted(times)[len(times) // 2], 1),
                "query_ms_max": round(max(times), 1),
            }
        )
    )


def run(chunks: int, workdir: Path | None = None) -> dict:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="sophia-lexical-", dir=workdir) as tmp:
        database = str(Path(tmp) / "warehouse.duckdb")
        t0 = time.perf_counter()
        child = ctx.Process(target=generate, args=(database, chunks))
        child.start()
        child.join()
        if child.exitcode:
            raise SystemExit("generating the corpus failed")
        generate_s = time.perf_counter() - t0
        out = Path(tmp) / "result.json"
        child = ctx.Process(target=build_and_update, args=(database, str(Path(tmp) / "lexical"), str(out)))
        child.start()
        child.join()
        if child.exitcode:
            raise SystemExit(f"building or updating the index failed (exit code {child.exitcode})")
        return {"generate_s": round(generate_s, 1), **json.loads(out.read_text())}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, nargs="+", default=[100_000], help="corpus sizes (one chunk/doc)")
    parser.add_argument("--smoke", action="store_true", help="a 2,000-chunk corpus")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary warehouse and index go")
    args = parser.parse_args(argv)
    for chunks in [2_000] if args.smoke else args.chunks:
        print(json.dumps(run(chunks, args.workdir)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
