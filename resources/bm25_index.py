"""BM25 over chunk tokens (`resources/tokenizer.py`): the parameters and Pinecone's sparse vectors.

`BM25_PARAMS` are the one BM25 configuration (the segmented index in `resources/bm25_segments.py` scores with
them). `term_index`/`query_sparse` key Pinecone's sparse vectors: a chunk's sparse vector holds its BM25 weights
with each token hashed to a stable 32-bit index, and a query's is 1.0 per query token, so their dot product is the
BM25 score (`bm25_segments.sparse_vectors` computes the weights with bm25s's own scorers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

BM25_PARAMS = {"k1": 1.5, "b": 0.75, "method": "lucene"}


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
