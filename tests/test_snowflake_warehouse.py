"""SnowflakeWarehouse under fakesnow (patch mode, where write_pandas works): the session contract and the stages.

fakesnow runs Snowflake SQL on DuckDB and, with AUTOCOMMIT off, mimics Snowflake's transactions (DML opens one,
DDL commits it), so the rollback tests describe what production does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import dagster as dg
import fakesnow
import pandas as pd
import pytest
from dagster_snowflake import SnowflakeResource

from resources.payloads import PayloadBatch
from resources.snowflake_warehouse import SnowflakeSession, SnowflakeWarehouse
from resources.warehouse import MergeCounts, Warehouse
from sophia_pipelines.domain.tables import CHUNKS, DOCUMENT_REJECTS, DOCUMENTS, Column, TableSpec
from sophia_pipelines.streams import APIFY_WEBSITE_CONTENT, RAW_APIFY_WEBSITE_CONTENT, RAW_TAVILY_SEARCH, TAVILY_SEARCH

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

SECRET = "not-a-real-password-7f3a"
T0 = datetime(2026, 1, 1, tzinfo=UTC)

ITEMS = TableSpec(
    name="sf_test_items",
    columns=(
        Column("item_id", "text", nullable=False),
        Column("n", "int", nullable=False),
        Column("score", "float"),
        Column("payload", "json"),
        Column("version", "text", nullable=False),
        Column("seen_at", "timestamp", nullable=False),
    ),
    key=("item_id",),
)


def items_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=ITEMS.column_names)
    frame["seen_at"] = pd.to_datetime(frame["seen_at"], utc=True)
    return frame


def make_warehouse(password: str | dg.EnvVar = SECRET) -> SnowflakeWarehouse:
    # No paramstyle/timezone here on purpose: the warehouse applies qmark + UTC itself.
    return SnowflakeWarehouse(
        snowflake=SnowflakeResource(
            account="sophia-test", user="tester", password=password, database="SOPHIA", schema="PIPELINES"
        )
    )


@pytest.fixture
def warehouse() -> Iterator[SnowflakeWarehouse]:
    with fakesnow.patch():
        yield make_warehouse()


def count(warehouse: SnowflakeWarehouse, spec: TableSpec) -> int:
    with warehouse.session() as s:
        return s.row_count(spec)


# --- resource --------------------------------------------------------------------------------------------------


def test_describe_and_repr_never_show_secrets(warehouse: SnowflakeWarehouse) -> None:
    assert warehouse.describe() == "snowflake:SOPHIA.PIPELINES"
    for text in (repr(warehouse), str(warehouse), warehouse.describe()):
        assert SECRET not in text


def test_connection_uses_qmark_and_utc_without_changing_the_configured_resource(
    warehouse: SnowflakeWarehouse,
) -> None:
    resource = warehouse._connection_resource()
    assert (resource.paramstyle, resource.timezone) == ("qmark", "UTC")
    assert warehouse.snowflake.paramstyle is None
    with warehouse.session() as s:
        assert isinstance(s, SnowflakeSession) and s.dialect == "snowflake"
        assert s.scalar("SELECT ? || ?", ["a", "b"]) == "ab"


def test_other_connectors_are_refused() -> None:
    sf = SnowflakeResource(account="a", user="u", password=SECRET, connector="sqlalchemy")
    with pytest.raises(ValueError, match="Python connector"), SnowflakeWarehouse(snowflake=sf).session():
        pass


# --- session contract --------------------------------------------------------------------------------------------


def test_ensure_table_maps_types_and_is_idempotent(warehouse: SnowflakeWarehouse) -> None:
    for _ in range(2):
        with warehouse.session() as s:
            s.ensure_tables([ITEMS, ITEMS])
    with warehouse.session() as s:
        cols = s.query(
            "SELECT column_name, data_type, numeric_scale, is_nullable FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            ["SF_TEST_ITEMS"],
        )
    assert cols["column_name"].tolist() == [c.upper() for c in ITEMS.column_names]
    assert cols["data_type"].tolist() == ["TEXT", "NUMBER", "FLOAT", "VARIANT", "TEXT", "TIMESTAMP_TZ"]
    assert cols["numeric_scale"].iloc[1] == 0
    assert cols["is_nullable"].tolist() == ["NO", "NO", "YES", "YES", "NO", "NO"]


def test_ensure_table_on_an_existing_table_keeps_the_transaction_open(warehouse: SnowflakeWarehouse) -> None:
    with warehouse.session() as s:
        s.ensure_tables([ITEMS, DOCUMENTS])
    with pytest.raises(RuntimeError), warehouse.session() as s:
        s.execute("INSERT INTO sf_test_items (item_id, n, version, seen_at) VALUES (?, ?, ?, ?)", ["x", 1, "v1", T0])
        s.ensure_table(DOCUMENTS)  # exists: no DDL, so no implicit commit of the INSERT
        raise RuntimeError("boom")
    assert count(warehouse, ITEMS) == 0


def test_merge_counts_inserts_updates_and_unchanged(warehouse: SnowflakeWarehouse) -> None:
    first = [
        ("a", 1, 0.5, {"k": "ü"}, "v1", T0),
        ("b", 2, None, None, "v1", T0),
        ("c", 3, 1.5, [1, 2], "v1", T0),
    ]
    with warehouse.session() as s:
        s.ensure_table(ITEMS)
        assert s.merge(ITEMS, items_frame(first), compare=["version"]) == MergeCounts(inserted=3)
        assert s.merge(ITEMS, items_frame(first), compare=["version"]) == MergeCounts()

    changed = [
        ("a", 10, 0.5, {"k": "ü"}, "v2", T0),  # compare column changed -> update
        ("b", 20, None, None, "v1", T0),  # only a non-compare column changed -> unchanged
        ("d", 4, None, None, "v1", T0),  # new -> insert
    ]
    with warehouse.session() as s:
        assert s.merge(ITEMS, items_frame(changed), compare=["version"]) == MergeCounts(inserted=1, updated=1)
        rows = s.query("SELECT item_id, n FROM sf_test_items ORDER BY item_id")
    assert rows.columns.tolist() == ["item_id", "n"]
    assert dict(zip(rows["item_id"], rows["n"], strict=True)) == {"a": 10, "b": 2, "c": 3, "d": 4}


def test_merge_guard_keeps_newer_rows(warehouse: SnowflakeWarehouse) -> None:
    guard = "src.seen_at >= tgt.seen_at"
    with warehouse.session() as s:
        s.ensure_table(ITEMS)
        s.merge(ITEMS, items_frame([("a", 1, None, None, "v1", T0)]), compare=["version"], guard=guard)
        older = items_frame([("a", 2, None, None, "v2", T0 - timedelta(days=1))])
        assert s.merge(ITEMS, older, compare=["version"], guard=guard) == MergeCounts()
        newer = items_frame([("a", 3, None, None, "v3", T0 + timedelta(days=1))])
        assert s.merge(ITEMS, newer, compare=["version"], guard=guard) == MergeCounts(updated=1)
        assert s.scalar("SELECT version FROM sf_test_items WHERE item_id = ?", ["a"]) == "v3"


def test_merge_rejects_duplicate_keys_and_skips_empty_frames(warehouse: SnowflakeWarehouse) -> None:
    with warehouse.session() as s:
        s.ensure_table(ITEMS)
        assert s.merge(ITEMS, items_frame([]), compare=["version"]) == MergeCounts()
        assert s.insert(ITEMS, items_frame([])) == 0
        dupes = items_frame([("a", 1, None, None, "v1", T0), ("a", 2, None, None, "v1", T0)])
        with pytest.raises(ValueError, match="duplicate keys"):
            s.merge(ITEMS, dupes, compare=["version"])


def test_json_is_variant_and_round_trips(warehouse: SnowflakeWarehouse) -> None:
    payloads = {
        "obj": {"name": "Zoë", "tags": ["a", "b"], "nested": {"x": 1}},
        "text": json.dumps({"already": "json text"}),  # JSON text is stored as parsed, not as a string
        "list": [1, 2.5, None],
        "num": 42,
    }
    rows = [(key, i, None, value, "v1", T0) for i, (key, value) in enumerate(payloads.items())]
    with warehouse.session() as s:
        s.ensure_table(ITEMS)
        s.merge(ITEMS, items_frame(rows), compare=["version"])
        out = s.query("SELECT item_id, CAST(payload AS VARCHAR) AS payload FROM sf_test_items ORDER BY n")
        assert s.scalar("SELECT payload:nested:x::int FROM sf_test_items WHERE item_id = 'obj'") == 1
        assert s.scalar("SELECT payload:already::varchar FROM sf_test_items WHERE item_id = 'text'") == "json text"
    expected = {**payloads, "text": {"already": "json text"}}
    assert {r.item_id: json.loads(r.payload) for r in out.itertuples()} == expected


def test_timestamps_are_utc_in_and_out(warehouse: SnowflakeWarehouse) -> None:
    plus_two = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    with warehouse.session() as s:
        s.ensure_table(ITEMS)
        s.insert(ITEMS, items_frame([("a", 1, None, None, "v1", plus_two), ("b", 2, None, None, "v1", T0)]))
        out = s.query("SELECT item_id, seen_at FROM sf_test_items WHERE seen_at > ? ORDER BY item_id", [T0])
    assert out["item_id"].tolist() == ["a"]
    assert str(out["seen_at"].dt.tz) == "UTC"
    assert out["seen_at"].iloc[0] == pd.Timestamp("2026-03-01T10:00:00Z")


def test_insert_appends_and_counts(warehouse: SnowflakeWarehouse) -> None:
    with warehouse.session() as s:
        s.ensure_table(ITEMS)
        assert s.insert(ITEMS, items_frame([("a", 1, None, {"x": 1}, "v1", T0), ("b", 2, None, None, "v1", T0)])) == 2
        assert s.scalar("SELECT payload:x::int FROM sf_test_items WHERE item_id = 'a'") == 1
        assert s.row_count(ITEMS) == 2


def test_key_table_delete_keys_and_execute_count(warehouse: SnowflakeWarehouse) -> None:
    rows = [(k, i, None, None, "v1", T0) for i, k in enumerate("abcde")]
    with warehouse.session() as s:
        s.ensure_table(ITEMS)
        s.merge(ITEMS, items_frame(rows), compare=["version"])
        with s.key_table(["a", "b", "a", "zz"]) as keys:
            assert s.query(f"SELECT k FROM {keys} ORDER BY k")["k"].tolist() == ["a", "b", "zz"]
            touched = s.execute_count(
                f"UPDATE sf_test_items SET version = 'v2' WHERE item_id IN (SELECT k FROM {keys})"
            )
        assert touched == 2
        assert s.delete_keys(ITEMS, "item_id", ["c", "d", "d", "missing"]) == 2
        assert s.delete_keys(ITEMS, "item_id", []) == 0
        assert s.execute_count("DELETE FROM sf_test_items WHERE item_id = 'nope'") == 0
        assert s.execute_count("UPDATE sf_test_items SET n = n + 1") == 3
        with s.key_table([]) as keys:
            assert s.execute_count(f"DELETE FROM sf_test_items WHERE item_id IN (SELECT k FROM {keys})") == 0
    assert count(warehouse, ITEMS) == 3


def test_query_returns_lowercase_columns_even_when_empty(warehouse: SnowflakeWarehouse) -> None:
    with warehouse.session() as s:
        s.ensure_table(ITEMS)
        empty = s.query("SELECT item_id, n AS total FROM sf_test_items WHERE n > ?", [0])
    assert empty.empty and empty.columns.tolist() == ["item_id", "total"]


def test_rollback_on_exception(warehouse: SnowflakeWarehouse) -> None:
    with warehouse.session() as s:
        s.ensure_table(ITEMS)
    with pytest.raises(RuntimeError, match="boom"), warehouse.session() as s:
        s.merge(ITEMS, items_frame([("a", 1, None, None, "v1", T0)]), compare=["version"])
        s.execute_count("UPDATE sf_test_items SET n = 5")
        raise RuntimeError("boom")
    assert count(warehouse, ITEMS) == 0


def test_rollback_covers_the_writes_since_the_last_staging_step(warehouse: SnowflakeWarehouse) -> None:
    """Snowflake commits before DDL, and staging a frame is DDL: an earlier load in the session stays."""
    with warehouse.session() as s:
        s.ensure_table(ITEMS)
    with pytest.raises(RuntimeError), warehouse.session() as s:
        s.merge(ITEMS, items_frame([("a", 1, None, None, "v1", T0)]), compare=["version"])
        s.merge(ITEMS, items_frame([("b", 2, None, None, "v1", T0)]), compare=["version"])
        raise RuntimeError("boom")
    with warehouse.session() as s:
        assert s.query("SELECT item_id FROM sf_test_items")["item_id"].tolist() == ["a"]


def test_errors_do_not_leak_the_password() -> None:
    with fakesnow.patch():
        wh = make_warehouse()
        with pytest.raises(Exception) as err, wh.session() as s:
            s.query("SELECT * FROM no_such_table")
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)


# --- the real stages, unchanged, on Snowflake ---------------------------------------------------------------------


def website_item(path: str, text: str) -> dict:
    return {
        "url": f"https://example.com/{path}",
        "text": text,
        "metadata": {"title": f"Page {path}"},
        "crawl": {"loadedTime": "2026-01-02T03:04:05Z", "httpStatusCode": 200},
    }


def stage_batches(edited: bool = False) -> tuple[list[PayloadBatch], list[PayloadBatch]]:
    alpha = " ".join(f"Alpha sentence number {i} explains retrieval pipelines." for i in range(12))
    beta = " ".join(f"Beta sentence {i} covers warehouses." for i in range(6))
    if edited:
        beta += " An added closing sentence."
    website = [
        PayloadBatch(
            "apify",
            "website-content-crawler",
            "run-1",
            [
                website_item("alpha", alpha),
                website_item("beta", beta),
                {"url": "https://example.com/empty"},  # rejected: no text
                "junk",  # rejected: not an object (a bare JSON string payload)
            ],
            T0,
        )
    ]
    tavily = [
        PayloadBatch(
            "tavily",
            "search",
            "gpu-pricing",
            [
                {
                    "query": "gpu pricing",
                    "results": [
                        {"url": "https://news.example/gpu", "title": "GPU prices", "content": "H100 rates fell."},
                        {"url": "", "title": "no url", "content": "x"},
                    ],
                }
            ],
            T0,
        )
    ]
    return website, tavily


class InMemorySource:
    """Duck-typed PayloadSource over fixed batches (these carry no fingerprint, so they always land)."""

    def __init__(self, batches: list[PayloadBatch]) -> None:
        self.batches = batches

    def fetch_batches(self, stream: str, known: dict[str, str] | None = None) -> list[PayloadBatch]:
        return [b for b in self.batches if b.stream == stream]


def run_stages(warehouse: Warehouse, edited: bool = False) -> dict:
    from sophia_pipelines.stages.chunks import rechunk_changed
    from sophia_pipelines.stages.documents import normalize_pending
    from sophia_pipelines.stages.raw import land_raw

    website, tavily = stage_batches(edited)
    out: dict = {}
    with warehouse.session() as s:
        out["website"] = land_raw(
            s, RAW_APIFY_WEBSITE_CONTENT, APIFY_WEBSITE_CONTENT, InMemorySource(website), "website-content-crawler"
        )
    with warehouse.session() as s:
        out["tavily"] = land_raw(s, RAW_TAVILY_SEARCH, TAVILY_SEARCH, InMemorySource(tavily), "search")
    with warehouse.session() as s:
        out["documents"] = normalize_pending(s, [RAW_APIFY_WEBSITE_CONTENT, RAW_TAVILY_SEARCH])
    with warehouse.session() as s:
        out["chunks"] = rechunk_changed(s, max_chars=200, overlap_chars=20, model_id="test-model")
    return out


def test_stages_end_to_end_and_idempotent(warehouse: SnowflakeWarehouse) -> None:
    first = run_stages(warehouse)
    assert first["website"].counts == MergeCounts(inserted=4) and first["website"].total_rows == 4
    assert first["tavily"].counts == MergeCounts(inserted=1)
    docs = first["documents"]
    assert docs.records_processed == 5
    assert docs.counts == MergeCounts(inserted=3) and docs.total_documents == 3
    assert docs.rejected == 3 and docs.total_rejects == 3
    assert docs.documents_by_source == {APIFY_WEBSITE_CONTENT: 2, TAVILY_SEARCH: 1}
    chunks = first["chunks"]
    assert chunks.documents_chunked == 3 and chunks.chunks_written > 3 and chunks.chunks_deleted == 0
    assert chunks.total_chunks == chunks.chunks_written == chunks.pending_embedding

    with warehouse.session() as s:
        doc = s.query("SELECT title, url, fetched_at FROM documents WHERE url = ?", ["https://example.com/alpha"])
        assert s.scalar("SELECT COUNT(*) FROM raw_apify_website_content WHERE normalized_hash IS NULL") == 0
    assert doc["title"].tolist() == ["Page alpha"]
    assert doc["fetched_at"].iloc[0] == pd.Timestamp("2026-01-02T03:04:05Z")

    second = run_stages(warehouse)
    assert second["website"].counts == MergeCounts() and second["website"].unchanged == 4
    assert second["tavily"].counts == MergeCounts()
    assert second["documents"].records_processed == 0 and second["documents"].counts == MergeCounts()
    assert second["chunks"].chunks_written == 0 and second["chunks"].chunks_deleted == 0
    assert second["chunks"].total_chunks == chunks.total_chunks

    third = run_stages(warehouse, edited=True)  # one page's text changed at the source
    assert third["website"].counts == MergeCounts(updated=1)
    assert third["documents"].records_processed == 1 and third["documents"].counts == MergeCounts(updated=1)
    assert third["chunks"].documents_chunked == 1 and third["chunks"].chunks_written >= 1
    assert third["chunks"].chunks_deleted >= 1
    for spec in (DOCUMENTS, DOCUMENT_REJECTS):
        assert count(warehouse, spec) == 3
    assert count(warehouse, CHUNKS) == third["chunks"].total_chunks


# --- usable from Dagster -------------------------------------------------------------------------------------------


def test_materialize_with_snowflake_warehouse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPHIA_TEST_SNOWFLAKE_PASSWORD", SECRET)

    @dg.asset
    def tiny_items(warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.session() as s:
            s.ensure_table(ITEMS)
            counts = s.merge(ITEMS, items_frame([("a", 1, None, {"x": 1}, "v1", T0)]), compare=["version"])
            total = s.row_count(ITEMS)
        return dg.MaterializeResult(
            metadata={"inserted": counts.inserted, "dagster/row_count": total, "warehouse": warehouse.describe()}
        )

    with fakesnow.patch():
        warehouse = make_warehouse(password=dg.EnvVar("SOPHIA_TEST_SNOWFLAKE_PASSWORD"))
        result = dg.materialize([tiny_items], resources={"warehouse": warehouse})
        assert result.success
        assert count(make_warehouse(), ITEMS) == 1  # committed: visible to a later connection

    (mat,) = result.asset_materializations_for_node("tiny_items")
    assert mat.metadata["inserted"].value == 1 and mat.metadata["dagster/row_count"].value == 1
    assert mat.metadata["warehouse"].value == "snowflake:SOPHIA.PIPELINES"
    assert all(SECRET not in repr(event) for event in result.all_events)
