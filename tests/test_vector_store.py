"""Vector stores: one behavioural suite for DuckDB and Pinecone (via the real SDK and a local stand-in)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pytest

from resources.duckdb_vector_store import DuckDBVectorStore
from resources.pinecone_vector_store import (
    PINECONE_MAX_REQUEST_BYTES,
    PermanentVectorStoreError,
    PineconeVectorStore,
    pinecone_batches,
)
from resources.vector_store import (
    METADATA_FIELDS,
    VectorBatch,
    VectorRecord,
    VectorStore,
    VectorStoreError,
)
from sophia_pipelines.domain.chunking import Chunk
from sophia_pipelines.stages.vectors import chunk_record
from tests.standins.pinecone import PineconeStandin

DIM = 8
API_KEY = "pc-secret-key-123"


def _unit(*components: float) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(components)] = components
    return vector / np.linalg.norm(vector)


def _record(
    rid: str, vector: np.ndarray, source: str = "apify/website-content-crawler", **meta: object
) -> VectorRecord:
    metadata: dict[str, object] = {
        "document_id": rid.split("-")[0],
        "chunk_index": int(rid.split("-")[1]) if "-" in rid else 0,
        "source": source,
        "url": f"https://example.com/{rid}",
        "title": f"Title {rid}",
        "text": f"text of {rid}",
        "content_hash": f"hash-{rid}",
    }
    metadata.update(meta)
    return VectorRecord(rid, vector, metadata)


@pytest.fixture(autouse=True)
def pinecone_sdk_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own retries: without waits (its test seam), and with a full per-host retry budget. The budget is
    process-wide (all stand-ins are 127.0.0.1), so the request counts asserted here would otherwise depend on which
    tests ran before."""
    from pinecone._internal import http_client

    monkeypatch.setattr(http_client, "_retry_sleep", lambda _seconds: None)
    http_client.get_budget_registry()._reset()


@pytest.fixture(params=["duckdb", "pinecone"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    if request.param == "duckdb":
        yield DuckDBVectorStore(database=str(tmp_path / "vectors.duckdb"), dimension=DIM)
    else:
        with PineconeStandin(dimension=DIM, api_key=API_KEY) as index:
            yield pinecone_store(index.host, namespace="chunks")


def pinecone_store(host: str, **overrides: object) -> PineconeVectorStore:
    """A store on the stand-in whose own retries do not wait."""
    config: dict[str, object] = {
        "api_key": API_KEY,
        "index_host": host,
        "dimension": DIM,
        "retry_base_delay_seconds": 0,
    }
    return PineconeVectorStore(**{**config, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def pinecone() -> Iterator[tuple[PineconeStandin, PineconeVectorStore]]:
    with PineconeStandin(dimension=DIM, api_key=API_KEY) as index:
        yield index, pinecone_store(index.host, namespace="chunks")


# --- the shared behaviour ----------------------------------------------------------------------------------


def test_empty_store(store: VectorStore) -> None:
    assert store.count() == 0
    assert store.query(_unit(1, 0), top_k=3) == []
    assert store.delete(["nope"]) in (0, 1)
    info = store.describe()
    assert info["dimension"] == DIM and info["count"] == 0


def test_upsert_query_ordering_and_scores(store: VectorStore) -> None:
    vectors = {"a-0": _unit(1, 0), "a-1": _unit(1, 1), "b-0": _unit(0, 1), "c-0": _unit(-1, 0.2)}
    assert store.upsert([_record(rid, v) for rid, v in vectors.items()]) == 4
    assert store.count() == 4
    query = _unit(1, 0.1)
    matches = store.query(query, top_k=3)
    assert [m.id for m in matches] == ["a-0", "a-1", "b-0"]
    for match in matches:
        assert match.score == pytest.approx(float(vectors[match.id] @ query), abs=1e-5)
    assert matches[0].metadata == {
        "document_id": "a",
        "chunk_index": 0,
        "source": "apify/website-content-crawler",
        "url": "https://example.com/a-0",
        "title": "Title a-0",
        "text": "text of a-0",
        "content_hash": "hash-a-0",
    }
    assert isinstance(matches[1].metadata["chunk_index"], int)
    assert len(store.query(query, top_k=10)) == 4


def test_reupsert_updates_in_place(store: VectorStore) -> None:
    store.upsert([_record("a-0", _unit(1, 0)), _record("b-0", _unit(0, 1))])
    store.upsert([_record("a-0", _unit(0, 1, 1), title="New title", url=None)])
    assert store.count() == 2
    top = store.query(_unit(0, 1, 1), top_k=1)[0]
    assert top.id == "a-0"
    assert top.score == pytest.approx(1.0, abs=1e-5)
    assert top.metadata["title"] == "New title"
    assert top.metadata["url"] is None


def test_duplicate_ids_in_one_call_last_wins(store: VectorStore) -> None:
    assert store.upsert([_record("a-0", _unit(1, 0)), _record("a-0", _unit(0, 1), title="second")]) == 1
    assert store.count() == 1
    assert store.query(_unit(0, 1), top_k=1)[0].metadata["title"] == "second"


def test_delete(store: VectorStore) -> None:
    store.upsert([_record(f"d-{i}", _unit(1, i)) for i in range(5)])
    assert store.delete(["d-1", "d-3", "d-3"]) == 2
    assert store.count() == 3
    assert {m.id for m in store.query(_unit(1, 0), top_k=10)} == {"d-0", "d-2", "d-4"}
    assert store.delete([]) == 0


def test_source_filter(store: VectorStore) -> None:
    store.upsert(
        [
            _record("a-0", _unit(1, 0), source="tavily/search"),
            _record("b-0", _unit(1, 0.1), source="apify/website-content-crawler"),
            _record("c-0", _unit(1, 0.2), source="tavily/search"),
        ]
    )
    matches = store.query(_unit(1, 0), top_k=5, source="tavily/search")
    assert [m.id for m in matches] == ["a-0", "c-0"]
    assert store.query(_unit(1, 0), top_k=5, source="nobody") == []


def test_metadata_is_the_fixed_contract(store: VectorStore) -> None:
    long_text = "é" * 1500
    store.upsert([VectorRecord("x-0", _unit(1), {"text": long_text, "extra": "dropped", "source": "s"})])
    match = store.query(_unit(1), top_k=1)[0]
    assert set(match.metadata) == set(METADATA_FIELDS)
    assert match.metadata["text"] == "é" * 1000
    assert match.metadata["document_id"] is None


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([VectorRecord("a", [1.0, 2.0], {})], "components"),
        ([VectorRecord("a", np.zeros(DIM), {})], "all zeros"),
        ([VectorRecord("a", np.full(DIM, np.nan), {})], "NaN"),
        ([VectorRecord("", np.ones(DIM), {})], "id"),
    ],
)
def test_invalid_records_rejected_before_io(store: VectorStore, records: list[VectorRecord], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.upsert(records)
    assert store.count() == 0


def test_invalid_queries(store: VectorStore) -> None:
    with pytest.raises(ValueError):
        store.query(np.ones(DIM + 1), top_k=1)
    with pytest.raises(ValueError):
        store.query(np.zeros(DIM), top_k=1)
    with pytest.raises(ValueError):
        store.query(np.ones(DIM), top_k=0)


def test_chunk_record_builds_the_contract() -> None:
    chunk = Chunk("doc-0002", "doc", 2, "x" * 1200, "h")
    record = chunk_record(chunk, _unit(1), source="tavily/search", url=None, title="T")
    assert record.id == "doc-0002"
    assert record.metadata["text"] == "x" * 1000
    assert set(record.metadata) == set(METADATA_FIELDS)


# --- Pinecone specifics ------------------------------------------------------------------------------------


def test_pinecone_upserts_in_batches_of_at_most_1000(pinecone: tuple[PineconeStandin, PineconeVectorStore]) -> None:
    index, store = pinecone
    rng = np.random.default_rng(0)
    records = [_record(f"v-{i}", rng.standard_normal(DIM).astype(np.float32), url=None) for i in range(2500)]
    assert store.upsert(records) == 2500
    assert [len(r.body["vectors"]) for r in index.calls("/vectors/upsert")] == [1000, 1000, 500]
    assert store.count() == 2500
    for request in index.calls("/vectors/upsert"):
        assert request.body["namespace"] == "chunks"
        for vector in request.body["vectors"]:
            assert None not in vector["metadata"].values()
            assert "url" not in vector["metadata"]


def test_pinecone_request_size_stays_under_2mb() -> None:
    dim = 1536
    with PineconeStandin(dimension=dim, api_key=API_KEY) as index:
        store = PineconeVectorStore(api_key=API_KEY, index_host=index.host, dimension=dim)
        rng = np.random.default_rng(1)
        records = [
            VectorRecord(f"w-{i}", rng.standard_normal(dim), {"text": "ü" * 1000, "source": "s"}) for i in range(400)
        ]
        assert store.upsert(records) == 400
        upserts = index.calls("/vectors/upsert", status=None)
        assert len(upserts) > 1
        assert all(r.status == 200 and r.size <= PINECONE_MAX_REQUEST_BYTES for r in upserts)
        assert sum(len(r.body["vectors"]) for r in upserts) == 400


def test_pinecone_batches_helper_bounds_bytes() -> None:
    vectors = [{"id": str(i), "values": [0.123456789] * 100} for i in range(50)]
    batches = list(pinecone_batches(vectors, max_vectors=1000, max_bytes=10_000))
    assert sum(map(len, batches)) == 50
    assert all(len(json.dumps({"vectors": b, "namespace": "n"})) <= 10_000 for b in batches)
    with pytest.raises(ValueError, match="alone"):
        list(pinecone_batches(vectors, max_bytes=500))


def test_pinecone_deletes_in_batches(pinecone: tuple[PineconeStandin, PineconeVectorStore]) -> None:
    index, store = pinecone
    store.upsert([_record(f"v-{i}", _unit(1, i)) for i in range(10)])
    assert store.delete([f"v-{i}" for i in range(2300)]) == 2300
    assert [len(r.body["ids"]) for r in index.calls("/vectors/delete")] == [1000, 1000, 300]
    assert store.count() == 0


def test_pinecone_sends_api_key_and_hides_it(pinecone: tuple[PineconeStandin, PineconeVectorStore]) -> None:
    index, store = pinecone
    store.count()
    assert index.requests[-1].api_key == API_KEY
    assert API_KEY not in repr(store) and API_KEY not in str(store)
    wrong = PineconeVectorStore(api_key="wrong-key-456", index_host=index.host, dimension=DIM)
    with pytest.raises(VectorStoreError) as info:
        wrong.count()
    assert "401" in str(info.value) and index.host in str(info.value)
    assert "wrong-key-456" not in str(info.value)


def test_pinecone_sdk_retries_throttling(pinecone: tuple[PineconeStandin, PineconeVectorStore]) -> None:
    index, store = pinecone
    index.fail_next(2, status=429)
    assert store.upsert([_record("a-0", _unit(1))]) == 1
    assert [r.status for r in index.requests] == [429, 429, 200, 200]  # stats (retried twice), then upsert


def test_pinecone_reports_exhausted_retries(pinecone: tuple[PineconeStandin, PineconeVectorStore]) -> None:
    index, store = pinecone
    store = store.model_copy(update={"max_attempts": 2})
    index.fail_next(100, status=503)
    with pytest.raises(VectorStoreError, match=r"describe_index_stats on http://127.0.0.1:\d+ failed after 2 attempts"):
        store.count()
    assert [r.status for r in index.requests] == [503] * 4 * 2  # the SDK's 3 retries, in each of our 2 attempts


@pytest.mark.parametrize("status", [408, 425, 500, 501, 503])
def test_pinecone_transient_faults_are_retried(
    pinecone: tuple[PineconeStandin, PineconeVectorStore], status: int
) -> None:
    index, store = pinecone
    store.upsert([_record("a-0", _unit(1))])
    index.requests.clear()
    index.fail_next(2, status=status, retry_after=None)
    assert [m.id for m in store.query(_unit(1), top_k=1)] == ["a-0"]
    assert [r.status for r in index.requests] == [status, status, 200]


def test_pinecone_dropped_connections_are_retried(pinecone: tuple[PineconeStandin, PineconeVectorStore]) -> None:
    index, store = pinecone
    index.fail_next(3, drop=True)
    assert store.upsert([_record("a-0", _unit(1)), _record("b-0", _unit(0, 1))]) == 2
    assert store.count() == 2 and len(index.calls("/vectors/upsert")) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_pinecone_permanent_errors_fail_at_once(
    pinecone: tuple[PineconeStandin, PineconeVectorStore], status: int
) -> None:
    index, store = pinecone
    index.fail_next(5, status=status)
    with pytest.raises(
        PermanentVectorStoreError, match=rf"^Pinecone: describe_index_stats on {index.host} failed: HTTP {status}"
    ):
        store.count()
    assert len(index.requests) == 1


def test_pinecone_dimension_mismatch(pinecone: tuple[PineconeStandin, PineconeVectorStore]) -> None:
    index, _ = pinecone
    store = PineconeVectorStore(api_key=API_KEY, index_host=index.host, dimension=DIM * 2)
    with pytest.raises(VectorStoreError, match="dimension 8"):
        store.upsert([VectorRecord("a", np.ones(DIM * 2), {})])


# --- DuckDB specifics --------------------------------------------------------------------------------------


def test_duckdb_dimension_mismatch_with_existing_table(tmp_path: Path) -> None:
    database = str(tmp_path / "v.duckdb")
    DuckDBVectorStore(database=database, dimension=DIM).upsert([_record("a-0", _unit(1))])
    other = DuckDBVectorStore(database=database, dimension=16)
    with pytest.raises(VectorStoreError, match="8-dim vectors but the store is configured for 16"):
        other.upsert([VectorRecord("b", np.ones(16), {})])
    with pytest.raises(VectorStoreError, match="8-dim"):
        other.count()


def test_duckdb_reads_do_not_create_files(tmp_path: Path) -> None:
    database = tmp_path / "sub" / "v.duckdb"
    store = DuckDBVectorStore(database=str(database), dimension=DIM)
    assert store.count() == 0 and store.query(_unit(1), top_k=1) == [] and store.delete(["x"]) == 0
    assert not database.exists()
    store.upsert([_record("a-0", _unit(1))])
    assert database.exists()


def test_duckdb_holds_no_connection_between_calls(tmp_path: Path) -> None:
    database = str(tmp_path / "v.duckdb")
    store = DuckDBVectorStore(database=database, dimension=DIM)
    store.upsert([_record("a-0", _unit(1))])
    store.query(_unit(1))
    # a connection with a different configuration is refused while another one is open
    with duckdb.connect(database, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM chunk_vectors").fetchall() == [(1,)]


def test_duckdb_bad_config(tmp_path: Path) -> None:
    with pytest.raises(VectorStoreError, match="database file"):
        DuckDBVectorStore(database=":memory:", dimension=DIM).count()
    with pytest.raises(VectorStoreError, match="table name"):
        DuckDBVectorStore(database=str(tmp_path / "v.duckdb"), dimension=DIM, table="x; DROP").count()


def test_duckdb_bulk_upsert_twice_keeps_one_row_per_id(tmp_path: Path) -> None:
    # Speed is measured in benchmarks/pipeline_throughput.py, never asserted here.
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((5000, 256)).astype(np.float32)
    records = [VectorRecord(f"r-{i}", matrix[i], {"text": "t" * 500, "source": "s"}) for i in range(5000)]
    store = DuckDBVectorStore(database=str(tmp_path / "v.duckdb"), dimension=256)
    store.upsert(records)
    store.upsert(records)
    assert store.count() == 5000
    assert store.query(matrix[42], top_k=1)[0].id == "r-42"


# --- columnar batches ----------------------------------------------------------------------------------------


def test_batch_from_columns_equals_batch_from_records() -> None:
    records = [
        _record("d1-0", _unit(1, 0)),
        _record("d1-1", _unit(0, 1), text="x" * 1500),
        _record("d2-0", _unit(1, 1)),
    ]
    columns = {key: [r.metadata[key] for r in records] for key in METADATA_FIELDS}
    from_columns = VectorBatch.from_columns(
        [r.id for r in records], np.stack([r.values for r in records]), columns, DIM
    )
    from_records = VectorBatch.from_records(records, DIM)
    assert from_columns.ids == from_records.ids == ["d1-0", "d1-1", "d2-0"]
    assert from_columns.metadata == from_records.metadata
    assert len(from_columns.metadata["text"][1]) == 1000
    np.testing.assert_array_equal(from_columns.matrix, from_records.matrix)
    assert from_columns.rows()[2]["document_id"] == "d2"


def test_batch_from_columns_cleans_nulls_and_keeps_the_last_duplicate() -> None:
    matrix = np.stack([_unit(1, 0), _unit(0, 1), _unit(1, 1)])
    batch = VectorBatch.from_columns(
        ["a", "b", "a"], matrix, {"url": [None, float("nan"), "u"], "chunk_index": [0, 1, 2.0]}, DIM
    )
    assert batch.ids == ["b", "a"]
    assert batch.metadata["url"] == [None, "u"] and batch.metadata["chunk_index"] == [1, 2]
    assert batch.metadata["title"] == [None, None]
    np.testing.assert_array_equal(batch.matrix[1], _unit(1, 1))


@pytest.mark.parametrize(
    ("ids", "matrix", "message"),
    [
        (["a"], np.zeros((1, DIM), dtype=np.float32), "all zeros"),
        (["a"], np.full((1, DIM), np.nan, dtype=np.float32), "NaN"),
        (["a", "b"], np.ones((1, DIM), dtype=np.float32), "components"),
        ([""], np.ones((1, DIM), dtype=np.float32), "1-512 character"),
    ],
)
def test_batch_from_columns_rejects_bad_input(ids: list[str], matrix: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VectorBatch.from_columns(ids, matrix, {}, DIM)


def test_upsert_batch_is_searchable(store: VectorStore) -> None:
    matrix = np.stack([_unit(1, 0), _unit(0, 1)])
    columns = {"source": ["s1", "s2"], "text": ["one", "two"], "chunk_index": [0, 1]}
    assert store.upsert_batch(VectorBatch.from_columns(["x-0", "x-1"], matrix, columns, DIM)) == 2
    best = store.query(_unit(0, 1), top_k=1)[0]
    assert best.id == "x-1" and best.metadata["text"] == "two" and best.metadata["chunk_index"] == 1
