"""Keep the lexical (BM25) store in step with the chunks, by a ledger like the vector stage's.

`lexical_ledger` (chunk_id, content_hash, tokens) records what the store was given. Invariants:

* Pending chunks (whose (chunk_id, content_hash) is not in the ledger) are read in keyset pages of `page_size`
  (ids only in the anti-join, then the page's texts), tokenized (title + text) and written a page at a time: one
  store write (for the local store, one new segment; older rows of the same ids are tombstoned), then that page's
  ledger rows, then `commit_progress()`, as the vector stage does per batch. A failure keeps every finished page
  (store and ledger) and leaves the rest pending, so the next run redoes only those. Writes are idempotent.
* Ledger rows whose chunk is gone (orphans) are removed from the store in one write at the end, then from the
  ledger.
* Nothing reads every chunk's tokens and nothing is refitted: the local store scores BM25 at query time from its
  segments' live-row statistics (`resources/bm25_segments.py`). The stage holds one page of texts and tokens plus
  what a store write holds (a merge is bounded by `MAX_SEGMENT_CHUNKS` live chunks).
* A store that weights chunks when they are written (Pinecone) is given `ledger_stats`: N, total length and the df
  of the page's terms over the ledger as it is once the page lands (orphans and the page's older rows excluded),
  streamed from the warehouse in keyset pages (bounded memory; one scan of the ledger's tokens per page written).
  Chunks outside the page keep the weights of the write they were indexed with.
* An unchanged corpus does nothing (no write). A wiped store with a non-empty ledger re-indexes every chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from resources.bm25_segments import CorpusStats, page_df
from resources.lexical_store import LEXICAL_RECORDS, CorpusStatsFn, LexicalStore, cut_records
from resources.tokenizer import chunk_texts, joined_tokens, split_tokens, token_lists
from resources.warehouse import Warehouse
from sophia_pipelines.domain.tables import CHUNKS, DOCUMENTS, LEXICAL_LEDGER
from sophia_pipelines.stages.ledger import forget_wiped_store
from sophia_pipelines.stages.paging import keyset_pages

LEXICAL_PAGE_CHUNKS = 5_000  # pending chunks tokenized at a time (at 747k chunks 10k pages: +53 MB peak, no faster)

# One page of pending chunks after a chunk_id (keyset paging, as the vector stage's): ids only in the anti-join
# and the top-N, then only those rows' texts and their documents' dates. NOT EXISTS, not LEFT JOIN ... IS NULL:
# DuckDB 2.0.1 drops the LIMIT of the LEFT JOIN form when the ledger is empty and the limit is >= 10,000 (the
# whole backlog came back as one "page" at 100k chunks).
PENDING_LEXICAL_PAGE_SQL = """
SELECT c.chunk_id, c.document_id, c.chunk_index, c.text, c.content_hash, c.source, c.url, c.title,
       COALESCE(d.published_at, d.fetched_at) AS published_at
FROM chunks c
LEFT JOIN documents d ON d.document_id = c.document_id
WHERE c.chunk_id IN (
    SELECT p.chunk_id FROM chunks p
    WHERE NOT EXISTS (
        SELECT 1 FROM lexical_ledger l WHERE l.chunk_id = p.chunk_id AND l.content_hash = p.content_hash
    )
    AND p.chunk_id > ?
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

LEDGER_TOKENS_PAGE_SQL = "SELECT chunk_id, tokens FROM lexical_ledger WHERE chunk_id > ? ORDER BY chunk_id LIMIT ?"


@dataclass(frozen=True, slots=True)
class LexicalResult:
    chunks_indexed: int
    chunks_removed: int
    chunks_total: int
    tokenize_seconds: float
    write_seconds: float  # store writes (segments built, tombstones, merges) and ledger writes
    pages: int  # pages of pending chunks written (one store write each)


def lexical_records(pending: pd.DataFrame) -> pa.Table:
    """The store records (LEXICAL_RECORDS) of a page of pending chunks, column by column."""
    page = pending.rename(columns={"chunk_id": "id"})
    page["published_at"] = pd.to_datetime(page["published_at"], utc=True)
    return cut_records(pa.Table.from_pandas(page, preserve_index=False))


def pending_pages(warehouse: Warehouse, page_size: int) -> Iterator[pd.DataFrame]:
    """The chunks not in the lexical ledger with their current content, `page_size` at a time in chunk_id order."""
    return keyset_pages(warehouse, PENDING_LEXICAL_PAGE_SQL, page_size)


def pending_lexical(warehouse: Warehouse) -> int:
    with warehouse.session() as s:
        s.ensure_tables([CHUNKS, LEXICAL_LEDGER])
        return int(s.scalar(PENDING_LEXICAL_COUNT_SQL))


def ledger_stats(
    warehouse: Warehouse, excluded: pa.Array, page_ids: pa.Array, page_tokens: pa.ListArray, page_size: int
) -> CorpusStatsFn:
    """Corpus statistics once a page lands: the ledger's chunks except `excluded` (orphans) and the page's ids
    (their ledger rows are older versions), plus the page's chunks; the ledger is read in keyset pages."""

    def stats(terms: pa.Array) -> CorpusStats:
        gone = pa.concat_arrays([excluded, page_ids])
        n_docs, total = len(page_tokens), int(pc.sum(pc.list_value_length(page_tokens)).as_py() or 0)
        df = page_df(page_tokens, terms)
        for rows in keyset_pages(warehouse, LEDGER_TOKENS_PAGE_SQL, page_size):
            keep = pc.invert(pc.is_in(pa.array(rows["chunk_id"], pa.string()), value_set=gone))
            lists = split_tokens(pa.array(rows["tokens"], pa.string()).filter(keep))
            n_docs += len(lists)
            total += int(pc.sum(pc.list_value_length(lists)).as_py() or 0)
            df = df + page_df(lists, terms)
        return CorpusStats(n_docs, total, dict(zip(terms.to_pylist(), df.tolist(), strict=True)))

    return stats


def sync_lexical(
    warehouse: Warehouse,
    store: LexicalStore,
    log: Callable[[str], None] = lambda _msg: None,
    page_size: int = LEXICAL_PAGE_CHUNKS,
) -> LexicalResult:
    """Write the pending chunks to the store a page at a time (each page's ledger rows right after it), then
    remove the chunks that are gone. No refit (see the module docstring)."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    with warehouse.held():  # one connection for the stage's reads and writes
        return _sync(warehouse, store, log, page_size)


def _sync(warehouse: Warehouse, store: LexicalStore, log: Callable[[str], None], page_size: int) -> LexicalResult:
    with warehouse.session() as s:
        s.ensure_tables([DOCUMENTS, CHUNKS, LEXICAL_LEDGER])
        forget_wiped_store(s, LEXICAL_LEDGER, store.count, log)
        pending_n = int(s.scalar(PENDING_LEXICAL_COUNT_SQL))
        orphans = s.query(ORPHAN_LEXICAL_SQL)["chunk_id"].tolist()
        if not pending_n and not orphans:
            return LexicalResult(0, 0, s.row_count(LEXICAL_LEDGER), 0.0, 0.0, 0)

    tokenize_s = write_s = 0.0
    indexed = pages = 0
    excluded = pa.array(orphans, pa.string())
    for page in pending_pages(warehouse, page_size) if pending_n else iter(()):
        t0 = time.perf_counter()
        lists = token_lists(chunk_texts(pa.array(page["title"]), pa.array(page["text"])))
        tokenize_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        ids = pa.array(page["chunk_id"], pa.string())
        store.write(lexical_records(page), lists, [], stats=ledger_stats(warehouse, excluded, ids, lists, page_size))
        ledger = pd.DataFrame(
            {
                "chunk_id": page["chunk_id"].to_numpy(),
                "content_hash": page["content_hash"].to_numpy(),
                "tokens": joined_tokens(lists).to_pandas(),
                "indexed_at": datetime.now(UTC),
            }
        )
        with warehouse.session() as s:
            s.merge(LEXICAL_LEDGER, ledger, compare=["content_hash", "tokens"])
            s.commit_progress()
        write_s += time.perf_counter() - t0
        indexed += len(page)
        pages += 1
        log(f"lexical index: {indexed}/{pending_n} chunks indexed")

    if orphans:
        t0 = time.perf_counter()
        store.write(LEXICAL_RECORDS.empty_table(), pa.array([], pa.list_(pa.string())), orphans)
        with warehouse.session() as s:
            s.delete_keys(LEXICAL_LEDGER, "chunk_id", orphans)
        write_s += time.perf_counter() - t0
    with warehouse.session() as s:
        total = s.row_count(LEXICAL_LEDGER)
    log(f"lexical index: {indexed} chunks indexed in {pages} pages, {len(orphans)} removed, {total} in total")
    return LexicalResult(indexed, len(orphans), total, tokenize_s, write_s, pages)
