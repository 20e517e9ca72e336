"""A segmented BM25 index (Lucene-style): immutable segments of raw term frequencies, scored at query time.

A segment holds a set of chunks (rows): their ids, token counts (document lengths), its vocabulary (terms in column
order) and the raw term frequencies as a CSC matrix (a column per term, so a query term's postings are one slice).
Nothing corpus-wide is stored in a segment: BM25's idf and length normalisation are computed when a query is scored,
from the statistics of the LIVE rows of every segment (N, df of each query term, average document length), with
bm25s's own scorers (`bm25s.scoring`, `BM25_PARAMS`). So adding a segment or tombstoning rows never rewrites the
others, and the scores equal a `bm25s.BM25` fitted on the live chunks (tested in tests/test_bm25_segments.py).

Merging (compaction) reads only its inputs, at most `MAX_SEGMENT_CHUNKS` live rows, and drops tombstoned rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from bm25s.scoring import _select_idf_scorer, _select_tfc_scorer

from resources.bm25_index import BM25_PARAMS, SparseVector, term_index

# What bounds the segmented index (one place):
MAX_SEGMENTS = 16  # segments a store keeps before merging its smallest: bounds the per-query work and open files
MAX_SEGMENT_CHUNKS = 50_000  # live chunks a merge may produce: bounds a merge's memory (see docs/performance.md)

TERMS_FILE = "terms.arrow"
ARRAY_FILES = ("indptr", "rows", "tf", "lengths")

_IDF = _select_idf_scorer(BM25_PARAMS["method"])
_TFC = _select_tfc_scorer(BM25_PARAMS["method"])


def idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    """bm25s's idf (BM25_PARAMS' method) of each document frequency; 0 where df is 0."""
    return np.array([_IDF(int(d), N=n_docs) if d else 0.0 for d in np.asarray(df).tolist()], dtype=np.float64)


def tfc(tf: np.ndarray, lengths: np.ndarray, avgdl: float) -> np.ndarray:
    """bm25s's term-frequency component (BM25_PARAMS' method, k1, b) for raw counts in documents of `lengths`."""
    return _TFC(
        tf.astype(np.float64),
        l_d=lengths.astype(np.float64),
        l_avg=avgdl,
        k1=BM25_PARAMS["k1"],
        b=BM25_PARAMS["b"],
        delta=None,
    )


@dataclass(eq=False)
class Segment:
    """Raw BM25 counts of some chunks: row r is chunk `ids[r]`; column c is term `terms[c]`."""

    ids: pa.Array  # string, row order
    lengths: np.ndarray  # int32 tokens per row
    terms: pa.Array  # string, column order
    indptr: np.ndarray  # int64, len(terms) + 1: column c's postings are rows[indptr[c]:indptr[c + 1]]
    rows: np.ndarray  # int32
    tf: np.ndarray  # float32 raw term frequency of each posting
    _columns: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_tokens(cls, ids: pa.Array | Sequence[str], tokens: pa.ListArray) -> Segment:
        """A segment of chunks given as their ids and token lists (`resources/tokenizer.py::token_lists`)."""
        ids = ids if isinstance(ids, pa.Array) else pa.array(list(ids), pa.string())
        if len(ids) != len(tokens):
            raise ValueError(f"{len(ids)} ids but {len(tokens)} token lists")
        lengths = pc.list_value_length(tokens).fill_null(0).to_numpy().astype(np.int32)
        encoded = pc.list_flatten(tokens).dictionary_encode()
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        docs = np.repeat(np.arange(len(ids), dtype=np.int32), lengths)
        # COO -> CSC sums repeated (document, term) pairs: the raw term frequencies
        counts = sp.csc_matrix(
            (np.ones(len(codes), dtype=np.float32), (docs, codes)), shape=(len(ids), len(encoded.dictionary))
        )
        counts.sum_duplicates()
        return cls(
            ids=ids.cast(pa.string()),
            lengths=lengths,
            terms=encoded.dictionary.cast(pa.string()),
            indptr=counts.indptr.astype(np.int64),
            rows=counts.indices.astype(np.int32),
            tf=counts.data.astype(np.float32),
        )

    def column(self, term: str) -> int | None:
        if self._columns is None:
            self._columns = {t: c for c, t in enumerate(self.terms.to_pylist())}
        return self._columns.get(term)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, raw tf) of `term` (empty if the segment lacks it)."""
        column = self.column(term)
        if column is None:
            return self.rows[:0], self.tf[:0]
        start, end = self.indptr[column], self.indptr[column + 1]
        return self.rows[start:end], self.tf[start:end]

    def save(self, folder: Path) -> None:
        """The postings and terms (ids are the caller's: the store keeps them with the chunk records)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in ARRAY_FILES:
            np.save(folder / f"{name}.npy", getattr(self, name))
        write_arrow(pa.table({"term": self.terms}), folder / TERMS_FILE)

    @classmethod
    def load(cls, folder: Path, ids: pa.Array) -> Segment:
        """A saved segment, its arrays memory-mapped."""
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAY_FILES}
        terms = read_arrow(folder / TERMS_FILE)["term"].combine_chunks()
        return cls(ids=ids, terms=terms, **arrays)

    def live_tokens(self, live: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, term, tf) triples of the live rows (int32, int32, float32), rows renumbered 0.. in order."""
        columns = np.repeat(np.arange(len(self.terms), dtype=np.int32), np.diff(self.indptr))
        keep = live[self.rows]
        renumber = (np.cumsum(live, dtype=np.int64) - 1).astype(np.int32)
        return renumber[self.rows[keep]], columns[keep], np.asarray(self.tf)[keep]


def merge(segments: Sequence[Segment], lives: Sequence[np.ndarray]) -> Segment:
    """One segment of the live rows of `segments`, in input order (tombstoned rows dropped). Holds the inputs'
    live postings about three times over (int32/float32 triples, then the CSC arrays)."""
    terms = pc.unique(pa.concat_arrays([s.terms for s in segments]))
    rows, cols, tfs, offset = [], [], [], 0
    for segment, live in zip(segments, lives, strict=True):
        r, c, tf = segment.live_tokens(live)
        mapping = pc.index_in(segment.terms, value_set=terms).to_numpy().astype(np.int32)
        rows.append(r + np.int32(offset))
        cols.append(mapping[c])
        tfs.append(tf)
        offset += int(live.sum())
    coo = sp.coo_matrix((np.concatenate(tfs), (np.concatenate(rows), np.concatenate(cols))), shape=(offset, len(terms)))
    del rows, cols, tfs
    matrix = coo.tocsc()  # (row, term) pairs are unique across live rows: nothing to sum
    del coo
    return Segment(
        ids=pa.concat_arrays([s.ids.filter(pa.array(live)) for s, live in zip(segments, lives, strict=True)]),
        lengths=np.concatenate([np.asarray(s.lengths)[live] for s, live in zip(segments, lives, strict=True)]),
        terms=terms,
        indptr=matrix.indptr.astype(np.int64),
        rows=matrix.indices.astype(np.int32, copy=False),
        tf=matrix.data.astype(np.float32, copy=False),
    )


@dataclass(frozen=True, slots=True)
class CorpusStats:
    """BM25's corpus statistics: live documents, their total length, and df of the terms asked for."""

    n_docs: int
    total_length: int
    df: dict[str, int]

    @property
    def avgdl(self) -> float:
        return self.total_length / self.n_docs if self.n_docs else 0.0


class SegmentedBM25:
    """BM25 over segments and their live-row masks, scored with global statistics of the live rows."""

    def __init__(self, segments: Sequence[Segment], lives: Sequence[np.ndarray]) -> None:
        self.segments = list(segments)
        self.lives = list(lives)
        self.n_docs = int(sum(int(live.sum()) for live in self.lives))
        self.total_length = int(
            sum(
                int(np.asarray(s.lengths, dtype=np.int64)[live].sum())
                for s, live in zip(self.segments, self.lives, strict=True)
            )
        )

    def df(self, term: str) -> int:
        return sum(
            int(np.count_nonzero(live[s.postings(term)[0]])) for s, live in zip(self.segments, self.lives, strict=True)
        )

    def scores(self, tokens: Sequence[str]) -> list[np.ndarray]:
        """Per segment, every row's BM25 score for the distinct query tokens (tombstoned rows 0)."""
        out = [np.zeros(len(s), dtype=np.float64) for s in self.segments]
        if not self.n_docs:
            return out
        avgdl = self.total_length / self.n_docs
        for term in dict.fromkeys(tokens):
            postings = [s.postings(term) for s in self.segments]
            df = sum(int(np.count_nonzero(live[rows])) for (rows, _), live in zip(postings, self.lives, strict=True))
            if not df:
                continue
            weight = idf(np.array([df]), self.n_docs)[0]
            for segment, live, (rows, tf), scores in zip(self.segments, self.lives, postings, out, strict=True):
                keep = live[rows]
                rows = rows[keep]
                scores[rows] += weight * tfc(np.asarray(tf)[keep], np.asarray(segment.lengths)[rows], avgdl)
        return out


def sparse_vectors(tokens: pa.ListArray, stats: CorpusStats) -> list[SparseVector]:
    """Each chunk's BM25 weights (idf x tf component under `stats`) keyed by hashed token (collisions add up).

    Its dot product with `query_sparse(query)` is the chunk's BM25 score in a corpus with `stats`.
    """
    segment = Segment.from_tokens(pa.array([str(n) for n in range(len(tokens))], pa.string()), tokens)
    terms = segment.terms.to_pylist()
    weights_by_term = idf(np.array([stats.df.get(t, 0) for t in terms]), stats.n_docs)
    columns = np.repeat(np.arange(len(terms)), np.diff(segment.indptr))
    weights = weights_by_term[columns] * tfc(segment.tf, segment.lengths[segment.rows], stats.avgdl)
    matrix = sp.csc_matrix((weights, segment.rows, segment.indptr), shape=(len(segment), len(terms))).tocsr()
    keys = [term_index(t) if t else None for t in terms]
    out = []
    for row in range(len(segment)):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        summed: dict[int, float] = {}
        for column, value in zip(matrix.indices[start:end].tolist(), matrix.data[start:end].tolist(), strict=True):
            key = keys[column]
            if key is not None and value > 0:
                summed[key] = summed.get(key, 0.0) + value
        indices = sorted(summed)
        out.append(SparseVector(indices, [round(summed[i], 6) for i in indices]))
    return out


def page_df(tokens: pa.ListArray, terms: pa.Array) -> np.ndarray:
    """How many of the token lists contain each of `terms` (each list counted once per term)."""
    flat, parents = pc.list_flatten(tokens), pc.list_parent_indices(tokens)
    codes = pc.index_in(flat, value_set=terms)
    known = pc.is_valid(codes)
    pairs = np.unique(parents.filter(known).to_numpy().astype(np.int64) * len(terms) + codes.filter(known).to_numpy())
    return np.bincount(pairs % len(terms), minlength=len(terms)) if len(terms) else np.zeros(0, np.int64)


def write_arrow(table: pa.Table, path: Path) -> None:
    """An uncompressed Arrow IPC file (Feather v2), so readers can memory-map it without copying."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_arrow(path: Path) -> pa.Table:
    """An Arrow IPC file, memory-mapped (columns are read from the page cache as they are touched)."""
    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
