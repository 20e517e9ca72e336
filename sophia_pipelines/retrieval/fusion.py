"""Reciprocal rank fusion: one ranking from several, by rank only (scores of different models never mix)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MIN_TITLE_SIMILARITY = 0.5


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], k: int = 60
) -> list[tuple[str, float]]:
    """Ids by fused score `sum(weight[r] / (k + rank_r(id)))` over the rankings that hold them, best first.

    Ranks start at 1; an id repeated within one ranking counts at its best rank. Ties keep first-seen order
    (the first ranking given wins), so the result is deterministic. A ranking without a weight counts 1.0.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    fused: dict[str, float] = {}
    for name, ids in rankings.items():
        weight = weights.get(name, 1.0)
        seen: set[str] = set()
        for rank, item in enumerate(ids, start=1):
            if item in seen:
                continue
            seen.add(item)
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    order = {item: n for n, item in enumerate(fused)}
    return sorted(fused.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def title_ranking(query_tokens: Sequence[str], titles: Mapping[str, Sequence[str]]) -> list[str]:
    """Candidate ids whose title's tokens resemble the query's (Jaccard >= 0.5), most similar first.

    A third ranking for the fusion: typing a page's exact title puts that page (similarity 1.0) ahead of pages
    that share most of the words. Ties keep the candidates' order.
    """
    wanted = set(query_tokens)
    if not wanted:
        return []
    scored = []
    for n, (item, tokens) in enumerate(titles.items()):
        have = set(tokens)
        similarity = len(wanted & have) / len(wanted | have) if have else 0.0
        if similarity >= MIN_TITLE_SIMILARITY:
            scored.append((-similarity, n, item))
    return [item for _, _, item in sorted(scored)]
