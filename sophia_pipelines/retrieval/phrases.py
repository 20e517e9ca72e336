"""Phrase evidence: candidates ranked by how many of the query's consecutive word pairs they contain, in order.

BM25 ignores word order, so in a corpus of similar pages a remembered 8-word phrase scores about the same on
hundreds of chunks that share its words. Consecutive word pairs (bigrams, lowercased, stopwords kept, unstemmed:
exact wording) separate the chunk that holds the phrase from those that only share its vocabulary. This ranking
re-orders the candidates the dense and lexical rankings already found; the fusion weighs it like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

from resources.bm25_index import TOKEN_PATTERN


def word_pairs(text: str) -> set[str]:
    """The text's consecutive word pairs ("w1 w2"), words as bm25s's token pattern finds them, lowercased."""
    words = TOKEN_PATTERN.findall(text.lower())
    return {f"{a} {b}" for a, b in pairwise(words)}


def phrase_ranking(query: str, texts: Mapping[str, str], min_share: float) -> list[str]:
    """Candidate ids holding at least `min_share` of the query's word pairs, most pairs first (ties keep order).

    A query of one word has no pairs and gives an empty ranking.
    """
    wanted = word_pairs(query)
    if not wanted:
        return []
    scored = []
    for n, (item, text) in enumerate(texts.items()):
        found = len(wanted & word_pairs(text))
        if found and found / len(wanted) >= min_share:
            scored.append((-found, n, item))
    return [item for _, _, item in sorted(scored)]
