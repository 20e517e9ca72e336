"""Hybrid search on the production stores, against the Pinecone stand-in with the real `pinecone` SDK: a sparse
index holds BM25 sparse vectors (sparse values in the upsert and query bodies), the dense index the embeddings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from dagster_duckdb import DuckDBResource

from resources.embeddings import l2_normalize
from resources.pinecone_vector_store import PermanentVectorStoreError, PineconeLexicalStore, PineconeVectorStore
from resources.tokenizer import text_tokens
from resources.warehouse import DuckDBWarehouse
from sophia_pipelines.search import hybrid_search
from sophia_pipelines.stages.lexical import sync_lexical
from sophia_pipelines.stages.vectors import sync_vectors
from tests.standins.pinecone import PineconeStandin
from tests.standins.tei import hashed_embedding
from tests.test_lexical_stage import DOCS, chunk_ids, put_documents

API_KEY = "pc-search-test-key"
DIM = 16


class HashedEmbedder:
    model_id = "test/hashed@16"
    dimension = DIM

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return l2_normalize(np.array([hashed_embedding(t, DIM) for t in texts]))


@pytest.fixture(autouse=True)
def _no_sdk_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    from pinecone._internal import http_client

    monkeypatch.setattr(http_client, "_retry_sleep", lambda _seconds: None)
    http_client.get_budget_registry()._reset()


@pytest.fixture
def indexes() -> Iterator[tuple[PineconeStandin, PineconeStandin]]:
    with (
        PineconeStandin(dimension=DIM, api_key=API_KEY) as dense,
        PineconeStandin(api_key=API_KEY, vector_type="sparse", metric="dotproduct") as sparse,
    ):
        yield dense, sparse


def stores(dense: PineconeStandin, sparse: PineconeStandin) -> tuple[PineconeVectorStore, PineconeLexicalStore]:
    common = {"api_key": API_KEY, "namespace": "documents", "retry_base_delay_seconds": 0}
    return (
        PineconeVectorStore(index_host=dense.host, dimension=DIM, **common),
        PineconeLexicalStore(index_host=sparse.host, **common),
    )


def test_sparse_values_in_upsert_and_query_bodies(
    indexes: tuple[PineconeStandin, PineconeStandin], tmp_path: Path
) -> None:
    dense_index, sparse_index = indexes
    warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=str(tmp_path / "warehouse.duckdb")))
    put_documents(warehouse, DOCS)
    vector_store, lexical_store = stores(dense_index, sparse_index)
    result = sync_lexical(warehouse, lexical_store)
    total = result.chunks_total
    assert result.chunks_indexed == total == lexical_store.count()

    bodies = [v for call in sparse_index.calls("/vectors/upsert") for v in call.body["vectors"]]
    assert len(bodies) == total
    for vector in bodies:
        assert vector["sparseValues"]["indices"] and len(vector["sparseValues"]["indices"]) == len(
            vector["sparseValues"]["values"]
        )
        assert not vector.get("values")  # a sparse index: no dense values
        assert "published_at" not in vector["metadata"] and vector["metadata"]["published_ts"] > 0

    matches = lexical_store.query(text_tokens("sourdough knead"), 5)
    assert matches[0].metadata["document_id"] == "bread" and matches[0].metadata["title"] == "Sourdough basics"
    assert matches[0].metadata["published_at"] == datetime(2026, 2, 1, tzinfo=UTC)
    [query] = [c.body for c in sparse_index.calls("/query")]
    assert query["sparseVector"]["indices"] and set(query["sparseVector"]["values"]) == {1.0}
    assert "vector" not in query and query["namespace"] == "documents"

    since = datetime(2026, 1, 31, tzinfo=UTC)
    hits = lexical_store.query(
        text_tokens("sourdough vector gpu"), 10, source="apify/website-content-crawler", since=since
    )
    assert {m.metadata["document_id"] for m in hits} == {"bread", "vdb"}
    assert sparse_index.calls("/query")[-1].body["filter"] == {
        "$and": [{"source": {"$eq": "apify/website-content-crawler"}}, {"published_ts": {"$gte": since.timestamp()}}]
    }
    assert lexical_store.query(text_tokens("gpu"), 10, until=datetime(2025, 1, 1, tzinfo=UTC)) == []

    # Edit one document, delete another: only the edited chunk is upserted, the deleted chunk is deleted.
    upserts_before = len(sparse_index.calls("/vectors/upsert"))
    vdb_chunks = chunk_ids(warehouse, "vdb")
    edited = {k: v for k, v in DOCS.items() if k != "vdb"}
    edited["bread"] = (DOCS["bread"][0], "Sourdough basics", "Bake rye loaves in a cast iron pot.", None)
    put_documents(warehouse, edited)
    result = sync_lexical(warehouse, lexical_store)
    assert (result.chunks_indexed, result.chunks_removed) == (1, 1)
    new_upserts = sparse_index.calls("/vectors/upsert")[upserts_before:]
    assert [v["id"] for call in new_upserts for v in call.body["vectors"]] == chunk_ids(warehouse, "bread")
    assert sparse_index.calls("/vectors/delete")[-1].body["ids"] == vdb_chunks
    assert lexical_store.fetch(vdb_chunks) == {} and lexical_store.count() == total - 1

    # Hybrid search over both Pinecone indexes.
    sync_vectors(warehouse, HashedEmbedder(), vector_store)
    response = hybrid_search("rye loaves", HashedEmbedder(), vector_store, lexical_store, k=3)
    assert response.results[0].document_id == "bread" and "**rye**" in response.results[0].snippet
    assert dense_index.calls("/query") and sparse_index.calls("/query")


def test_the_sparse_index_refuses_dense_values_and_needs_a_key(
    indexes: tuple[PineconeStandin, PineconeStandin],
) -> None:
    dense_index, sparse_index = indexes
    _, lexical_store = stores(dense_index, sparse_index)
    from pinecone import Pinecone
    from pinecone.errors.exceptions import ApiError

    with (
        Pinecone(api_key=API_KEY).Index(host=sparse_index.host) as index,
        pytest.raises(ApiError, match=r"takes no dense values"),
    ):
        index.upsert(vectors=[{"id": "x", "values": [0.1] * DIM}], namespace="documents")
    wrong = lexical_store.model_copy(update={"api_key": "pc-wrong-key"})
    with pytest.raises(PermanentVectorStoreError, match=r"Invalid API Key") as error:
        wrong.query(["gpu"], 5)
    assert "pc-wrong-key" not in str(error.value)
