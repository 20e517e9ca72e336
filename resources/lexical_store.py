"""The lexical (BM25) store interface, and the local backend: a segmented BM25 index plus chunk metadata on disk.

Backends: `LocalLexicalStore` (here) and `resources.pinecone_vector_store.PineconeLexicalStore` (a Pinecone
sparse index). The lexical stage (`sophia_pipelines/stages/lexical.py`) hands the store one page of changed chunks
at a time (their records and token lists) and, at the end, the ids of removed chunks. The local store adds one
immutable segment per write and tombstones the older rows of those ids (`resources/bm25_segments.py`: BM25 is
scored at query time from the live rows' statistics, so nothing is refitted); Pinecone upserts the changed chunks'
sparse vectors, weighted with corpus statistics the stage provides (`CorpusStatsFn`).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from resources.bm25_segments import (
    MAX_SEGMENT_CHUNKS,
    MAX_SEGMENTS,
    CorpusStats,
    Segment,
    SegmentedBM25,
    merge,
    read_arrow,
)
from resources.vector_store import (
    SNIPPET_MAX_CHARS,
    TITLE_MAX_CHARS,
    VectorMatch,
    normalize_metadata,
)

# What every lexical record carries (the vector store's fields plus the document's date, for date filters).
LEXICAL_FIELDS = ("document_id", "chunk_index", "source", "url", "title", "text", "published_at")
RECORDS_FILE = "records.arrow"  # a segment's LEXICAL_RECORDS rows, in its row order (Arrow IPC, memory-mapped)
CURRENT_FILE = "CURRENT"  # names the live manifest, swapped atomically after a complete write
SEGMENT_PREFIX, MANIFEST_PREFIX = "seg-", "manifest-"
MERGE_RECORD_BATCH = 10_000  # records copied at a time when segments merge (bounds the texts a merge holds)

# Corpus statistics for a write (N, total length and df of the given terms, as they are once the write lands), for
# stores that weight chunks at write time (Pinecone); the local store scores at query time and never calls it.
CorpusStatsFn = Callable[[pa.Array], CorpusStats]


@dataclass(frozen=True, slots=True)
class LexicalRecord:
    id: str
    metadata: dict[str, Any]  # LEXICAL_FIELDS; published_at a timezone-aware datetime or None


def lexical_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Exactly LEXICAL_FIELDS: missing → None, text and title cut like the vector store's."""
    return normalize_metadata(metadata, LEXICAL_FIELDS)


# What the store is given to upsert: one row per chunk, its id and LEXICAL_FIELDS (text and title cut by
# `cut_records`, as `lexical_metadata` cuts them).
LEXICAL_RECORDS = pa.schema(
    [
        ("id", pa.string()),
        ("document_id", pa.string()),
        ("chunk_index", pa.int32()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("published_at", pa.timestamp("us", tz="UTC")),
    ]
)


def cut_records(table: pa.Table) -> pa.Table:
    """`table` (id and LEXICAL_FIELDS columns) in LEXICAL_RECORDS's types, text and title cut to their maximums."""
    table = table.select(LEXICAL_RECORDS.names).cast(LEXICAL_RECORDS)
    text, title = LEXICAL_RECORDS.get_field_index("text"), LEXICAL_RECORDS.get_field_index("title")
    table = table.set_column(text, "text", pc.utf8_slice_codeunits(table["text"], 0, SNIPPET_MAX_CHARS))
    return table.set_column(title, "title", pc.utf8_slice_codeunits(table["title"], 0, TITLE_MAX_CHARS))


def records_table(records: Sequence[LexicalRecord]) -> pa.Table:
    """`records` as a LEXICAL_RECORDS table (what `LexicalStore.write` takes), built column by column."""
    columns = {"id": pa.array([r.id for r in records], pa.string())}
    for name in LEXICAL_FIELDS:
        columns[name] = pa.array([r.metadata.get(name) for r in records], LEXICAL_RECORDS.field(name).type)
    return cut_records(pa.table(columns, schema=LEXICAL_RECORDS))


def epoch_seconds(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class LexicalStore(dg.ConfigurableResource):
    """Base class: BM25 retrieval over chunks with source and date filters."""

    def write(
        self,
        upserts: pa.Table,
        tokens: pa.ListArray,
        deletes: Sequence[str],
        stats: CorpusStatsFn | None = None,
    ) -> int:
        """Add or replace `upserts` (a LEXICAL_RECORDS table) with their token lists (`tokens`, same order) and
        remove `deletes`; `stats` gives corpus statistics to stores that need them. Returns the rows written."""
        if upserts.num_rows != len(tokens):
            raise ValueError(f"{upserts.num_rows} records but {len(tokens)} token lists")
        return self._write(upserts, tokens, deletes, stats)

    def _write(
        self, upserts: pa.Table, tokens: pa.ListArray, deletes: Sequence[str], stats: CorpusStatsFn | None
    ) -> int:  # pragma: no cover - interface
        """`write` once its arguments are checked."""
        raise NotImplementedError

    def query(
        self,
        tokens: Sequence[str],
        top_k: int = 50,
        source: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[VectorMatch]:
        """The `top_k` chunks by BM25 score (> 0), best first, within the filters (a date filter skips undated)."""
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        return self._query(tokens, top_k, source, since, until)

    def _query(
        self, tokens: Sequence[str], top_k: int, source: str | None, since: datetime | None, until: datetime | None
    ) -> list[VectorMatch]:  # pragma: no cover - interface
        """`query` once `top_k` is checked."""
        raise NotImplementedError

    def fetch(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:  # pragma: no cover - interface
        """{id: metadata} of the ids the store holds."""
        raise NotImplementedError

    def count(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def location(self) -> str:  # pragma: no cover - interface
        """Where the index lives (no secret): another location is another, possibly empty, store."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class SegmentEntry:
    """A segment in a manifest: its folder, its row count and its tombstoned rows."""

    name: str
    rows: int
    deleted: tuple[int, ...] = ()

    @property
    def live(self) -> int:
        return self.rows - len(self.deleted)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows, "deleted": list(self.deleted)}


def merge_plan(live_rows: Sequence[int], max_segments: int = MAX_SEGMENTS, cap: int = MAX_SEGMENT_CHUNKS) -> list[int]:
    """Which segments to merge (positions), given their live rows: none while there are at most `max_segments`;
    else the smallest ones, until the count is halved or one more would take the merge above `cap` live rows
    (at least two, or none). Merging small segments together keeps each merge cheap and bounded (tiered)."""
    if len(live_rows) <= max_segments:
        return []
    chosen, total = [], 0
    for position in sorted(range(len(live_rows)), key=lambda n: live_rows[n]):
        if total + live_rows[position] > cap or len(live_rows) - len(chosen) + 1 <= max_segments // 2:
            break
        chosen.append(position)
        total += live_rows[position]
    return chosen if len(chosen) >= 2 else []


@dataclass(eq=False)
class _OpenSegment:
    segment: Segment
    records: pa.Table  # memory-mapped LEXICAL_RECORDS rows
    dates: np.ndarray  # epoch seconds, NaN when undated


@dataclass(eq=False)
class _View:
    manifest: str
    entries: list[SegmentEntry]
    segments: list[_OpenSegment]
    bm25: SegmentedBM25
    lives: list[np.ndarray] = field(default_factory=list)


_SEGMENTS: dict[str, _OpenSegment] = {}  # per segment folder (immutable), in this process
_VIEWS: dict[str, _View] = {}  # per store folder, in this process: the manifest last loaded


def _live_records(opened: Sequence[_OpenSegment], lives: Sequence[np.ndarray]) -> Iterator[pa.Table]:
    """The live rows' records of `opened`, in order, `MERGE_RECORD_BATCH` rows of input at a time (so a merge
    never holds more than a batch of texts)."""
    for segment, live in zip(opened, lives, strict=True):
        for start in range(0, len(live), MERGE_RECORD_BATCH):
            mask = pa.array(live[start : start + MERGE_RECORD_BATCH])
            yield segment.records.slice(start, MERGE_RECORD_BATCH).filter(mask)


def _live_mask(entry: SegmentEntry) -> np.ndarray:
    live = np.ones(entry.rows, dtype=bool)
    live[list(entry.deleted)] = False
    return live


READ_ATTEMPTS = 5  # a reader that loses a race with a write's cleanup reads CURRENT again, at most this often

T = TypeVar("T")


def _consistently(read: Callable[[], T]) -> T:
    """`read()`, again from CURRENT when a file it named was removed meanwhile (a write switched versions and
    cleaned up between the reader's steps); segments are immutable, so a retry sees a complete later version."""
    for attempt in range(READ_ATTEMPTS):
        try:
            return read()
        except FileNotFoundError:
            if attempt == READ_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


class LocalLexicalStore(LexicalStore):
    """A folder of immutable BM25 segments (`resources/bm25_segments.py`) and a manifest naming the live ones.

    Each segment folder holds its postings (NumPy arrays) and its chunks' records (`records.arrow`, Arrow IPC read
    memory-mapped); the manifest (JSON) lists the segments with each one's tombstoned rows. A write adds a segment
    for the upserted chunks, tombstones deleted ids and older rows of re-upserted ids, merges the smallest segments
    when there are more than MAX_SEGMENTS (`merge_plan`), writes a new manifest and then switches `CURRENT` to it
    (an atomic rename); segments are never modified, and folders no manifest names are removed after the switch.
    So a reader in another process always sees a complete index. A query holds what scoring and filtering need
    (postings, lengths, ids, dates; sources read from the mapped records) and reads other fields of its results only.
    """

    directory: str = Field(description="folder of the index, e.g. .sophia/lexical")

    def _root(self) -> Path:
        return Path(self.directory)

    def _manifest(self) -> tuple[str | None, list[SegmentEntry]]:
        """(manifest file name, its segments); (None, []) when the store is empty (or in an older format)."""
        return _consistently(self._manifest_once)

    def _manifest_once(self) -> tuple[str | None, list[SegmentEntry]]:
        marker = self._root() / CURRENT_FILE
        if not marker.exists():
            return None, []
        name = marker.read_text().strip()
        if not name.startswith(MANIFEST_PREFIX):
            return None, []
        # A manifest named by CURRENT but gone was replaced by a write between the two reads: FileNotFoundError,
        # and `_consistently` reads CURRENT again (never "empty", which would make the stage re-index everything).
        entries = json.loads((self._root() / name).read_text())["segments"]
        return name, [SegmentEntry(e["name"], int(e["rows"]), tuple(e["deleted"])) for e in entries]

    def _open(self, name: str, *, keep: bool = True) -> _OpenSegment:
        """Segment `name` opened for scoring; `keep=False` (a merge's inputs): not added to the process's cache."""
        folder = (self._root() / name).resolve()
        cached = _SEGMENTS.get(str(folder))
        if cached is None:
            records = read_arrow(folder / RECORDS_FILE)
            dates = records.column("published_at").cast(pa.int64()).to_numpy(zero_copy_only=False)
            cached = _OpenSegment(
                segment=Segment.load(folder, records.column("id").combine_chunks()),
                records=records,
                dates=np.where(np.isnan(dates.astype(float)), np.nan, dates / 1e6),
            )
            if keep:
                _SEGMENTS[str(folder)] = cached
        return cached

    def _segment_ids(self, name: str) -> pa.Array | pa.ChunkedArray:
        """The chunk ids of segment `name`: from the cache if a query opened it, else read from its memory-mapped
        records and not cached. Writes only need ids, and a pipeline process writes every segment of the index:
        caching them held ~50-90 MB of ids, terms and dates after a 747k-chunk stage, for queries it never runs."""
        folder = (self._root() / name).resolve()
        cached = _SEGMENTS.get(str(folder))
        return cached.segment.ids if cached is not None else read_arrow(folder / RECORDS_FILE).column("id")

    def _new_segment(self, segment: Segment, records: Iterable[pa.Table]) -> str:
        """Save `segment` with its records (written batch by batch, in row order) in a new folder."""
        name = f"{SEGMENT_PREFIX}{uuid.uuid4().hex[:12]}"
        folder = self._root() / name
        segment.save(folder)
        with pa.OSFile(str(folder / RECORDS_FILE), "wb") as sink, pa.ipc.new_file(sink, LEXICAL_RECORDS) as writer:
            for table in records:
                writer.write_table(table.cast(LEXICAL_RECORDS))
        return name

    def _write(
        self, upserts: pa.Table, tokens: pa.ListArray, deletes: Sequence[str], stats: CorpusStatsFn | None
    ) -> int:
        self._root().mkdir(parents=True, exist_ok=True)
        _, entries = self._manifest()
        upserts = cut_records(upserts)
        replaced = pa.concat_arrays([pa.array(list(deletes), pa.string()), upserts["id"].combine_chunks()])
        changed = bool(upserts.num_rows)
        kept: list[SegmentEntry] = []
        for entry in entries:
            hit = np.flatnonzero(np.asarray(pc.is_in(self._segment_ids(entry.name), value_set=replaced)))
            deleted = tuple(sorted(set(entry.deleted).union(hit.tolist())))
            changed |= len(deleted) != len(entry.deleted)
            if len(deleted) < entry.rows:  # a segment without live rows leaves the manifest
                kept.append(SegmentEntry(entry.name, entry.rows, deleted))
        if not changed:
            return 0
        for start in range(0, upserts.num_rows, MAX_SEGMENT_CHUNKS):
            page = upserts.slice(start, MAX_SEGMENT_CHUNKS)
            segment = Segment.from_tokens(page.column("id").combine_chunks(), tokens.slice(start, MAX_SEGMENT_CHUNKS))
            kept.append(SegmentEntry(self._new_segment(segment, [page]), page.num_rows))
        self._switch(self._compact(kept))
        return upserts.num_rows

    def _compact(self, entries: list[SegmentEntry]) -> list[SegmentEntry]:
        """`entries` with the segments `merge_plan` picks merged into one (tombstoned rows dropped)."""
        chosen = merge_plan([e.live for e in entries])
        if not chosen:
            return entries
        inputs = [entries[n] for n in chosen]
        opened = [self._open(e.name, keep=False) for e in inputs]
        lives = [_live_mask(e) for e in inputs]
        merged = merge([o.segment for o in opened], lives)
        name = self._new_segment(merged, _live_records(opened, lives))
        return [e for n, e in enumerate(entries) if n not in set(chosen)] + [SegmentEntry(name, len(merged))]

    def _switch(self, entries: list[SegmentEntry]) -> None:
        """Write a manifest of `entries`, point CURRENT at it atomically, then remove what it does not name."""
        root = self._root()
        name = f"{MANIFEST_PREFIX}{uuid.uuid4().hex[:12]}.json"
        (root / name).write_text(json.dumps({"segments": [e.as_dict() for e in entries]}))
        marker = root / f".{CURRENT_FILE}.{name}"
        marker.write_text(name)
        os.replace(marker, root / CURRENT_FILE)
        referenced = {name, CURRENT_FILE, *(e.name for e in entries)}
        for path in root.iterdir():
            if path.name in referenced:
                continue
            if path.is_dir() and path.name.startswith((SEGMENT_PREFIX, "v-")):  # v-: the former whole-fit format
                shutil.rmtree(path, ignore_errors=True)
                _SEGMENTS.pop(str(path.resolve()), None)
            elif path.is_file() and path.name.startswith(MANIFEST_PREFIX):
                path.unlink(missing_ok=True)

    def _load(self) -> _View | None:
        return _consistently(self._load_once)

    def _load_once(self) -> _View | None:
        manifest, entries = self._manifest_once()
        if manifest is None or not entries:
            return None
        key = str(self._root().resolve())
        cached = _VIEWS.get(key)
        if cached is not None and cached.manifest == manifest:
            return cached
        segments = [self._open(e.name) for e in entries]
        lives = [_live_mask(e) for e in entries]
        view = _View(manifest, entries, segments, SegmentedBM25([s.segment for s in segments], lives), lives)
        _VIEWS[key] = view
        return view

    def _query(
        self, tokens: Sequence[str], top_k: int, source: str | None, since: datetime | None, until: datetime | None
    ) -> list[VectorMatch]:
        view = self._load()
        if view is None:
            return []
        found: list[tuple[float, str, int, int]] = []  # (score, id, segment, row)
        for n, (opened, live, scores) in enumerate(
            zip(view.segments, view.lives, view.bm25.scores(tokens), strict=True)
        ):
            keep = (scores > 0) & live
            if not keep.any():
                continue
            if source is not None:
                keep &= np.asarray(pc.equal(opened.records.column("source"), source).fill_null(False))
            with np.errstate(invalid="ignore"):
                if since is not None:
                    keep &= opened.dates >= epoch_seconds(since)
                if until is not None:
                    keep &= opened.dates <= epoch_seconds(until)
            rows = np.flatnonzero(keep)
            if rows.size > top_k:
                rows = rows[np.argpartition(-scores[rows], top_k - 1)[:top_k]]
            ids = opened.segment.ids.take(pa.array(rows)).to_pylist()
            found += [(float(scores[r]), vid, n, int(r)) for r, vid in zip(rows.tolist(), ids, strict=True)]
        found.sort(key=lambda hit: (-hit[0], hit[1]))
        found = found[:top_k]
        metadata = self._metadata(view, [(n, row) for _, _, n, row in found])
        return [VectorMatch(vid, score, meta) for (score, vid, _, _), meta in zip(found, metadata, strict=True)]

    @staticmethod
    def _metadata(view: _View, hits: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
        """LEXICAL_FIELDS of (segment, row) hits, in order: one `take` per segment (only these rows are read)."""
        out: list[dict[str, Any]] = [{} for _ in hits]
        by_segment: dict[int, list[int]] = {}
        for position, (n, _) in enumerate(hits):
            by_segment.setdefault(n, []).append(position)
        for n, positions in by_segment.items():
            rows = pa.array([hits[p][1] for p in positions], pa.int64())
            records = view.segments[n].records.select(list(LEXICAL_FIELDS)).take(rows).to_pylist()
            for position, record in zip(positions, records, strict=True):
                out[position] = record
        return out

    def fetch(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        view = self._load()
        wanted = pa.array(list(dict.fromkeys(ids)), pa.string())
        if view is None or not len(wanted):
            return {}
        hits: list[tuple[int, int]] = []
        for n, (opened, live) in enumerate(zip(view.segments, view.lives, strict=True)):
            found = np.asarray(pc.is_in(opened.segment.ids, value_set=wanted)) & live
            hits += [(n, row) for row in np.flatnonzero(found).tolist()]
        ids = [view.segments[n].segment.ids[row].as_py() for n, row in hits]
        return dict(zip(ids, self._metadata(view, hits), strict=True))

    def count(self) -> int:
        return sum(e.live for e in self._manifest()[1])

    def segments(self) -> list[SegmentEntry]:
        """The live manifest's segments (for inspection and tests)."""
        return self._manifest()[1]

    @property
    def location(self) -> str:
        return str(self._root().resolve())

    def describe(self) -> dict[str, Any]:
        entries = self._manifest()[1]
        return {
            "backend": "bm25s-segments",
            "directory": self.directory,
            "count": sum(e.live for e in entries),
            "segments": len(entries),
        }
