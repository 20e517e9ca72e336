"""The Arrow tokenizer follows bm25s's tokenizer's rules, on real text and on the edges of its word pattern."""

from __future__ import annotations

import bm25s
import pyarrow as pa

from resources.payloads import BUNDLED_SAMPLES_DIR
from resources.tokenizer import chunk_texts, joined_tokens, stems, text_tokens, token_lists, tokenize
from sophia_pipelines.domain.normalize import normalize_records
from tools.sample_factory import load_sample_records


def bm25s_tokens(texts: list[str]) -> list[list[str]]:
    import Stemmer

    return bm25s.tokenize(
        texts, stopwords="en", stemmer=Stemmer.Stemmer("english").stemWords, return_ids=False, show_progress=False
    )


def test_same_tokens_as_bm25s_on_every_bundled_document() -> None:
    documents = normalize_records(load_sample_records(BUNDLED_SAMPLES_DIR)).documents
    texts = [f"{d.title or ''}\n{d.text}" for d in documents]
    assert len(texts) > 300
    assert tokenize(texts) == bm25s_tokens(texts)


def test_word_pattern_edges() -> None:
    text = "Don't re-use GPUs: a1 _x __ x² 3.14 naïve café über_cool e.g. 日本語 “quoted” em—dash"
    assert text_tokens(text) == bm25s_tokens([text])[0]
    assert text_tokens("the and of") == []  # stopwords only
    assert text_tokens("a b c") == []  # one-letter words are not words
    assert text_tokens("Clouds") == text_tokens("cloud") == ["cloud"]


def test_nulls_empty_strings_and_joined_tokens() -> None:
    lists = token_lists(pa.array(["Renting GPUs", None, ""], pa.string()))
    assert lists.to_pylist() == [["rent", "gpus"], [], []]
    assert joined_tokens(lists).to_pylist() == ["rent gpus", "", ""]
    assert chunk_texts(pa.array([None, "T"]), pa.array(["x", "y"])).to_pylist() == ["\nx", "T\ny"]
    assert tokenize([]) == []


def test_stems_survive_a_cache_reset(monkeypatch) -> None:
    import resources.tokenizer as tokenizer

    monkeypatch.setattr(tokenizer, "MAX_CACHED_STEMS", 2)
    assert stems(["running", "gpus", "clouds", "running"]) == ["run", "gpus", "cloud", "run"]
