"""The segmented BM25 index scores exactly as bm25s fitted on the same (live) chunks, however it is split."""

from __future__ import annotations

import itertools
import random

import bm25s
import numpy as np
import pyarrow as pa
import pytest

from resources.bm25_index import BM25_PARAMS, query_sparse
from resources.bm25_segments import CorpusStats, Segment, SegmentedBM25, merge, page_df, sparse_vectors
from resources.tokenizer import token_lists

WORDS = [f"w{n}" for n in range(60)]
QUERIES = [["w0"], ["w1", "w7"], ["w3", "w11", "w42", "w59"], ["w5", "nowhere"], ["w2", "w2", "w9"]]


def corpus(n: int = 120, seed: int = 3) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    docs = [[rng.choice(WORDS[: 5 + n % 55]) for _ in range(rng.randrange(0, 30))] for n in range(n)]
    docs[7] = []  # a chunk without tokens keeps its row
    return [f"c{n:04d}" for n in range(n)], docs


def split(ids: list[str], docs: list[list[str]], parts: int) -> list[Segment]:
    bounds = np.linspace(0, len(ids), parts + 1).astype(int)
    return [
        Segment.from_tokens(ids[a:b], pa.array(docs[a:b], pa.list_(pa.string()))) for a, b in itertools.pairwise(bounds)
    ]


def reference(docs: list[list[str]], query: list[str]) -> np.ndarray:
    model = bm25s.BM25(**BM25_PARAMS)
    model.index(docs, show_progress=False)
    known = [t for t in dict.fromkeys(query) if t in model.vocab_dict]
    return model.get_scores(known) if known else np.zeros(len(docs))


@pytest.mark.parametrize("parts", [1, 2, 5])
def test_scores_equal_bm25s_however_the_corpus_is_split(parts: int) -> None:
    ids, docs = corpus()
    segments = split(ids, docs, parts)
    assert sum(len(s) for s in segments) == len(ids)
    index = SegmentedBM25(segments, [np.ones(len(s), bool) for s in segments])
    for query in QUERIES:
        ours = np.concatenate(index.scores(query))
        np.testing.assert_allclose(ours, reference(docs, query), rtol=1e-5, atol=1e-6)


def test_after_deletions_and_compaction_scores_equal_a_fresh_fit_on_the_live_chunks() -> None:
    ids, docs = corpus(150, seed=5)
    segments = split(ids, docs, 5)
    rng = np.random.default_rng(0)
    lives = [rng.random(len(s)) > 0.3 for s in segments]
    live_docs = [d for d, alive in zip(docs, np.concatenate(lives), strict=True) if alive]
    tombstoned = SegmentedBM25(segments, lives)
    merged = merge(segments[:3], lives[:3])
    assert len(merged) == sum(int(live.sum()) for live in lives[:3])
    compacted = SegmentedBM25([merged, *segments[3:]], [np.ones(len(merged), bool), *lives[3:]])
    for query in QUERIES:
        expected = reference(live_docs, query)
        with_tombstones = np.concatenate([s[live] for s, live in zip(tombstoned.scores(query), lives, strict=True)])
        np.testing.assert_allclose(with_tombstones, expected, rtol=1e-5, atol=1e-6)
        after = compacted.scores(query)
        merged_live = np.concatenate([after[0], *[s[live] for s, live in zip(after[1:], lives[3:], strict=True)]])
        np.testing.assert_allclose(merged_live, expected, rtol=1e-5, atol=1e-6)
    kept = [s.ids.filter(live).to_pylist() for s, live in zip(segments[:3], lives[:3], strict=True)]
    assert merged.ids.to_pylist() == [i for ids_ in kept for i in ids_]


def test_sparse_vectors_dot_query_is_the_bm25_score() -> None:
    ids, docs = corpus(40, seed=9)
    tokens = pa.array(docs, pa.list_(pa.string()))
    segment = Segment.from_tokens(ids, tokens)
    terms = segment.terms
    stats = CorpusStats(
        len(docs), sum(map(len, docs)), dict(zip(terms.to_pylist(), page_df(tokens, terms).tolist(), strict=True))
    )
    assert stats.df == {t: sum(t in d for d in docs) for t in terms.to_pylist()}
    vectors = sparse_vectors(tokens, stats)
    assert vectors[7].indices == []
    for query in QUERIES:
        q = set(query_sparse(query).indices)
        dots = [sum(v for i, v in zip(s.indices, s.values, strict=True) if i in q) for s in vectors]
        np.testing.assert_allclose(dots, reference(docs, query), rtol=1e-5, atol=1e-5)


def test_tokenizer_token_lists_build_a_segment() -> None:
    tokens = token_lists(["GPU pricing: renting a GPU", "", "sourdough bread"])
    segment = Segment.from_tokens(["a", "b", "c"], tokens)
    assert segment.lengths.tolist() == [4, 0, 2]  # gpu, price, rent, gpu
    rows, tf = segment.postings("gpu")
    assert rows.tolist() == [0] and tf.tolist() == [2.0]
