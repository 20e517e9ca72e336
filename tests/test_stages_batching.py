"""The stages give the same warehouse whether they work in one batch or in many small ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster_duckdb import DuckDBResource

from resources.payloads import BUNDLED_SAMPLES_DIR, SamplePayloadSource
from resources.warehouse import DuckDBWarehouse
from sophia_pipelines.stages import documents as documents_stage
from sophia_pipelines.stages.chunks import rechunk_changed
from sophia_pipelines.stages.documents import normalize_pending
from sophia_pipelines.stages.raw import land_raw
from sophia_pipelines.streams import STREAMS as RAW_STREAMS


def load_all(db: Path, doc_batch: int, chunk_batch: int, raw_flush: int) -> tuple[list, list, list, list, dict]:
    warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=str(db)))
    with warehouse.session() as s:
        for stream in RAW_STREAMS:
            source = SamplePayloadSource(system=stream.system, samples_dir=str(BUNDLED_SAMPLES_DIR))
            land_raw(s, stream.table, stream.source, source, stream.stream, flush_items=raw_flush)
        docs = normalize_pending(s, [r.table for r in RAW_STREAMS], batch_size=doc_batch)
        chunks = rechunk_changed(s, 1200, 150, "model", batch_size=chunk_batch)
        tables = [
            s.query(sql).values.tolist()
            for sql in (
                "SELECT record_id, payload_hash FROM raw_apify_website_content ORDER BY 1",
                "SELECT document_id, content_hash, raw_record_id FROM documents ORDER BY 1",
                "SELECT chunk_id, content_hash FROM chunks ORDER BY 1",
                "SELECT reject_id, reason FROM document_rejects ORDER BY 1",
            )
        ]
    stats = {
        "processed": docs.records_processed,
        "rejected": docs.rejected,
        "chunked": chunks.documents_chunked,
        "written": chunks.chunks_written,
    }
    return (*tables, stats)  # raw, documents, chunks, rejects, stats


def test_small_batches_give_the_same_result_as_one_batch(tmp_path: Path) -> None:
    one = load_all(tmp_path / "one.duckdb", doc_batch=1_000_000, chunk_batch=1_000_000, raw_flush=1_000_000)
    many = load_all(tmp_path / "many.duckdb", doc_batch=7, chunk_batch=5, raw_flush=1)
    assert one == many
    raw, documents, chunks, rejects, stats = many
    assert len(raw) == 144 and len(documents) >= 250 and len(chunks) >= len(documents) and rejects
    assert stats["processed"] == 340 and stats["chunked"] == len(documents) and stats["written"] == len(chunks)


class FailsAfter:
    """A payload source whose batches stop with an error after the first `good` of them."""

    def __init__(self, source: SamplePayloadSource, good: int) -> None:
        self.source, self.good = source, good

    def fetch_batches(self, stream: str, known: dict[str, str]) -> Iterator[object]:
        for n, batch in enumerate(self.source.fetch_batches(stream, known)):
            if n == self.good:
                raise RuntimeError("connection reset while listing")
            yield batch


def test_groups_are_bounded_by_payload_size_and_each_is_kept_once_merged(tmp_path: Path) -> None:
    """A group closes at `flush_chars` of payload text (one Tavily response is ~100x a page) and is committed
    with its fingerprints, so a failure later in the stream keeps what landed and the next run skips it."""
    stream = next(s for s in RAW_STREAMS if s.source == "tavily/search")
    source = SamplePayloadSource(system=stream.system, samples_dir=str(BUNDLED_SAMPLES_DIR))
    warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=str(tmp_path / "w.duckdb")))
    failing = FailsAfter(source, 3)
    with pytest.raises(RuntimeError, match="connection reset"), warehouse.session() as s:
        land_raw(s, stream.table, stream.source, failing, stream.stream, flush_chars=1)  # type: ignore[arg-type]
    with warehouse.session() as s:
        assert s.row_count(stream.table) == 3  # three one-response groups, each committed before the failure
        landed = land_raw(s, stream.table, stream.source, source, stream.stream, flush_chars=1)
    assert landed.batches == len(list(source.fetch_batches(stream.stream, {}))) - 3  # the three are skipped


class CountingSource:
    """A payload source that counts the batches it has handed out."""

    def __init__(self, source: SamplePayloadSource) -> None:
        self.source, self.read = source, 0

    def fetch_batches(self, stream: str, known: dict[str, str]) -> Iterator[object]:
        for batch in self.source.fetch_batches(stream, known):
            self.read += 1
            yield batch


def test_a_failed_group_write_stops_the_stream_and_keeps_the_groups_before_it(tmp_path: Path) -> None:
    """Group writes run beside the reading of the next group: a write that fails is raised, the groups committed
    before it stay, and reading stops within one group of the failure (nothing is read past it unseen)."""
    stream = next(s for s in RAW_STREAMS if s.source == "tavily/search")
    source = CountingSource(SamplePayloadSource(system=stream.system, samples_dir=str(BUNDLED_SAMPLES_DIR)))
    warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=str(tmp_path / "w.duckdb")))
    with warehouse.session() as s:
        merges = 0
        merge = s.merge

        def failing_merge(spec, frame, compare, guard=None):  # type: ignore[no-untyped-def]
            nonlocal merges
            if spec.name == stream.table.name:
                merges += 1
                if merges == 3:
                    raise OSError("disk full while merging group 3")
            return merge(spec, frame, compare, guard)

        s.merge = failing_merge  # type: ignore[method-assign]
        with pytest.raises(OSError, match="group 3"):
            land_raw(s, stream.table, stream.source, source, stream.stream, flush_chars=1)  # type: ignore[arg-type]
    assert source.read <= 4  # group 4 may have been read while group 3 was written; nothing after it
    with warehouse.session() as s:
        assert s.row_count(stream.table) == 2
        landed = land_raw(s, stream.table, stream.source, source.source, stream.stream, flush_chars=1)
    assert landed.batches == len(list(source.source.fetch_batches(stream.stream, {}))) - 2


def test_document_batches_are_bounded_by_payload_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream's first batch is small; later ones hold about NORMALIZE_BATCH_CHARS of payload (Tavily items are
    whole search responses, ~100x a page), never more than the record bound; the documents are the same."""
    tavily = next(s for s in RAW_STREAMS if s.source == "tavily/search")
    source = SamplePayloadSource(system=tavily.system, samples_dir=str(BUNDLED_SAMPLES_DIR))

    def normalized(name: str) -> tuple[list[list[object]], list[int], int]:
        warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=str(tmp_path / name)))
        with warehouse.session() as s:
            land_raw(s, tavily.table, tavily.source, source, tavily.stream)
            sizes = s.query("SELECT LENGTH(payload::VARCHAR) AS n FROM raw_tavily_search")["n"].tolist()
            result = documents_stage.normalize_pending(s, [tavily.table], batch_size=1_000)
            docs = s.query("SELECT document_id, content_hash, raw_record_id FROM documents ORDER BY 1").values.tolist()
        assert result.records_processed == len(sizes)
        return docs, sizes, result.documents_seen

    whole, sizes, _ = normalized("whole.duckdb")
    limits: list[int] = []
    read = documents_stage.pending_raw_records

    def recording(session, spec, limit, *within):  # type: ignore[no-untyped-def]
        limits.append(limit)
        return read(session, spec, limit, *within)

    chars = 4 * sum(sizes) // len(sizes)  # about four of the samples' responses per batch
    monkeypatch.setattr(documents_stage, "NORMALIZE_BATCH_CHARS", chars)
    monkeypatch.setattr(documents_stage, "FIRST_BATCH_RECORDS", 2)
    monkeypatch.setattr(documents_stage, "pending_raw_records", recording)
    batched, _, _ = normalized("batched.duckdb")
    assert batched == whole and whole
    assert limits[0] == 2 and len(limits) > 2
    assert all(1 <= n <= chars // min(sizes) for n in limits[1:])  # sized from the mean payload of the batch before
    assert max(limits) < len(sizes)
