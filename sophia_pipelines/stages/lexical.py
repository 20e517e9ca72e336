"""Keep the lexical (BM25) store in step with the chunks, by a ledger like the vector stage's.

`lexical_ledger` (chunk_id, content_hash, tokens) records what the store was given. Chunks whose
(chunk_id, content_hash) is not in it are tokenized (title + text); ledger rows whose chunk is gone are removed.
BM25 needs corpus-wide statistics, so after any change the index is refitted from every chunk's stored tokens
(no chunk is read or tokenized again) and the store gets the fit plus only the changed and removed chunks.
The ledger is written after the store, so a failure leaves those chunks pending and the next run redoes them;
writes are idempotent. An unchanged corpus does nothing (no fit, no write).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from resources.bm25_index import LexicalIndex, chunk_tokens
from resources.lexical_store import LexicalRecord, LexicalStore
from resources.warehouse import Warehouse
from sophia_pipelines.domain.tables import CHUNKS, DOCUMENTS, LEXICAL_LEDGER

PENDING_LEXICAL_SQL = """
SELECT c.chunk_id, c.document_id, c.chunk_index, c.text, c.content_hash, c.source, c.url, c.title,
       COALESCE(d.published_at, d.fetched_at) AS published_at
FROM chunks c
LEFT JOIN documents d ON d.document_id = c.document_id
LEFT JOIN lexical_ledger l ON l.chunk_id = c.chunk_id AND l.content_hash = c.content_hash
WHERE l.chunk_id IS NULL
ORDER BY c.chunk_id
"""

PENDING_LEXICAL_COUNT_SQL = """
SELECT COUNT(*) FROM chunks c
LEFT JOIN lexical_ledger l ON l.chunk_id = c.chunk_id AND l.content_hash = c.content_hash
WHERE l.chunk_id IS NULL
"""

ORPHAN_LEXICAL_SQL = """
SELECT l.chunk_id FROM lexical_ledger l LEFT JOIN chunks c ON c.chunk_id = l.chunk_id
WHERE c.chunk_id IS NULL ORDER BY l.chunk_id
"""

LEDGER_TOKENS_SQL = "SELECT chunk_id, tokens FROM lexical_ledger ORDER BY chunk_id"


@dataclass(frozen=True, slots=True)
class LexicalResult:
    chunks_indexed: int
    chunks_removed: int
    chunks_total: int
    tokenize_seconds: float
    fit_seconds: float
    write_seconds: float


def _when(value: object) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    return (stamp if stamp.tzinfo else stamp.tz_localize(UTC)).to_pydatetime()


def lexical_records(pending: pd.DataFrame) -> list[LexicalRecord]:
    return [
        LexicalRecord(
            id=row.chunk_id,
            metadata={
                "document_id": row.document_id,
                "chunk_index": row.chunk_index,
                "source": row.source,
                "url": None if pd.isna(row.url) else row.url,
                "title": None if pd.isna(row.title) else row.title,
                "text": row.text,
                "published_at": _when(row.published_at),
            },
        )
        for row in pending.itertuples(index=False)
    ]


def pending_lexical(warehouse: Warehouse) -> int:
    with warehouse.session() as s:
        s.ensure_tables([CHUNKS, LEXICAL_LEDGER])
        return int(s.scalar(PENDING_LEXICAL_COUNT_SQL))


def sync_lexical(
    warehouse: Warehouse, store: LexicalStore, log: Callable[[str], None] = lambda _msg: None
) -> LexicalResult:
    """Tokenize pending chunks, drop gone ones, refit BM25 on every chunk's tokens and write the store."""
    with warehouse.session() as s:
        s.ensure_tables([DOCUMENTS, CHUNKS, LEXICAL_LEDGER])
        if s.row_count(LEXICAL_LEDGER) and store.count() == 0:  # the store was wiped: index everything again
            log("the lexical store is empty but its ledger is not: re-indexing every chunk")
            s.execute("DELETE FROM lexical_ledger")
        pending = s.query(PENDING_LEXICAL_SQL)
        orphans = s.query(ORPHAN_LEXICAL_SQL)["chunk_id"].tolist()
        if pending.empty and not orphans:
            return LexicalResult(0, 0, s.row_count(LEXICAL_LEDGER), 0.0, 0.0, 0.0)
        stored = s.query(LEDGER_TOKENS_SQL)

    t0 = time.perf_counter()
    new_tokens = {
        cid: chunk_tokens(None if pd.isna(title) else title, text)
        for cid, title, text in zip(pending["chunk_id"], pending["title"], pending["text"], strict=True)
    }
    tokenize_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    corpus = dict(zip(stored["chunk_id"], stored["tokens"], strict=True))  # space-separated, as stored
    for cid in orphans:
        corpus.pop(cid, None)
    joined = {cid: " ".join(tokens) for cid, tokens in new_tokens.items()}
    corpus.update(joined)
    ids = sorted(corpus)
    index = LexicalIndex.fit_joined(ids, [corpus[cid] for cid in ids])
    fit_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    store.write(index, lexical_records(pending), orphans)
    ledger = pd.DataFrame(
        {
            "chunk_id": list(new_tokens),
            "content_hash": pending["content_hash"].tolist(),
            "tokens": list(joined.values()),
            "indexed_at": datetime.now(UTC),
        }
    )
    with warehouse.session() as s:
        if len(ledger):
            s.merge(LEXICAL_LEDGER, ledger, compare=["content_hash", "tokens"])
        if orphans:
            s.delete_keys(LEXICAL_LEDGER, "chunk_id", orphans)
    write_s = time.perf_counter() - t0
    log(f"lexical index: {len(pending)} chunks indexed, {len(orphans)} removed, {len(ids)} in total")
    return LexicalResult(len(pending), len(orphans), len(ids), tokenize_s, fit_s, write_s)
