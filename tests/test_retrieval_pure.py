"""Hybrid retrieval's pure parts: reciprocal rank fusion, near-duplicate collapse, snippets and BM25 sparse vectors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from resources.tokenizer import tokenize
from sophia_pipelines.retrieval.collapse import ChunkHit, collapse, content_key, url_key
from sophia_pipelines.retrieval.fusion import reciprocal_rank_fusion
from sophia_pipelines.retrieval.phrases import phrase_ranking, word_pairs
from sophia_pipelines.retrieval.settings import SearchSettings
from sophia_pipelines.retrieval.snippets import MARK, coverage, highlight


def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion({"dense": ["a", "b", "c"], "lexical": ["c", "a"]}, {"dense": 1.0}, k=10))
    assert fused["a"] == pytest.approx(1 / 11 + 1 / 12)
    assert fused["b"] == pytest.approx(1 / 12)
    assert fused["c"] == pytest.approx(1 / 13 + 1 / 11)  # "lexical" has no weight: counts 1.0


def test_rrf_order_weights_and_ties() -> None:
    rankings = {"dense": ["d1", "shared"], "lexical": ["l1", "shared"]}
    assert next(i for i, _ in reciprocal_rank_fusion(rankings, {"dense": 1, "lexical": 1}, k=60)) == "shared"
    # equal scores keep first-seen order: the first ranking given wins the tie
    assert [i for i, _ in reciprocal_rank_fusion({"x": ["a"], "y": ["b"]}, {}, k=60)] == ["a", "b"]
    # weights decide between the two rankings' top items
    fused = reciprocal_rank_fusion({"dense": ["a"], "lexical": ["b"]}, {"dense": 0.5, "lexical": 1.0}, k=10)
    assert [i for i, _ in fused] == ["b", "a"]
    # a weight of zero removes a ranking's influence, not its items
    fused = reciprocal_rank_fusion({"dense": ["a", "b"], "lexical": ["b"]}, {"dense": 0.0}, k=10)
    assert fused[0][0] == "b" and fused[1] == ("a", 0.0)


def test_title_ranking_puts_the_exact_title_first() -> None:
    from sophia_pipelines.retrieval.fusion import title_ranking

    query = tokenize(["Time-slicing vs MIG: sharing H100 GPUs across 120 teams"])[0]
    titles = {
        "other-number": tokenize(["Time-slicing vs MIG: sharing H100 GPUs across 40 teams"])[0],
        "exact": tokenize(["Time-slicing vs MIG: sharing H100 GPUs across 120 teams"])[0],
        "suffixed": tokenize(["Time-slicing vs MIG: sharing H100 GPUs across 120 teams | Sophia AI Blog"])[0],
        "unrelated": tokenize(["Sourdough basics"])[0],
    }
    ranking = title_ranking(query, titles)
    assert ranking[0] == "exact" and set(ranking[1:]) == {"suffixed", "other-number"}  # "unrelated" is below 0.5
    assert title_ranking([], titles) == [] and title_ranking(query, {"untitled": []}) == []


def test_rrf_counts_a_repeated_id_once_and_validates_k() -> None:
    fused = dict(reciprocal_rank_fusion({"dense": ["a", "a", "b"]}, {}, k=1))
    assert fused == {"a": pytest.approx(1 / 2), "b": pytest.approx(1 / 4)}
    assert reciprocal_rank_fusion({}, {}) == []
    with pytest.raises(ValueError, match="k must be"):
        reciprocal_rank_fusion({"dense": ["a"]}, {}, k=0)


def test_settings_hold_the_weights_and_validate() -> None:
    settings = SearchSettings()
    assert settings.weights == {
        "dense": settings.dense_weight,
        "lexical": settings.lexical_weight,
        "title": settings.title_weight,
        "phrase": settings.phrase_weight,
    }
    with pytest.raises(ValueError):
        SearchSettings(rrf_k=0)
    with pytest.raises(ValueError):
        SearchSettings(dense_weight=-1)
    with pytest.raises(ValueError):
        SearchSettings(phrase_weight=-1)
    with pytest.raises(ValueError, match="min_phrase_share"):
        SearchSettings(min_phrase_share=0)


def test_word_pairs_are_lowercased_consecutive_words() -> None:
    assert word_pairs("The GPU, then the CPU.") == {"the gpu", "gpu then", "then the", "the cpu"}
    assert word_pairs("one") == set() and word_pairs("") == set()


def test_phrase_ranking_prefers_the_words_in_the_query_order() -> None:
    query = "the scheduler places batch jobs on idle nodes"
    texts = {
        "same-words-shuffled": ("", "idle jobs on the nodes places batch scheduler"),  # same words: BM25 ties
        "holds-the-phrase": ("Nightly", "Each night the scheduler places batch jobs on idle nodes, then reports."),
        "half": ("", "the scheduler places batch work elsewhere, jobs on idle hardware"),
        "unrelated": ("", "sourdough needs a warm kitchen"),
    }
    ranking = phrase_ranking(query, texts, min_share=0.5)
    assert ranking == ["holds-the-phrase", "half"]  # 7/7 pairs, then 5/7; the shuffled text shares 2/7
    assert phrase_ranking(query, texts, min_share=1.0) == ["holds-the-phrase"]
    assert phrase_ranking("scheduler", texts, min_share=0.5) == []  # one word: no pairs, no phrase evidence
    # equal pair counts keep the candidates' order
    assert phrase_ranking("batch jobs", {"b": ("batch jobs",), "a": ("BATCH  jobs",)}, min_share=0.5) == ["b", "a"]
    # a pair counts within one part only: the title's last word and the text's first are not consecutive
    assert phrase_ranking("nightly each", {"split": ("Nightly", "Each night")}, min_share=0.5) == []
    assert phrase_ranking("nightly each", {"joined": ("Nightly each night",)}, min_share=0.5) == ["joined"]


ARTICLE = " ".join(f"word{i}" for i in range(40))


def hit(chunk: str, doc: str, score: float, source: str = "s1", url: str | None = None, text: str = "") -> ChunkHit:
    return ChunkHit(chunk, doc, score, source=source, url=url, title=doc, text=text or f"unique text of {chunk}")


def test_collapse_keeps_the_best_chunk_per_document() -> None:
    groups = collapse([hit("a-1", "a", 0.9), hit("b-0", "b", 0.8), hit("a-0", "a", 0.7)])
    assert [g.best.chunk_id for g in groups] == ["a-1", "b-0"]
    assert groups[0].document_ids == ("a",)


def test_collapse_merges_the_same_url_across_sources() -> None:
    hits = [
        hit("a-0", "a", 0.9, "apify/website-content-crawler", "https://www.example.com/post/"),
        hit("x-0", "x", 0.8, "tavily/search", "https://other.org/"),
        hit("b-0", "b", 0.7, "tavily/search", "http://example.com/post"),
    ]
    groups = collapse(hits)
    assert len(groups) == 2
    assert groups[0].sources == ("apify/website-content-crawler", "tavily/search")
    assert groups[0].document_ids == ("a", "b") and groups[0].best.chunk_id == "a-0"
    assert groups[1].document_ids == ("x",)


def test_collapse_merges_the_same_content_and_links_groups_transitively() -> None:
    hits = [
        hit("a-0", "a", 0.9, "s1", "https://a.com/1", text=ARTICLE),
        hit("c-0", "c", 0.85, "s3", "https://c.com/3"),
        hit("b-0", "b", 0.8, "s2", "https://b.com/2", text=ARTICLE.upper() + "!"),  # same words, other case
        hit("d-0", "d", 0.7, "s4", "https://c.com/3", text=ARTICLE),  # same URL as c, same text as a: one group
    ]
    groups = collapse(hits)
    assert len(groups) == 1
    assert groups[0].document_ids == ("a", "b", "c", "d")
    assert groups[0].sources == ("s1", "s2", "s3", "s4")
    assert groups[0].best.chunk_id == "a-0"


def test_collapse_keeps_short_similar_texts_apart() -> None:
    groups = collapse([hit("a-0", "a", 0.9, text="Jane Doe"), hit("b-0", "b", 0.8, text="Jane Doe")])
    assert len(groups) == 2  # a name is too short to call two documents the same


def test_keys() -> None:
    assert url_key("https://www.Example.com/a/?q=1#frag") == "example.com/a?q=1"
    assert url_key(None) is None and url_key("not a url") is None
    assert content_key("too short") is None
    assert content_key(ARTICLE) == content_key(ARTICLE.replace(" ", ",  "))


def test_highlight_marks_the_query_words_in_the_best_window() -> None:
    tokens = tokenize(["GPU clouds pricing"])[0]
    text = "Knead the dough. " * 30 + "Renting GPUs on specialist GPU clouds: pricing varies. " + "Filler words. " * 30
    snippet = highlight(text, set(tokens), 120)
    assert f"{MARK}GPU{MARK}" in snippet and f"{MARK}clouds{MARK}" in snippet and f"{MARK}pricing{MARK}" in snippet
    assert snippet.startswith("…") and snippet.endswith("…") and "dough" not in snippet.split("Renting")[1]
    assert len(snippet.replace(MARK, "")) <= 122
    assert highlight("short text", {"gpu"}) == "short text"
    assert coverage(text, tokens) == 1.0 and coverage("nothing relevant", tokens) == 0.0


def test_chunk_records_dates_round_trip() -> None:
    from resources.pinecone_vector_store import lexical_from_pinecone, pinecone_lexical_metadata

    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    stored = pinecone_lexical_metadata({"document_id": "d", "source": "s", "published_at": when, "url": None})
    assert stored == {"document_id": "d", "source": "s", "published_ts": when.timestamp()}
    assert lexical_from_pinecone(stored)["published_at"] == when
