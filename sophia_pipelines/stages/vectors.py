"""Embed chunks whose content is new to the vector store; remove vectors of chunks that are gone.

A ledger table in the warehouse (`vector_ledger`: chunk_id, content_hash, model_id) records what the vector store
holds, so the diff is a warehouse query in both modes (no listing of Pinecone needed). Pending chunks are read,
embedded and written in batches of `batch_size` (pages in chunk_id order), and each batch's ledger rows are
written right after its upsert, so a failure keeps every finished batch and the next run only does the rest:
no chunk is embedded twice across runs, whatever batch failed. A store found empty while its ledger is not (wiped
or replaced in place) is filled again: the ledger is cleared first, as the lexical stage does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from resources.embeddings import Embedder
from resources.tables import TableSpec
from resources.vector_store import SNIPPET_MAX_CHARS, VectorBatch, VectorRecord, VectorStore
from resources.warehouse import Warehouse
from sophia_pipelines.domain.chunking import Chunk
from sophia_pipelines.domain.tables import CHUNKS, VECTOR_LEDGER
from sophia_pipelines.stages.chunks import pending_embedding
from sophia_pipelines.stages.ledger import forget_wiped_store
from sophia_pipelines.stages.paging import keyset_pages
from sophia_pipelines.stages.scope import EVERYTHING, Condition, SourceRunScope, documents_condition
from sophia_pipelines.stages.write_behind import WriteBehind

# One page of pending chunks after a chunk_id (keyset paging): the top-N picks ids only (the anti-join and sort carry
# no texts, so they stay within DuckDB's memory_limit), then just those rows' texts are read. A single cursor
# `ORDER BY chunk_id` over all pending texts was materialized outside the memory_limit (1.49 GB peak at 118k).
# NOT EXISTS, not `LEFT JOIN ... WHERE v.chunk_id IS NULL`: DuckDB 2.0.1 drops that form's LIMIT from 10,000 up
# (every pending chunk in one "page"; tests/test_vectors_stage.py pins it). `{within}`: a condition on the chunk `c`
# (a run's source runs), whose parameters come between the model id and the limit.
PENDING_CHUNKS_PAGE_TEMPLATE = """
SELECT chunk_id, document_id, chunk_index, text, content_hash, source, url, title
FROM chunks
WHERE chunk_id IN (
    SELECT c.chunk_id FROM chunks c
    WHERE c.chunk_id > ? AND NOT EXISTS (
        SELECT 1 FROM vector_ledger v
        WHERE v.chunk_id = c.chunk_id AND v.content_hash = c.content_hash AND v.model_id = ?
    ) AND {within}
    ORDER BY c.chunk_id
    LIMIT ?
)
ORDER BY chunk_id
"""
PENDING_CHUNKS_PAGE_SQL = PENDING_CHUNKS_PAGE_TEMPLATE.format(within=EVERYTHING.sql)  # every chunk

ORPHAN_VECTORS_SQL = """
SELECT v.chunk_id FROM vector_ledger v LEFT JOIN chunks c ON c.chunk_id = v.chunk_id
WHERE c.chunk_id IS NULL ORDER BY v.chunk_id
"""


@dataclass(frozen=True, slots=True)
class VectorsResult:
    chunks_embedded: int
    vectors_deleted: int
    vectors_total: int
    embed_seconds: float
    write_seconds: float  # time spent writing, mostly overlapped with embedding


def vector_batch(batch: pd.DataFrame, values: np.ndarray, dimension: int) -> VectorBatch:
    """The chunks of `batch` with their embeddings, in columns (no per-record objects)."""
    columns = {key: batch[key].tolist() for key in ("document_id", "chunk_index", "source", "url", "title")}
    columns["text"] = batch["text"].str.slice(0, SNIPPET_MAX_CHARS).tolist()
    columns["content_hash"] = batch["content_hash"].tolist()
    return VectorBatch.from_columns(batch["chunk_id"].tolist(), values, columns, dimension)


def chunk_record(
    chunk: Chunk, values: np.ndarray | list[float], *, source: str, url: str | None, title: str | None
) -> VectorRecord:
    """The record for one embedded chunk (text kept as a snippet), as `vector_batch` builds them in columns."""
    return VectorRecord(
        id=chunk.chunk_id,
        values=values,
        metadata={
            "document_id": chunk.document_id,
            "chunk_index": chunk.chunk_index,
            "source": source,
            "url": url,
            "title": title,
            "text": chunk.text[:SNIPPET_MAX_CHARS],
            "content_hash": chunk.content_hash,
        },
    )


def ledger_frame(batch: pd.DataFrame, model_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "chunk_id": batch["chunk_id"].to_numpy(),
            "content_hash": batch["content_hash"].to_numpy(),
            "model_id": model_id,
            "embedded_at": datetime.now(UTC),
        }
    )


def pending_pages(
    warehouse: Warehouse, model_id: str, batch_size: int, within: Condition = EVERYTHING
) -> Iterator[pd.DataFrame]:
    """The chunks not yet embedded with `model_id`, `batch_size` at a time in chunk_id order (keyset pages, so
    ledger rows written for earlier pages while the pages are read do not shift them; one page of texts at a time).
    `within`: only chunks it holds for (a condition on `c`)."""
    sql = PENDING_CHUNKS_PAGE_TEMPLATE.format(within=within.sql)
    return keyset_pages(warehouse, sql, batch_size, model_id, *within.params)


def sync_vectors(
    warehouse: Warehouse,
    embedder: Embedder,
    store: VectorStore,
    batch_size: int = 1024,
    log: Callable[[str], None] = lambda _msg: None,
    scope: SourceRunScope | None = None,
    raw_specs: Sequence[TableSpec] = (),
) -> VectorsResult:
    """Embed and write the pending chunks `batch_size` at a time, then delete the vectors of chunks that are gone.

    The pending chunks are read in keyset pages (`pending_pages`), so only one batch of chunk texts is held at a
    time (plus the batch being written), whatever the backlog. If embedding or writing a batch fails, the
    batches before it stay written (vectors and ledger rows) and the error propagates. `scope`: only the chunks of
    documents whose latest fetch came from these source runs (of `raw_specs`); default: every pending chunk.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    within = documents_condition(scope, raw_specs, "c.document_id")
    with warehouse.held(), store.held():  # one connection each for the stage's reads and writes
        return _sync(warehouse, embedder, store, batch_size, log, within)


def _sync(
    warehouse: Warehouse,
    embedder: Embedder,
    store: VectorStore,
    batch_size: int,
    log: Callable[[str], None],
    within: Condition,
) -> VectorsResult:
    model_id = embedder.model_id
    with warehouse.session() as s:
        s.ensure_tables([CHUNKS, VECTOR_LEDGER])
        forget_wiped_store(s, VECTOR_LEDGER, store.count, log)
        total = pending_embedding(s, model_id, within)
        orphans = s.query(ORPHAN_VECTORS_SQL)["chunk_id"].tolist()

    def write(batch: pd.DataFrame, values: np.ndarray) -> float:
        t0 = time.perf_counter()
        store.upsert_batch(vector_batch(batch, values, store.dimension))
        with warehouse.session() as s:
            s.merge(VECTOR_LEDGER, ledger_frame(batch, model_id), compare=["content_hash", "model_id"])
        return time.perf_counter() - t0

    # The write of batch i overlaps the embedding of batch i+1 (`WriteBehind`), so the stage runs close to the bare
    # model's speed. The reader and the writer use connections of their own. A batch embedded before a failure still
    # lands.
    embed_s = 0.0
    write_s: list[float] = []
    embedded = 0
    with WriteBehind("vector-writer", write_s.append) as writer:
        for page in pending_pages(warehouse, model_id, batch_size, within) if total else iter(()):
            t0 = time.perf_counter()
            values = embedder.embed(page["text"].tolist())
            embed_s += time.perf_counter() - t0
            writer.submit(write, page, values)
            embedded += len(page)
            log(f"embedded {embedded}/{total} chunks")

    if orphans:
        store.delete(orphans)
        with warehouse.session() as s:
            s.delete_keys(VECTOR_LEDGER, "chunk_id", orphans)
        log(f"removed {len(orphans)} vectors of chunks that no longer exist")

    return VectorsResult(
        chunks_embedded=embedded,
        vectors_deleted=len(orphans),
        vectors_total=store.count(),
        embed_seconds=embed_s,
        write_seconds=sum(write_s),
    )
