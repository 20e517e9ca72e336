"""Re-chunk only documents whose content (or the chunking parameters) changed; drop chunks of gone documents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from resources.tables import TableSpec
from resources.warehouse import WarehouseSession
from sophia_pipelines.domain.chunking import chunk_document
from sophia_pipelines.domain.tables import CHUNKS, DOCUMENTS, VECTOR_LEDGER
from sophia_pipelines.stages.scope import EVERYTHING, Condition, SourceRunScope, records_condition

# The next stale documents' ids first (a top-N over ids), then only their texts are read. `{within}`: a condition
# on `d` (a run's source runs; TRUE for all), whose parameters come between the chunker's and the limit.
STALE_DOCUMENTS_SQL = """
SELECT document_id, text, content_hash, source, url, title
FROM documents
WHERE document_id IN (
    SELECT d.document_id
    FROM documents d
    LEFT JOIN (
        SELECT document_id, MIN(document_content_hash) AS h, MIN(chunker) AS chunker
        FROM chunks GROUP BY document_id
    ) c ON c.document_id = d.document_id
    WHERE (c.document_id IS NULL OR c.h <> d.content_hash OR c.chunker <> ?) AND {within}
    ORDER BY d.document_id
    LIMIT ?
)
ORDER BY document_id
"""

PENDING_EMBEDDING_TEMPLATE = """
SELECT COUNT(*) FROM chunks c
LEFT JOIN vector_ledger v ON v.chunk_id = c.chunk_id AND v.content_hash = c.content_hash AND v.model_id = ?
WHERE v.chunk_id IS NULL AND {within}
"""
PENDING_EMBEDDING_SQL = PENDING_EMBEDDING_TEMPLATE.format(within=EVERYTHING.sql)  # every chunk


RECHUNK_BATCH_DOCUMENTS = 5_000  # documents (texts and their chunks) held at once


@dataclass(frozen=True, slots=True)
class ChunksResult:
    documents_chunked: int
    chunks_written: int
    chunks_deleted: int
    total_chunks: int
    pending_embedding: int


def chunker_key(max_chars: int, overlap_chars: int) -> str:
    return f"{max_chars}/{overlap_chars}"


def chunks_frame(stale: pd.DataFrame, max_chars: int, overlap_chars: int) -> pd.DataFrame:
    key = chunker_key(max_chars, overlap_chars)
    rows = [
        (
            c.chunk_id,
            c.document_id,
            c.chunk_index,
            c.text,
            c.content_hash,
            d.content_hash,
            key,
            d.source,
            d.url,
            d.title,
        )
        for d in stale.itertuples(index=False)
        for c in chunk_document(d.document_id, d.text, max_chars, overlap_chars)
    ]
    return pd.DataFrame(rows, columns=CHUNKS.column_names)


def pending_embedding(session: WarehouseSession, model_id: str, within: Condition = EVERYTHING) -> int:
    """Chunks the vector store lacks for `model_id` (`within`: a condition on the chunk `c`; default all)."""
    session.ensure_tables([CHUNKS, VECTOR_LEDGER])
    return int(session.scalar(PENDING_EMBEDDING_TEMPLATE.format(within=within.sql), [model_id, *within.params]))


def rechunk_changed(
    session: WarehouseSession,
    max_chars: int,
    overlap_chars: int,
    model_id: str,
    batch_size: int = RECHUNK_BATCH_DOCUMENTS,
    scope: SourceRunScope | None = None,
    raw_specs: Sequence[TableSpec] = (),
) -> ChunksResult:
    """Re-chunk stale documents `batch_size` at a time (each batch stops being stale once its chunks are written).

    `scope`: only documents whose latest fetch came from these source runs (of `raw_specs`); default: all."""
    session.ensure_tables([DOCUMENTS, CHUNKS, VECTOR_LEDGER, *raw_specs])
    key = chunker_key(max_chars, overlap_chars)
    within = records_condition(scope, raw_specs, "d.raw_record_id")
    stale_sql = STALE_DOCUMENTS_SQL.format(within=within.sql)
    chunked = written = 0
    deleted = session.execute_count("DELETE FROM chunks WHERE document_id NOT IN (SELECT document_id FROM documents)")
    for _ in range(-(-session.row_count(DOCUMENTS) // batch_size)):  # bounded by the number of documents
        stale = session.query(stale_sql, [key, *within.params, batch_size])
        if stale.empty:
            break
        deleted += session.delete_keys(CHUNKS, "document_id", stale["document_id"].tolist())
        written += session.insert(CHUNKS, chunks_frame(stale, max_chars, overlap_chars))
        chunked += len(stale)
        session.commit_progress()  # these documents' chunks are replaced as a whole
    return ChunksResult(
        documents_chunked=chunked,
        chunks_written=written,
        chunks_deleted=deleted,
        total_chunks=session.row_count(CHUNKS),
        pending_embedding=pending_embedding(session, model_id),
    )
