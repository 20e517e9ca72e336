"""The lexical (BM25) index follows the chunks by its ledger: new chunks indexed, edited ones re-indexed alone,
vanished ones removed, an unchanged corpus left alone, a wiped store rebuilt."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from dagster_duckdb import DuckDBResource

from resources.lexical_store import LocalLexicalStore
from resources.tokenizer import tokenize
from resources.warehouse import DuckDBWarehouse
from sophia_pipelines.domain.tables import DOCUMENTS
from sophia_pipelines.stages.chunks import rechunk_changed
from sophia_pipelines.stages.lexical import pending_lexical, sync_lexical

GPU_TEXT = " ".join(
    f"Paragraph {i}: renting an A100 GPU costs about two dollars per hour on specialist clouds, and reserved "
    f"capacity lowers the price for long training runs number {i}."
    for i in range(25)
)  # ~3,500 characters: several chunks
DOCS = {
    "gpu": ("tavily/search", "GPU cloud pricing", GPU_TEXT, datetime(2026, 1, 10, tzinfo=UTC)),
    "bread": ("apify/website-content-crawler", "Sourdough basics", "Knead the dough and let it rise overnight.", None),
    "vdb": ("apify/website-content-crawler", "Vector databases", "Vector databases index embeddings.", None),
}


class RecordingStore:
    """A LocalLexicalStore that remembers what each write was given."""

    def __init__(self, store: LocalLexicalStore) -> None:
        self.store = store
        self.writes: list[tuple[list[str], list[str]]] = []

    def write(self, upserts: pa.Table, tokens: pa.ListArray, deletes: Sequence[str], stats: Any = None) -> int:
        self.writes.append((upserts["id"].to_pylist(), list(deletes)))
        return self.store.write(upserts, tokens, deletes, stats)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def put_documents(warehouse: DuckDBWarehouse, docs: dict[str, tuple]) -> None:
    now = datetime(2026, 2, 1, tzinfo=UTC)
    frame = pd.DataFrame(
        [
            {
                "document_id": doc_id,
                "source": source,
                "url": f"https://example.com/{doc_id}",
                "title": title,
                "text": text,
                "author": None,
                "published_at": published,
                "fetched_at": now,
                "content_hash": f"{hash(text)}",
                "raw_record_id": f"raw-{doc_id}",
            }
            for doc_id, (source, title, text, published) in docs.items()
        ]
    )
    with warehouse.session() as s:
        s.ensure_tables([DOCUMENTS])
        s.execute("DELETE FROM documents")
        s.insert(DOCUMENTS, frame)
        rechunk_changed(s, 1200, 150, "test-model")


def chunk_ids(warehouse: DuckDBWarehouse, document_id: str) -> list[str]:
    with warehouse.session() as s:
        return s.query("SELECT chunk_id FROM chunks WHERE document_id = ? ORDER BY chunk_id", [document_id])[
            "chunk_id"
        ].tolist()


def hits(store: LocalLexicalStore, query: str, **filters: Any) -> list[str]:
    return [m.metadata["document_id"] for m in store.query(tokenize([query])[0], 10, **filters)]


@pytest.fixture
def setup(tmp_path: Path) -> tuple[DuckDBWarehouse, RecordingStore]:
    warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=str(tmp_path / "warehouse.duckdb")))
    put_documents(warehouse, DOCS)
    return warehouse, RecordingStore(LocalLexicalStore(directory=str(tmp_path / "lexical")))


def test_lexical_index_follows_edits_and_deletions(setup: tuple[DuckDBWarehouse, RecordingStore]) -> None:
    warehouse, store = setup
    gpu_chunks = chunk_ids(warehouse, "gpu")
    assert len(gpu_chunks) >= 3
    first = sync_lexical(warehouse, store)
    total = len(gpu_chunks) + 2
    assert (first.chunks_indexed, first.chunks_removed, first.chunks_total) == (total, 0, total)
    assert store.count() == total and pending_lexical(warehouse) == 0
    assert hits(store, "sourdough")[0] == "bread"  # the title is indexed with the text
    assert hits(store, "reserved capacity price")[0] == "gpu"

    # Nothing changed: no tokenizing, no fit, no write.
    again = sync_lexical(warehouse, store)
    assert (again.chunks_indexed, again.chunks_removed) == (0, 0) and len(store.writes) == 1

    # Edit one document: only its chunk is re-indexed; the others keep their ledger rows untouched.
    edited = dict(DOCS, bread=(DOCS["bread"][0], "Sourdough basics", "Bake rye loaves in a cast iron pot.", None))
    put_documents(warehouse, edited)
    result = sync_lexical(warehouse, store)
    assert (result.chunks_indexed, result.chunks_removed) == (1, 0)
    assert store.writes[-1] == (chunk_ids(warehouse, "bread"), [])
    assert hits(store, "rye loaves") == ["bread"] and hits(store, "knead overnight") == []
    assert hits(store, "reserved capacity price")[0] == "gpu"

    # Delete one document: its chunks leave the index.
    vdb_chunks = chunk_ids(warehouse, "vdb")
    put_documents(warehouse, {k: v for k, v in edited.items() if k != "vdb"})
    result = sync_lexical(warehouse, store)
    assert (result.chunks_indexed, result.chunks_removed, result.chunks_total) == (0, 1, total - 1)
    assert store.writes[-1] == ([], vdb_chunks)
    assert hits(store, "vector databases embeddings") == [] and store.count() == total - 1
    assert store.fetch(vdb_chunks) == {}
    with warehouse.session() as s:
        assert s.scalar("SELECT COUNT(*) FROM lexical_ledger") == total - 1


def test_filters_and_metadata(setup: tuple[DuckDBWarehouse, RecordingStore]) -> None:
    warehouse, store = setup
    sync_lexical(warehouse, store)
    assert set(hits(store, "sourdough vector gpu")) == {"bread", "vdb", "gpu"}
    assert set(hits(store, "sourdough vector gpu", source="apify/website-content-crawler")) == {"bread", "vdb"}
    # dated by published_at, else fetched_at (2026-02-01)
    assert set(hits(store, "sourdough vector gpu", until=datetime(2026, 1, 31, tzinfo=UTC))) == {"gpu"}
    assert set(hits(store, "sourdough vector gpu", since=datetime(2026, 1, 31, tzinfo=UTC))) == {"bread", "vdb"}
    [bread] = chunk_ids(warehouse, "bread")
    meta = store.fetch([bread])[bread]
    assert meta["title"] == "Sourdough basics" and meta["source"] == "apify/website-content-crawler"
    assert meta["published_at"] == datetime(2026, 2, 1, tzinfo=UTC) and meta["url"] == "https://example.com/bread"


def test_a_wiped_store_is_rebuilt_from_the_chunks(
    setup: tuple[DuckDBWarehouse, RecordingStore], tmp_path: Path
) -> None:
    warehouse, store = setup
    first = sync_lexical(warehouse, store)
    shutil.rmtree(tmp_path / "lexical")
    assert store.count() == 0
    again = sync_lexical(warehouse, store)
    assert again.chunks_indexed == first.chunks_total and store.count() == first.chunks_total
    assert hits(store, "sourdough")[0] == "bread"


def test_a_failed_store_write_leaves_the_chunks_pending(setup: tuple[DuckDBWarehouse, RecordingStore]) -> None:
    warehouse, store = setup

    class Broken(RecordingStore):
        def write(self, upserts: pa.Table, tokens: pa.ListArray, deletes: Sequence[str], stats: Any = None) -> int:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        sync_lexical(warehouse, Broken(store.store))
    assert pending_lexical(warehouse) == len(chunk_ids(warehouse, "gpu")) + 2
    assert sync_lexical(warehouse, store).chunks_indexed == pending_lexical(warehouse) + store.count()
