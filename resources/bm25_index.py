"""BM25 over chunk tokens (`resources/tokenizer.py`), by the `bm25s` library: parameters, sparse vectors, and a
whole-corpus fit. `BM25_PARAMS` are the one BM25 configuration (the segmented index in `resources/bm25_segments.py`
scores with them); `term_index`/`query_sparse` key Pinecone's sparse vectors: a chunk's sparse vector holds its
BM25 weights with each token hashed to a stable 32-bit index, and a query's is 1.0 per query token, so their dot
product is the BM25 score.

`LexicalIndex` is a whole-corpus fit (bm25s precomputes idf x term-frequency weights for every chunk): the stores
no longer use it (the local store is segmented and never refits; Pinecone's weights come from
`bm25_segments.sparse_vectors`); it remains as a reference and for one-off fits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import bm25s
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from bm25s.scoring import _select_idf_scorer, _select_tfc_scorer

BM25_PARAMS = {"k1": 1.5, "b": 0.75, "method": "lucene"}
IDS_FILE = "chunk_ids.json"


def term_index(token: str) -> int:
    """A token's stable sparse-vector index (first 4 bytes of its blake2b hash, < 2**32)."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "big")


@dataclass(frozen=True, slots=True)
class SparseVector:
    indices: list[int]
    values: list[float]

    def as_dict(self) -> dict[str, list]:
        return {"indices": self.indices, "values": self.values}


def query_sparse(tokens: Sequence[str]) -> SparseVector:
    """1.0 per distinct query token (so dot product with a chunk row = the chunk's BM25 score)."""
    indices = sorted({term_index(t) for t in tokens})
    return SparseVector(indices, [1.0] * len(indices))


class ColumnarBM25(bm25s.BM25):
    """bm25s's BM25 with its matrix built from flat numpy arrays (its own idf and tf scorers, vectorized).

    `build_index_from_ids` is bm25s's documented extension point for building the index another way; the base
    version walks every document in Python (~1 minute at 100k chunks on a busy 2-core machine). Scoring, saving,
    loading and retrieval are bm25s's own. Only methods without a non-occurrence array (lucene, robertson, atire).
    """

    def build_index_from_ids(
        self,
        unique_token_ids: list[int],
        corpus_token_ids: list[list[int]],
        show_progress: bool = True,
        leave_progress: bool = False,
    ) -> dict:
        lengths = np.fromiter((len(doc) for doc in corpus_token_ids), dtype=np.int64, count=len(corpus_token_ids))
        flat = np.fromiter(chain.from_iterable(corpus_token_ids), dtype=np.int64, count=int(lengths.sum()))
        return self.build_from_arrays(flat, lengths, len(unique_token_ids))

    def build_from_arrays(self, flat: np.ndarray, lengths: np.ndarray, n_vocab: int) -> dict:
        """The score matrix of documents given as concatenated token ids (`flat`) and their `lengths`."""
        if self.method in self.methods_requiring_nonoccurrence:
            raise ValueError(f"ColumnarBM25 does not support method {self.method!r}")
        n_docs = len(lengths)
        docs = np.repeat(np.arange(n_docs, dtype=np.int32), lengths)
        # term frequencies: COO -> CSR sums repeated (document, token) pairs, sorting only within each document
        counts = sp.csr_matrix(
            (np.ones(len(flat), dtype=self.dtype), (docs, flat.astype(np.int32))), shape=(n_docs, n_vocab)
        )
        counts.sum_duplicates()
        tf, vocab_idx = counts.data, counts.indices
        doc_len = lengths[np.repeat(np.arange(n_docs), np.diff(counts.indptr))]
        df = np.bincount(vocab_idx, minlength=n_vocab)
        idf_score = _select_idf_scorer(self.idf_method)
        idf = np.array([idf_score(d, N=n_docs) if d else 0.0 for d in df.tolist()], dtype=self.dtype)
        tfc = _select_tfc_scorer(self.method)(
            tf, l_d=doc_len, l_avg=lengths.mean() if n_docs else 0.0, k1=self.k1, b=self.b, delta=self.delta
        )
        counts.data = (idf[vocab_idx] * tfc).astype(self.dtype)
        matrix = counts.tocsc()
        self.nonoccurrence_array = None
        return {"data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr, "num_docs": n_docs}


class LexicalIndex:
    """A fitted BM25 index over chunks, rows in `chunk_ids` order."""

    def __init__(self, model: bm25s.BM25, chunk_ids: list[str]) -> None:
        self.model = model
        self.chunk_ids = chunk_ids
        self._rows: sp.csr_matrix | None = None
        self._vocab_by_id: list[str] | None = None

    def __len__(self) -> int:
        return len(self.chunk_ids)

    @classmethod
    def fit(cls, chunk_ids: Sequence[str], tokens: Sequence[Sequence[str]]) -> LexicalIndex:
        """Fit BM25 on every chunk's tokens (an empty corpus gives an index that matches nothing)."""
        return cls.fit_joined(chunk_ids, [" ".join(doc) for doc in tokens])

    @classmethod
    def fit_joined(cls, chunk_ids: Sequence[str], joined: Sequence[str] | pa.Array) -> LexicalIndex:
        """`fit` from space-separated token strings (as the lexical ledger stores them), split and mapped to
        vocabulary ids by Arrow in one vectorized pass. A token-less chunk keeps its row with the empty token."""
        if len(chunk_ids) != len(joined):
            raise ValueError(f"{len(chunk_ids)} chunk ids but {len(joined)} token strings")
        model = ColumnarBM25(**BM25_PARAMS)
        if len(joined):
            strings = joined if isinstance(joined, pa.Array) else pa.array(list(joined), pa.string())
            lists = pc.split_pattern(strings, " ")
            lengths = pc.list_value_length(lists).to_numpy().astype(np.int64)
            encoded = pc.list_flatten(lists).dictionary_encode()
            vocab = {token: n for n, token in enumerate(encoded.dictionary.to_pylist())}
            codes = encoded.indices.to_numpy().astype(np.int64)
            model.scores = model.build_from_arrays(codes, lengths, len(vocab))
            model.vocab_dict = vocab
            model.unique_token_ids_set = set(vocab.values())
        return cls(model, list(chunk_ids))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if len(self):
            self.model.save(str(directory), show_progress=False)
        (directory / IDS_FILE).write_text(json.dumps(self.chunk_ids))

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        chunk_ids = json.loads((directory / IDS_FILE).read_text())
        if not chunk_ids:
            return cls(bm25s.BM25(**BM25_PARAMS), [])
        model = bm25s.BM25.load(str(directory), mmap=False, show_progress=False, verbosity=0)
        return cls(model, chunk_ids)

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk for the query tokens (unknown tokens are ignored)."""
        if not len(self):
            return np.zeros(0, dtype=np.float32)
        known = [t for t in dict.fromkeys(tokens) if t in self.model.vocab_dict]
        if not known:
            return np.zeros(len(self), dtype=np.float32)
        return self.model.get_scores(known)

    def _matrix(self) -> sp.csr_matrix:
        if self._rows is None:
            s = self.model.scores
            shape = (s["num_docs"], len(s["indptr"]) - 1)
            self._rows = sp.csc_matrix((s["data"], s["indices"], s["indptr"]), shape=shape).tocsr()
        return self._rows

    def sparse_row(self, row: int) -> SparseVector:
        """Chunk `row`'s BM25 weights keyed by hashed token (collisions add up)."""
        if self._vocab_by_id is None:
            vocab = self.model.vocab_dict
            self._vocab_by_id = [""] * len(vocab)
            for token, index in vocab.items():
                self._vocab_by_id[index] = token
        matrix = self._matrix()
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        weights: dict[int, float] = {}
        for column, value in zip(matrix.indices[start:end], matrix.data[start:end], strict=True):
            token = self._vocab_by_id[column]
            if token and value > 0:
                key = term_index(token)
                weights[key] = weights.get(key, 0.0) + float(value)
        indices = sorted(weights)
        return SparseVector(indices, [round(weights[i], 6) for i in indices])
