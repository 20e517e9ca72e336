"""Keep the lexical (BM25) store in step with the chunks, by a ledger like the vector stage's.

`lexical_ledger` (chunk_id, content_hash, tokens) records what the store was given. Chunks whose
(chunk_id, content_hash) is not in it are tokenized (title + text), read in keyset pages of `page_size` so only
one page of texts is held; ledger rows whose chunk is gone are removed. BM25 needs corpus-wide statistics, so
after any change the index is refitted from every chunk's stored tokens (no chunk is read or tokenized again) and
the store gets the fit plus only the changed and removed chunks. The ledger is written after the store, so a
failure leaves those chunks pending and the next run redoes them; writes are idempotent. An unchanged corpus does
nothing (no fit, no write). Tokenizing and fitting are vectorized (Arrow, NumPy/SciPy): see `resources/bm25_index`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from resources.bm25_index import LexicalIndex
from resources.lexical_store import LEXICAL_RECORDS, LexicalStore, cut_records
from resources.tokenizer import chunk_texts, joined_tokens, token_lists
from resources.warehouse import Warehouse
from sophia_pipelines.domain.tables import CHUNKS, DOCUMENTS, LEXICAL_LEDGER

LEXICAL_PAGE_CHUNKS = 20_000  # pending chunks read and tokenized at a time

# One page of pending chunks after a chunk_id (keyset paging, as the vector stage's): ids only in the anti-join
# and the top-N, then only those rows' texts and their documents' dates.
PENDING_LEXICAL_PAGE_SQL = """
SELECT c.chunk_id, c.document_id, c.chunk_index, c.text, c.content_hash, c.source, c.url, c.title,
       COALESCE(d.published_at, d.fetched_at) AS published_at
FROM chunks c
LEFT JOIN documents d ON d.document_id = c.document_id
WHERE c.chunk_id IN (
    SELECT p.chunk_id FROM chunks p
    LEFT JOIN lexical_ledger l ON l.chunk_id = p.chunk_id AND l.content_hash = p.content_hash
    WHERE l.chunk_id IS NULL AND p.chunk_id > ?
    ORDER BY p.chunk_id
    LIMIT ?
)
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


def lexical_records(pending: pd.DataFrame) -> pa.Table:
    """The store records (LEXICAL_RECORDS) of a page of pending chunks, column by column."""
    page = pending.rename(columns={"chunk_id": "id"})
    page["published_at"] = pd.to_datetime(page["published_at"], utc=True)
    return cut_records(pa.Table.from_pandas(page, preserve_index=False))


def pending_pages(warehouse: Warehouse, page_size: int) -> Iterator[pd.DataFrame]:
    """The chunks not in the lexical ledger with their current content, `page_size` at a time in chunk_id order."""
    after = ""
    while True:
        with warehouse.session() as s:
            page = s.query(PENDING_LEXICAL_PAGE_SQL, [after, page_size])
        if page.empty:
            return
        yield page
        if len(page) < page_size:
            return
        after = page["chunk_id"].iat[-1]


def pending_lexical(warehouse: Warehouse) -> int:
    with warehouse.session() as s:
        s.ensure_tables([CHUNKS, LEXICAL_LEDGER])
        return int(s.scalar(PENDING_LEXICAL_COUNT_SQL))


def sync_lexical(
    warehouse: Warehouse,
    store: LexicalStore,
    log: Callable[[str], None] = lambda _msg: None,
    page_size: int = LEXICAL_PAGE_CHUNKS,
) -> LexicalResult:
    """Tokenize pending chunks, drop gone ones, refit BM25 on every chunk's tokens and write the store."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    with warehouse.held():  # one connection for the stage's reads and writes
        return _sync(warehouse, store, log, page_size)


def _sync(warehouse: Warehouse, store: LexicalStore, log: Callable[[str], None], page_size: int) -> LexicalResult:
    with warehouse.session() as s:
        s.ensure_tables([DOCUMENTS, CHUNKS, LEXICAL_LEDGER])
        if s.row_count(LEXICAL_LEDGER) and store.count() == 0:  # the store was wiped: index everything again
            log("the lexical store is empty but its ledger is not: re-indexing every chunk")
            s.execute("DELETE FROM lexical_ledger")
        pending_n = int(s.scalar(PENDING_LEXICAL_COUNT_SQL))
        orphans = s.query(ORPHAN_LEXICAL_SQL)["chunk_id"].tolist()
        if not pending_n and not orphans:
            return LexicalResult(0, 0, s.row_count(LEXICAL_LEDGER), 0.0, 0.0, 0.0)

    tokenize_s = 0.0
    records: list[pa.Table] = []
    new_ids, new_hashes, new_tokens = [], [], []
    for page in pending_pages(warehouse, page_size) if pending_n else iter(()):
        t0 = time.perf_counter()
        tokens = joined_tokens(token_lists(chunk_texts(pa.array(page["title"]), pa.array(page["text"]))))
        tokenize_s += time.perf_counter() - t0
        new_ids.append(pa.array(page["chunk_id"], pa.string()))
        new_hashes.append(pa.array(page["content_hash"], pa.string()))
        new_tokens.append(tokens)
        records.append(lexical_records(page))

    t0 = time.perf_counter()
    changed = pa.table(
        {
            "chunk_id": pa.chunked_array(new_ids, pa.string()),
            "tokens": pa.chunked_array(new_tokens, pa.string()),
        }
    )
    with warehouse.session() as s:
        stored = pa.Table.from_pandas(s.query(LEDGER_TOKENS_SQL), preserve_index=False).cast(changed.schema)
    upserts = pa.concat_tables(records) if records else LEXICAL_RECORDS.empty_table()
    gone = pa.concat_arrays([pa.array(orphans, pa.string()), upserts["id"].combine_chunks()])
    kept = stored.filter(pc.invert(pc.is_in(stored["chunk_id"], value_set=gone)))
    corpus = pa.concat_tables([kept, changed]).sort_by("chunk_id")
    index = LexicalIndex.fit_joined(corpus["chunk_id"].to_pylist(), corpus["tokens"].combine_chunks())
    fit_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    store.write(index, upserts, orphans)
    ledger = pd.DataFrame(
        {
            "chunk_id": changed["chunk_id"].to_pandas(),
            "content_hash": pa.chunked_array(new_hashes, pa.string()).to_pandas(),
            "tokens": changed["tokens"].to_pandas(),
            "indexed_at": datetime.now(UTC),
        }
    )
    with warehouse.session() as s:
        if len(ledger):
            s.merge(LEXICAL_LEDGER, ledger, compare=["content_hash", "tokens"])
        if orphans:
            s.delete_keys(LEXICAL_LEDGER, "chunk_id", orphans)
    write_s = time.perf_counter() - t0
    log(f"lexical index: {upserts.num_rows} chunks indexed, {len(orphans)} removed, {len(index)} in total")
    return LexicalResult(upserts.num_rows, len(orphans), len(index), tokenize_s, fit_s, write_s)
