"""Retrieval quality and latency: vector-only, lexical-only and hybrid side by side, on labeled queries.

    python benchmarks/retrieval_eval.py                  # bundled samples, then a generated ~100k-chunk corpus
    python benchmarks/retrieval_eval.py --chunks 0       # bundled samples only
    python benchmarks/retrieval_eval.py --chunks 20000   # a smaller generated corpus
    python benchmarks/retrieval_eval.py --smoke          # bundled samples, a few queries of each kind (CI)

For each corpus the whole data graph is materialized on local defaults into a temp dir (as the demo does), then
labeled queries are built from the warehouse's documents:
  * titles: a document's exact title (relevant: every document with that title; the samples repeat titles),
  * phrases: 8 consecutive words remembered from a document's text (relevant: every document containing them;
    phrases shared by more than 5 documents are not distinctive and are skipped),
  * paraphrases (bundled samples only): hand-written questions in other words (`PARAPHRASES`).
Each query runs through `sophia_pipelines.search.hybrid_search` in each mode (k=10, model loaded and warm);
a query is found at the rank of the first result whose collapsed documents include a relevant one. Printed:
recall@1, recall@5, MRR@10 and p50/p95 latency per mode, and the lexical index build's share of the first run.
Targets (issue 10): recall@5 >= 0.95 titles, >= 0.90 phrases, hybrid >= vector on paraphrases, p95 <= 50 ms at
100k chunks, index build <= 10% of a first run.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/ is a checkout-only package

from resources.payloads import BUNDLED_SAMPLES_DIR
from resources.registry import local_resources
from sophia_pipelines.assets.ingestion import build_ingestion_assets, build_land_jobs
from sophia_pipelines.assets.lexical import build_lexical_assets
from sophia_pipelines.assets.vectors import build_vector_assets
from sophia_pipelines.assets.warehouse import build_warehouse_assets
from sophia_pipelines.jobs import data_pipeline_job
from sophia_pipelines.land import land_everything
from sophia_pipelines.search import MODES, Mode, hybrid_search

K = 10
PHRASE_WORDS = 8
MAX_PHRASE_DOCUMENTS = 5
CHUNKS_PER_GENERATED_DOCUMENT = 1.21  # measured: the sample factory (clean) makes 67,142 chunks from 55,556 documents

# Hand-written paraphrases of bundled sample pages: (question, title fragments of the relevant documents).
PARAPHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("how do I stop CPU-only jobs from landing on expensive accelerator machines in k8s", ("idle accelerators",)),
    ("turning scraped company web pages and LinkedIn exports into enriched sales leads", ("lead enrichment",)),
    ("which number tells the on-call engineer whether change data capture keeps up", ("Consumer lag",)),
    ("merging keyword and embedding result lists without calibrating their scores", ("Reciprocal rank fusion",)),
    ("keeping features identical between model training and online prediction", ("Training-serving skew",)),
    ("who are the decision makers when you sell machine learning platform infrastructure", ("Who buys AI",)),
    ("spending fewer credits on the Snowflake bill", ("Cutting Snowflake credits", "Warehouse sizing")),
    ("adapting a very large language model cheaply with low-rank adapters", ("LoRA",)),
    ("choosing an approximate nearest neighbour index for hundreds of millions of embeddings", ("HNSW",)),
    ("keeping malformed records out of the warehouse", ("Quarantine tables", "Data contracts")),
    ("making the first word of a chatbot reply appear sooner", ("time to first token",)),
    ("picking a text embedding model that works across many languages", ("multilingual",)),
    ("streaming row changes out of the Postgres write-ahead log into Kafka", ("Debezium", "Consumer lag")),
    ("splitting documents into passages so retrieval-augmented generation answers better", ("chunking", "re-chunking")),
    ("noticing a production model degrading before its accuracy falls", ("model drift",)),
    ("running LLM weights in 8-bit precision without losing quality", ("Quantization", "INT8")),
    ("serving many LLM requests at once by batching and paging the attention cache", ("Continuous batching", "vLLM")),
    ("cooling very dense GPU racks with liquid", ("liquid cooling",)),
    ("keeping European customer data inside the EU for AI workloads", ("Data residency", "PII redaction")),
    ("scheduling training runs for when the electricity grid is greenest", ("Carbon-aware",)),
    ("sharing one GPU between many teams", ("Time-slicing vs MIG",)),
    ("instrumenting LLM applications with traces and spans", ("OpenTelemetry",)),
    ("replacing a pile of cron jobs with an asset-based orchestrator", ("cron jobs",)),
    ("limiting how many steps an autonomous agent may take", ("Step budgets",)),
)


@dataclass(frozen=True, slots=True)
class LabeledQuery:
    kind: str
    text: str
    relevant: frozenset[str]


@dataclass(frozen=True, slots=True)
class Scores:
    recall_at_1: float
    recall_at_5: float
    mrr: float
    p50_ms: float
    p95_ms: float
    queries: int


def materialize(samples: Path, data: Path) -> tuple[float, dict[str, float], int]:
    """Land everything and update downstream; (first-run seconds, {step: seconds}, chunk count)."""
    resources = local_resources(data, samples)
    assets = [
        *build_ingestion_assets("duckdb"),
        *build_warehouse_assets("duckdb"),
        *build_vector_assets("duckdb"),
        *build_lexical_assets("duckdb"),
    ]
    defs = dg.Definitions(assets=assets, jobs=[*build_land_jobs(), data_pipeline_job], resources=resources)
    with dg.DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = land_everything(defs, instance)
        elapsed = time.perf_counter() - started
        if not result.success:
            raise SystemExit("materializing the corpus failed: " + "; ".join(result.failures()))
        steps = {
            s.step_key: (s.end_time or 0) - (s.start_time or 0)
            for run_id in result.run_ids
            for s in instance.get_run_step_stats(run_id)
        }
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    chunks = int(con.execute("SELECT count(*) FROM chunks").fetchone()[0])
    con.close()
    return elapsed, steps, chunks


def documents(data: Path) -> list[tuple[str, str | None, str]]:
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    rows = con.execute("SELECT document_id, title, text FROM documents ORDER BY document_id").fetchall()
    con.close()
    return rows


def _norm(text: str) -> str:
    return " ".join(text.split())


def labeled_queries(
    docs: Sequence[tuple[str, str | None, str]], per_kind: int, seed: int, paraphrases: bool
) -> list[LabeledQuery]:
    """Title, phrase (and for the samples, paraphrase) queries with their relevant document ids."""
    rng = random.Random(seed)
    by_title: dict[str, set[str]] = {}
    for doc_id, title, _ in docs:
        if title and _norm(title):
            by_title.setdefault(_norm(title).lower(), set()).add(doc_id)
    titled = [(doc_id, _norm(title)) for doc_id, title, _ in docs if title and _norm(title)]
    rng.shuffle(titled)
    queries, seen = [], set()
    for _, title in titled:
        if title.lower() not in seen and len(queries) < per_kind:
            seen.add(title.lower())
            queries.append(LabeledQuery("titles", title, frozenset(by_title[title.lower()])))
    texts = [(doc_id, _norm(text)) for doc_id, _, text in docs]
    order = list(range(len(texts)))
    rng.shuffle(order)
    phrases = 0
    for n in order:
        if phrases >= per_kind:
            break
        words = texts[n][1].split(" ")
        if len(words) < PHRASE_WORDS * 2:
            continue
        start = rng.randrange(0, len(words) - PHRASE_WORDS)
        phrase = " ".join(words[start : start + PHRASE_WORDS])
        relevant = {doc_id for doc_id, text in texts if phrase in text}
        if len(relevant) <= MAX_PHRASE_DOCUMENTS:
            queries.append(LabeledQuery("phrases", phrase, frozenset(relevant)))
            phrases += 1
    if paraphrases:
        for question, fragments in PARAPHRASES:
            relevant = {
                doc_id for doc_id, title, _ in docs if title and any(f.lower() in title.lower() for f in fragments)
            }
            if relevant:
                queries.append(LabeledQuery("paraphrases", question, frozenset(relevant)))
    return queries


def evaluate(queries: Sequence[LabeledQuery], stores: tuple, mode: Mode) -> dict[str, Scores]:
    """Per query kind: recall@1, recall@5, MRR@K and latency of `mode`."""
    embedder, vector_store, lexical_store = stores
    ranks: dict[str, list[int | None]] = {}
    latency: dict[str, list[float]] = {}
    for q in queries:
        t0 = time.perf_counter()
        response = hybrid_search(q.text, embedder, vector_store, lexical_store, k=K, mode=mode)
        latency.setdefault(q.kind, []).append((time.perf_counter() - t0) * 1000)
        results = response.results or response.closest
        rank = next(
            (n for n, r in enumerate(results, start=1) if q.relevant & {r.document_id, *r.duplicates}),
            None,
        )
        ranks.setdefault(q.kind, []).append(rank)
    out = {}
    for kind, found in ranks.items():
        times = np.asarray(latency[kind])
        out[kind] = Scores(
            recall_at_1=sum(r == 1 for r in found) / len(found),
            recall_at_5=sum(r is not None and r <= 5 for r in found) / len(found),
            mrr=sum(1 / r for r in found if r) / len(found),
            p50_ms=float(np.percentile(times, 50)),
            p95_ms=float(np.percentile(times, 95)),
            queries=len(found),
        )
    return out


def report(
    name: str, chunks: int, first_s: float, steps: dict[str, float], table: dict[Mode, dict[str, Scores]]
) -> str:
    build = steps.get("chunk_lexical_index", 0.0)
    lines = [
        f"\n== {name}: {chunks:,} chunks; first run {first_s:.1f}s, lexical index build {build:.2f}s "
        f"= {build / first_s:.1%} of it (target <= 10%)",
        f"{'queries':<12}{'mode':<9}{'n':>5}{'R@1':>7}{'R@5':>7}{'MRR':>7}{'p50 ms':>9}{'p95 ms':>9}",
    ]
    kinds = sorted(
        {kind for scores in table.values() for kind in scores}, key=["titles", "phrases", "paraphrases"].index
    )
    for kind in kinds:
        for mode, scores in table.items():
            s = scores[kind]
            lines.append(
                f"{kind:<12}{mode:<9}{s.queries:>5}{s.recall_at_1:>7.2f}{s.recall_at_5:>7.2f}{s.mrr:>7.2f}"
                f"{s.p50_ms:>9.1f}{s.p95_ms:>9.1f}"
            )
    return "\n".join(lines)


def run_corpus(name: str, samples: Path, data: Path, per_kind: int, paraphrases: bool) -> str:
    first_s, steps, chunks = materialize(samples, data)
    resources = local_resources(data, samples)
    stores = (resources["embedder"], resources["vector_store"], resources["lexical_store"])
    queries = labeled_queries(documents(data), per_kind, seed=11, paraphrases=paraphrases)
    hybrid_search("warm up the model and the index", *stores, k=K)  # load once, outside the timings
    table = {mode: evaluate(queries, stores, mode) for mode in MODES[::-1]}  # lexical, dense, hybrid
    return report(name, chunks, first_s, steps, table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000, help="generated corpus size (0: samples only)")
    parser.add_argument("--queries", type=int, default=300, help="title and phrase queries per corpus, each")
    parser.add_argument("--smoke", action="store_true", help="bundled samples, 20 queries per kind (for CI)")
    args = parser.parse_args(argv)
    per_kind = 20 if args.smoke else args.queries
    with tempfile.TemporaryDirectory(prefix="sophia-retrieval-") as tmp_name:
        tmp = Path(tmp_name)
        print(run_corpus("bundled samples", BUNDLED_SAMPLES_DIR, tmp / "samples-data", per_kind, True), flush=True)
        if args.chunks and not args.smoke:
            from tools.sample_factory import write_samples

            n_documents = max(1, round(args.chunks / CHUNKS_PER_GENERATED_DOCUMENT))
            write_samples(tmp / "generated", n_documents=n_documents, messy=False)
            print(run_corpus("generated corpus", tmp / "generated", tmp / "generated-data", per_kind, False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
