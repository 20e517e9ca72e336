"""The search tunables, in one place: rank-fusion weights, candidate depth and the "no good match" bounds."""

from __future__ import annotations

from dataclasses import dataclass

DENSE = "dense"
LEXICAL = "lexical"
TITLE = "title"  # candidates re-ranked by how closely their title matches the query
PHRASE = "phrase"  # candidates re-ranked by how many of the query's consecutive word pairs they contain


@dataclass(frozen=True, slots=True)
class SearchSettings:
    """How dense and lexical rankings are fused, how deep each is read, and what counts as a weak match."""

    # Reciprocal rank fusion: weight / (rrf_k + rank) per ranking. A small k lets the top ranks decide, and the dense
    # ranking (a 256-dim static embedding locally) counts half: on the bundled samples this took exact-title
    # recall@5 from 0.86 (k=60, equal weights) to 1.00 and phrases from 0.86 to 0.95, paraphrases 0.92 -> 0.96.
    # The title ranking (candidates whose title resembles the query) took exact-title recall@1 from 0.77 to 0.97
    # at weight 2 (0.95 at 1, 0.99 at 3) and changes nothing for other queries. Measured with
    # benchmarks/retrieval_eval.py; its generated corpus is the hold-out check.
    rrf_k: int = 10
    dense_weight: float = 0.5
    lexical_weight: float = 1.0
    title_weight: float = 2.0
    # Phrase evidence (`retrieval/phrases.py`): candidates holding >= min_phrase_share of the query's word pairs.
    # On the generated 100k-chunk corpus it took remembered phrases' recall@5 from 0.62 to 0.87 (50 deep) and 0.92
    # (200 deep: 88% vs 97% of the relevant chunks are in BM25's top 50 vs 200); exact titles stay at 0.99 R@1 only
    # because equal pair counts keep the title ranking's order (0.93 without). Samples: phrases R@5 0.95 -> 1.00.
    phrase_weight: float = 2.0
    min_phrase_share: float = 0.5
    phrase_candidates: int = 200  # lexical chunks the phrase ranking reads (the other rankings read `candidates`)
    candidates: int = 50  # chunks read from each ranking before fusing
    min_dense_score: float = 0.5  # cosine below this, with too few query words matched, is a weak match
    min_term_coverage: float = 0.5  # share of the query's words a chunk must contain to count as a lexical match
    snippet_chars: int = 220

    def __post_init__(self) -> None:
        if not 0 < self.min_phrase_share <= 1:
            raise ValueError(f"min_phrase_share must be in (0, 1]: {self}")
        if self.rrf_k < 1 or min(self.candidates, self.phrase_candidates) < 1 or min(self.weights.values()) < 0:
            raise ValueError(f"invalid search settings: {self}")

    @property
    def weights(self) -> dict[str, float]:
        return {
            DENSE: self.dense_weight,
            LEXICAL: self.lexical_weight,
            TITLE: self.title_weight,
            PHRASE: self.phrase_weight,
        }


DEFAULT_SEARCH_SETTINGS = SearchSettings()
