"""The embed stage keeps its progress: batches are written as they finish, a failure costs at most one batch,
and the next attempt (a step retry or the next run) embeds only what is still pending. Idle runs report no speed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource

from resources.duckdb_vector_store import DuckDBVectorStore
from resources.embeddings import EmbeddingError, PermanentEmbeddingError, l2_normalize
from resources.http_retry import DELAY_SCALE_ENV
from resources.pipeline_settings import PipelineSettings
from resources.vector_store import VectorBatch, VectorStore
from resources.warehouse import DuckDBWarehouse
from sophia_pipelines.assets.vectors import build_vector_assets
from sophia_pipelines.domain.tables import CHUNKS
from sophia_pipelines.stages.vectors import PENDING_CHUNKS_PAGE_SQL, sync_vectors
from tests.conftest import metadata_by_asset
from tests.standins.tei import hashed_embedding

DIM = 8
CHUNK_COUNT = 2_500  # with the default batch size (1,024): batches of 1,024, 1,024 and 452


class ScriptedEmbedder:
    """Hashed bag-of-words vectors; call number `fail_on` (1-based) raises `error` instead."""

    model_id = "test/hashed-bow@8"
    dimension = DIM

    def __init__(self, fail_on: int | None = None, error: Exception | None = None) -> None:
        self.fail_on, self.error = fail_on, error
        self.attempts = 0
        self.batches: list[int] = []  # sizes of the calls that succeeded
        self.embedded: Counter[str] = Counter()  # texts embedded successfully, how often

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.attempts += 1
        if self.attempts == self.fail_on:
            assert self.error is not None
            raise self.error
        self.batches.append(len(texts))
        self.embedded.update(texts)
        return l2_normalize(np.array([hashed_embedding(t, DIM) for t in texts]))


class FailingWrites:
    """A vector store whose `fail_on`-th upsert raises (the others go to `store`)."""

    def __init__(self, store: VectorStore, fail_on: int) -> None:
        self.store, self.fail_on, self.upserts = store, fail_on, 0
        self.dimension = store.dimension

    def upsert_batch(self, batch: VectorBatch) -> int:
        self.upserts += 1
        if self.upserts == self.fail_on:
            raise RuntimeError("upsert failed")
        return self.store.upsert_batch(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def chunk_texts(n: int) -> list[str]:
    return [f"chunk {i} about gpu pricing word{i % 97} topic{i % 13}" for i in range(n)]


def warehouse_with_chunks(database: Path, count: int) -> DuckDBWarehouse:
    """A warehouse holding `count` chunks (chunk_id order = text order)."""
    wh = DuckDBWarehouse(duckdb=DuckDBResource(database=str(database)))
    texts = chunk_texts(count)
    frame = pd.DataFrame(
        {
            "chunk_id": [f"c{i:05d}" for i in range(len(texts))],
            "document_id": [f"d{i // 10:04d}" for i in range(len(texts))],
            "chunk_index": [i % 10 for i in range(len(texts))],
            "text": texts,
            "content_hash": [f"h{i}" for i in range(len(texts))],
            "document_content_hash": [f"dh{i // 10}" for i in range(len(texts))],
            "chunker": "1200/150",
            "source": "tavily/search",
            "url": [f"https://example.org/{i}" for i in range(len(texts))],
            "title": "A title",
        }
    )
    with wh.session() as s:
        s.ensure_tables([CHUNKS])
        s.merge(CHUNKS, frame, compare=["content_hash"])
    return wh


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDBWarehouse:
    """A warehouse holding CHUNK_COUNT chunks."""
    return warehouse_with_chunks(tmp_path / "warehouse.duckdb", CHUNK_COUNT)


@pytest.fixture
def store(tmp_path: Path) -> DuckDBVectorStore:
    return DuckDBVectorStore(database=str(tmp_path / "vectors.duckdb"), dimension=DIM)


def ledger_ids(warehouse: DuckDBWarehouse) -> list[str]:
    with warehouse.session() as s:
        return s.query("SELECT chunk_id FROM vector_ledger ORDER BY chunk_id")["chunk_id"].tolist()


def materialize_vectors(
    warehouse: DuckDBWarehouse, embedder: ScriptedEmbedder, store: VectorStore
) -> dg.ExecuteInProcessResult:
    resources = {"warehouse": warehouse, "embedder": embedder, "vector_store": store, "pipeline": PipelineSettings()}
    return dg.materialize(build_vector_assets("duckdb"), resources=resources, raise_on_error=False)


@pytest.fixture(autouse=True)
def instant_step_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DELAY_SCALE_ENV, "0")


def test_default_batch_is_bounded() -> None:
    assert PipelineSettings().embed_batch_size <= 1024


def test_permanent_failure_in_the_third_batch_keeps_two_and_the_next_run_does_the_rest(
    warehouse: DuckDBWarehouse, store: DuckDBVectorStore
) -> None:
    batch = PipelineSettings().embed_batch_size
    failing = ScriptedEmbedder(fail_on=3, error=PermanentEmbeddingError("tei: POST http://tei/embed failed: HTTP 413"))

    first = materialize_vectors(warehouse, failing, store)

    assert not first.success
    assert failing.attempts == 3  # a permanent error is not retried by the step
    kept = [f"c{i:05d}" for i in range(2 * batch)]
    assert ledger_ids(warehouse) == kept and store.count() == 2 * batch
    assert set(failing.embedded) == set(chunk_texts(CHUNK_COUNT)[: 2 * batch])

    rest = ScriptedEmbedder()
    second = materialize_vectors(warehouse, rest, store)

    assert second.success
    assert rest.batches == [CHUNK_COUNT - 2 * batch]
    assert metadata_by_asset(second)["chunk_vectors"]["chunks_embedded"] == CHUNK_COUNT - 2 * batch
    assert ledger_ids(warehouse) == [f"c{i:05d}" for i in range(CHUNK_COUNT)] and store.count() == CHUNK_COUNT
    both = failing.embedded + rest.embedded
    assert set(both) == set(chunk_texts(CHUNK_COUNT)) and set(both.values()) == {1}  # no chunk embedded twice


def test_transient_failure_is_retried_by_the_step_which_resumes(
    warehouse: DuckDBWarehouse, store: DuckDBVectorStore
) -> None:
    flaky = ScriptedEmbedder(fail_on=2, error=EmbeddingError("tei: POST http://tei/embed failed after 6 attempts"))

    result = materialize_vectors(warehouse, flaky, store)

    assert result.success
    retried = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_RESTARTED]
    assert len(retried) == 1
    batch = PipelineSettings().embed_batch_size
    assert flaky.batches == [batch, batch, CHUNK_COUNT - 2 * batch]  # the retry embeds only what was pending
    assert set(flaky.embedded.values()) == {1} and len(flaky.embedded) == CHUNK_COUNT
    assert store.count() == CHUNK_COUNT and len(ledger_ids(warehouse)) == CHUNK_COUNT


def test_a_failed_write_keeps_the_batches_written_before_it(
    warehouse: DuckDBWarehouse, store: DuckDBVectorStore
) -> None:
    embedder = ScriptedEmbedder()
    with pytest.raises(RuntimeError, match="upsert failed"):
        sync_vectors(warehouse, embedder, FailingWrites(store, fail_on=3), batch_size=1000)  # type: ignore[arg-type]
    assert ledger_ids(warehouse) == [f"c{i:05d}" for i in range(2000)] and store.count() == 2000

    again = ScriptedEmbedder()
    result = sync_vectors(warehouse, again, store, batch_size=1000)  # type: ignore[arg-type]
    assert result.chunks_embedded == 500 and again.batches == [500]
    assert result.vectors_total == CHUNK_COUNT


def test_idle_run_records_counts_but_no_throughput(warehouse: DuckDBWarehouse, store: DuckDBVectorStore) -> None:
    busy = metadata_by_asset(materialize_vectors(warehouse, ScriptedEmbedder(), store))["chunk_vectors"]
    idle = metadata_by_asset(materialize_vectors(warehouse, ScriptedEmbedder(), store))["chunk_vectors"]

    assert busy["chunks_embedded"] == CHUNK_COUNT and busy["embed_chunks_per_s"] > 0 and busy["embed_seconds"] > 0
    assert "write_seconds" in busy
    assert idle["chunks_embedded"] == 0 and idle["vectors_total"] == CHUNK_COUNT and idle["pending_embedding"] == 0
    assert not {"embed_seconds", "embed_chunks_per_s", "write_seconds"} & set(idle)
    assert "duration_s" in idle


def test_a_wiped_store_is_filled_again(warehouse: DuckDBWarehouse, store: DuckDBVectorStore, tmp_path: Path) -> None:
    """A store emptied in place (file deleted, index recreated) while the ledger still lists its vectors is
    refilled by the next run, instead of staying empty with a ledger that says it is complete."""
    sync_vectors(warehouse, ScriptedEmbedder(), store)
    (tmp_path / "vectors.duckdb").unlink()
    assert store.count() == 0
    again = sync_vectors(warehouse, ScriptedEmbedder(), store)
    assert again.chunks_embedded == CHUNK_COUNT and store.count() == CHUNK_COUNT
    assert sync_vectors(warehouse, ScriptedEmbedder(), store).chunks_embedded == 0


class CountingPageReads:
    """A warehouse that records the row count of every page of pending chunks read through it."""

    def __init__(self, warehouse: DuckDBWarehouse) -> None:
        self.warehouse, self.pages = warehouse, []

    @contextmanager
    def session(self) -> Iterator[Any]:
        with self.warehouse.session() as session:
            yield CountingSession(session, self.pages)

    def held(self) -> Any:
        return self.warehouse.held()


class CountingSession:
    """A session that appends the row count of each pending-chunks page it reads to `pages`."""

    def __init__(self, session: Any, pages: list[int]) -> None:
        self.session, self.pages = session, pages

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Any:
        frame = self.session.query(sql, params)
        if sql == PENDING_CHUNKS_PAGE_SQL:
            self.pages.append(len(frame))
        return frame


def test_pending_chunks_are_read_one_page_per_batch(warehouse: DuckDBWarehouse, store: DuckDBVectorStore) -> None:
    counting = CountingPageReads(warehouse)
    result = sync_vectors(counting, ScriptedEmbedder(), store, batch_size=1000)  # type: ignore[arg-type]
    assert counting.pages == [1000, 1000, 500] and result.chunks_embedded == CHUNK_COUNT


def test_pages_of_ten_thousand_and_more_stay_pages(tmp_path: Path, store: DuckDBVectorStore) -> None:
    # DuckDB 2.0.1 drops the LIMIT of a `LEFT JOIN ... IS NULL` anti-join from 10,000 up: the page query must not
    # take that form, or one "page" holds every pending text.
    counting = CountingPageReads(warehouse_with_chunks(tmp_path / "big.duckdb", 12_000))
    result = sync_vectors(counting, ScriptedEmbedder(), store, batch_size=10_000)  # type: ignore[arg-type]
    assert counting.pages == [10_000, 2_000] and result.chunks_embedded == 12_000
