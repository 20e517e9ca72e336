"""The local lexical store as segments: one segment per write (a stage page), tombstones, bounded tiered merges,
an atomically switched manifest, and scores equal to bm25s fitted on the live chunks throughout."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import bm25s
import pyarrow as pa
import pytest

import resources.lexical_store as lexical_store
from resources.bm25_index import BM25_PARAMS
from resources.bm25_segments import MAX_SEGMENT_CHUNKS, MAX_SEGMENTS
from resources.lexical_store import (
    MANIFEST_PREFIX,
    SEGMENT_PREFIX,
    LexicalRecord,
    LocalLexicalStore,
    merge_plan,
    records_table,
)
from resources.warehouse import DuckDBWarehouse
from sophia_pipelines.stages.lexical import ledger_stats, pending_lexical, sync_lexical
from tests.test_lexical_stage import RecordingStore, chunk_ids, setup  # noqa: F401 - the fixture

WORDS = [f"w{n}" for n in range(40)]
QUERY = ["w1", "w5", "w17"]


def chunk(n: int, rng: random.Random) -> tuple[LexicalRecord, list[str]]:
    meta = {"document_id": f"d{n}", "chunk_index": 0, "source": "s/x" if n % 2 else "s/y", "title": f"t{n}"}
    return LexicalRecord(f"c{n:03d}", meta | {"text": f"text {n}"}), [
        rng.choice(WORDS) for _ in range(rng.randrange(1, 20))
    ]


def write(store: LocalLexicalStore, chunks: list[tuple[LexicalRecord, list[str]]], deletes: list[str] = ()) -> None:
    records = records_table([r for r, _ in chunks])
    store.write(records, pa.array([t for _, t in chunks], pa.list_(pa.string())), list(deletes))


def expected_scores(live: dict[str, list[str]], query: list[str]) -> dict[str, float]:
    ids = sorted(live)
    model = bm25s.BM25(**BM25_PARAMS)
    model.index([live[i] for i in ids], show_progress=False)
    scores = model.get_scores([t for t in query if t in model.vocab_dict])
    return {i: float(s) for i, s in zip(ids, scores, strict=True) if s > 0}


def assert_store_matches(store: LocalLexicalStore, live: dict[str, list[str]]) -> None:
    got = {m.id: m.score for m in store.query(QUERY, top_k=1000)}
    expected = expected_scores(live, QUERY)
    assert got.keys() == expected.keys()
    assert got == pytest.approx(expected, rel=1e-5)
    assert store.count() == len(live)


def on_disk(root: Path) -> tuple[set[str], list[str]]:
    segments = {p.name for p in root.iterdir() if p.name.startswith(SEGMENT_PREFIX)}
    return segments, [p.name for p in root.iterdir() if p.name.startswith(MANIFEST_PREFIX)]


def test_writes_add_segments_tombstone_and_merge_within_bounds(tmp_path: Path) -> None:
    rng = random.Random(7)
    store = LocalLexicalStore(directory=str(tmp_path / "lexical"))
    live: dict[str, list[str]] = {}
    for n in range(3 * MAX_SEGMENTS):  # one write per few chunks: many segments, so merges happen
        batch = [chunk(m, rng) for m in range(3 * n, 3 * n + 3)]
        write(store, batch)
        live |= {r.id: t for r, t in batch}
        entries = store.segments()
        assert len(entries) <= MAX_SEGMENTS and all(e.live <= MAX_SEGMENT_CHUNKS for e in entries)
        segments, manifests = on_disk(tmp_path / "lexical")
        assert segments == {e.name for e in entries} and len(manifests) == 1  # unreferenced ones removed
    assert_store_matches(store, live)

    # Re-upsert some ids with new tokens and delete others: older rows are tombstoned, scores follow.
    edited = [(chunk(m, rng)[0], ["w1", "w1", "w5"]) for m in (4, 30, 61)]
    write(store, edited, deletes=["c010", "c011", "c050"])
    live |= {r.id: t for r, t in edited}
    for gone in ("c010", "c011", "c050"):
        del live[gone]
    assert_store_matches(store, live)
    assert store.fetch(["c010", "c030"]).keys() == {"c030"}
    assert store.fetch(["c030"])["c030"]["title"] == "t30"
    assert sum(len(e.deleted) for e in store.segments()) >= 3

    # Filters on the mapped records.
    assert {m.metadata["source"] for m in store.query(QUERY, 1000, source="s/x")} == {"s/x"}
    # A fresh process view (another store object on the same folder) reads the same manifest.
    again = LocalLexicalStore(directory=str(tmp_path / "lexical"))
    assert [m.id for m in again.query(QUERY, 5)] == [m.id for m in store.query(QUERY, 5)]


def test_merge_plan_merges_the_smallest_within_the_cap() -> None:
    assert merge_plan([5] * MAX_SEGMENTS) == []  # at most MAX_SEGMENTS: nothing to do
    sizes = [100, 3, 50, 7, 1, 900, 2, 40, 60]
    chosen = merge_plan(sizes, max_segments=8, cap=1000)
    assert sorted(sizes[n] for n in chosen) == sorted(sizes)[: len(chosen)] and len(chosen) >= 2
    assert len(sizes) - len(chosen) + 1 <= 8
    capped = merge_plan(sizes, max_segments=8, cap=60)
    assert sum(sizes[n] for n in capped) <= 60
    assert merge_plan([900, 950, 990] * 3, max_segments=8, cap=1000) == []  # no merge would fit the cap


def test_a_large_write_is_split_at_the_segment_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexical_store, "MAX_SEGMENT_CHUNKS", 4)
    rng = random.Random(1)
    store = LocalLexicalStore(directory=str(tmp_path / "lexical"))
    batch = [chunk(m, rng) for m in range(10)]
    write(store, batch)
    assert [e.rows for e in store.segments()] == [4, 4, 2]
    assert_store_matches(store, {r.id: t for r, t in batch})


def test_stage_pages_become_segments_and_a_crash_keeps_finished_pages(
    setup: tuple[DuckDBWarehouse, RecordingStore],  # noqa: F811
) -> None:
    warehouse, store = setup
    total = pending_lexical(warehouse)
    assert total >= 4

    class FailsSecondWrite(RecordingStore):
        def write(self, *args: Any, **kwargs: Any) -> int:
            if len(self.writes) == 1:
                raise RuntimeError("disk full")
            return super().write(*args, **kwargs)

    failing = FailsSecondWrite(store.store)
    with pytest.raises(RuntimeError, match="disk full"):
        sync_lexical(warehouse, failing, page_size=2)
    assert pending_lexical(warehouse) == total - 2 and store.count() == 2  # the first page landed, ledger and all

    result = sync_lexical(warehouse, store, page_size=2)
    assert result.chunks_indexed == total - 2 and result.pages == len(store.writes) == -(-(total - 2) // 2)
    assert all(len(ids) <= 2 and not deletes for ids, deletes in store.writes)
    assert len(store.segments()) == min(MAX_SEGMENTS, 1 + result.pages) and store.count() == total
    assert sync_lexical(warehouse, store, page_size=2).pages == 0 and len(store.writes) == result.pages
    assert store.fetch(chunk_ids(warehouse, "bread"))


def test_ledger_stats_are_the_live_corpus_with_the_page_applied(
    setup: tuple[DuckDBWarehouse, RecordingStore],  # noqa: F811
) -> None:
    warehouse, store = setup
    sync_lexical(warehouse, store)
    with warehouse.session() as s:
        ledger = s.query("SELECT chunk_id, tokens FROM lexical_ledger ORDER BY chunk_id")
    [bread] = chunk_ids(warehouse, "bread")
    gone = ledger["chunk_id"].iat[0] if ledger["chunk_id"].iat[0] != bread else ledger["chunk_id"].iat[1]
    page_tokens = pa.array([["sourdough", "rye", "rye"]], pa.list_(pa.string()))
    stats_fn = ledger_stats(
        warehouse, pa.array([gone], pa.string()), pa.array([bread], pa.string()), page_tokens, page_size=2
    )
    terms = pa.array(["sourdough", "rye", "gpu", "absent"], pa.string())
    stats = stats_fn(terms)
    docs = {
        cid: (tokens.split(" ") if tokens else [])
        for cid, tokens in zip(ledger["chunk_id"], ledger["tokens"], strict=True)
    }
    del docs[gone]
    docs[bread] = ["sourdough", "rye", "rye"]
    assert (stats.n_docs, stats.total_length) == (len(docs), sum(map(len, docs.values())))
    assert stats.df == {t: sum(t in d for d in docs.values()) for t in terms.to_pylist()}
    assert stats.df["rye"] == 1 and stats.df["gpu"] >= 3 and stats.df["absent"] == 0


def test_a_reader_racing_a_write_that_merges_reads_the_new_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer switches CURRENT and removes the segments it merged while a reader (another process: no cached
    view) is between reading the manifest and opening its segments: the reader reads CURRENT again."""
    rng = random.Random(3)
    writer = LocalLexicalStore(directory=str(tmp_path / "lexical"))
    first, second, third = ([chunk(m, rng) for m in range(k, k + 4)] for k in (0, 4, 8))
    write(writer, first)
    write(writer, second)
    assert len(writer.segments()) == 2
    monkeypatch.setattr(lexical_store, "_VIEWS", {})  # the reader's process has nothing cached
    monkeypatch.setattr(lexical_store, "_SEGMENTS", {})
    monkeypatch.setattr(lexical_store.merge_plan, "__defaults__", (1, MAX_SEGMENT_CHUNKS))  # the write merges all
    opened = LocalLexicalStore._open

    def racing_open(self: LocalLexicalStore, name: str, **kwargs: Any) -> Any:
        if not racing_open.raced:  # type: ignore[attr-defined]
            racing_open.raced = True  # type: ignore[attr-defined]
            write(writer, third)  # merges, switches CURRENT, removes the segment `name`
        return opened(self, name, **kwargs)

    racing_open.raced = False  # type: ignore[attr-defined]
    monkeypatch.setattr(LocalLexicalStore, "_open", racing_open)
    reader = LocalLexicalStore(directory=str(tmp_path / "lexical"))
    live = {r.id: t for r, t in [*first, *second, *third]}
    assert_store_matches(reader, live)
    assert len(reader.segments()) == 1


def test_writes_and_merges_leave_nothing_in_the_process_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipeline process writes every segment of the index and queries none: its writes (the replaced-id checks
    against every segment, and the merges) open segments without caching them. A query then caches what it reads."""
    monkeypatch.setattr(lexical_store, "_SEGMENTS", {})
    monkeypatch.setattr(lexical_store, "_VIEWS", {})
    rng = random.Random(5)
    store = LocalLexicalStore(directory=str(tmp_path / "lexical"))
    live: dict[str, list[str]] = {}
    for n in range(MAX_SEGMENTS + 3):  # past MAX_SEGMENTS: merges happen
        batch = [chunk(m, rng) for m in range(2 * n, 2 * n + 3)]  # each write re-upserts one chunk of the last
        write(store, batch)
        live.update({r.id: t for r, t in batch})
    assert len(store.segments()) <= MAX_SEGMENTS
    assert lexical_store._SEGMENTS == {}
    assert_store_matches(store, live)  # the writes' tombstones and merges are right, and now a query has read
    assert set(lexical_store._SEGMENTS) == {str((tmp_path / "lexical" / e.name).resolve()) for e in store.segments()}
