"""Phrase evidence: candidates ranked by how many of the query's consecutive word pairs they contain, in order.

BM25 ignores word order, so in a corpus of similar pages a remembered 8-word phrase scores about the same on
hundreds of chunks that share its words. Consecutive word pairs (bigrams of lowercased `\\w+` words, stopwords
kept, unstemmed: exact wording) separate the chunk that holds the phrase from those that only share its
vocabulary. This ranking re-orders the candidates the dense and lexical rankings already found; the fusion
weighs it like any other ranking.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import pairwise

_NON_WORD = re.compile(r"\W+")


@lru_cache(maxsize=4096)
def normalized_words(text: str) -> str:
    """The text's words (runs of `\\w`), lowercased, joined by single spaces.

    Cached (by the text itself): one query's phrase ranking and duplicate collapse read the same candidate texts,
    and a regex pass over a 1,000-character chunk costs ~0.1 ms.
    """
    return _NON_WORD.sub(" ", text.lower()).strip()


def word_pairs(text: str) -> set[str]:
    """The text's consecutive word pairs ("w1 w2")."""
    words = normalized_words(text).split(" ")
    return {f"{a} {b}" for a, b in pairwise(words) if a and b}


def phrase_ranking(query: str, texts: Mapping[str, Sequence[str]], min_share: float) -> list[str]:
    """Candidate ids holding at least `min_share` of the query's word pairs, most pairs first (ties keep order).

    Each candidate is given as its texts (e.g. title and text); a pair counts when it occurs within one of them.
    A query of one word has no pairs and gives an empty ranking.
    """
    wanted = [f" {pair} " for pair in word_pairs(query)]
    if not wanted:
        return []
    scored = []
    for n, (item, parts) in enumerate(texts.items()):
        # " w1 w2 " occurs in it exactly when w1 w2 are consecutive words of one part ("|" is never a word)
        padded = f" {' | '.join(normalized_words(part) for part in parts)} "
        found = sum(pair in padded for pair in wanted)
        if found and found / len(wanted) >= min_share:
            scored.append((-found, n, item))
    return [item for _, _, item in sorted(scored)]
