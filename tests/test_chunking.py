"""Chunker: boundaries, overlap, sizes, ids, determinism, speed."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from sophia_pipelines.domain.chunking import Chunk, chunk_document, chunk_spans, chunk_text
from sophia_pipelines.domain.documents import sha256_hex

WORDS = [
    *("the", "GPU", "cloud", "pricing", "market", "rents", "A100", "and", "H100", "accelerators", "by"),
    *("hour", "while", "customers", "compare", "spot", "reserved", "capacity", "across", "regions"),
]


def _sentence(rng: random.Random, n_words: int | None = None) -> str:
    n = n_words or rng.randint(5, 25)
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + rng.choice(".!?")


def _document(rng: random.Random, n_chars: int = 3000) -> str:
    paragraphs: list[str] = []
    total = 0
    while total < n_chars:
        paragraph = " ".join(_sentence(rng) for _ in range(rng.randint(1, 8)))
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(paragraphs)


def _assert_covers(text: str, max_chars: int, overlap_chars: int) -> list[str]:
    """Chunks are stripped, ≤ max_chars, in order, overlapping or adjacent, and cover every non-space char."""
    spans = chunk_spans(text, max_chars, overlap_chars)
    chunks = chunk_text(text, max_chars, overlap_chars)
    assert chunks == [text[s:e] for s, e in spans]
    prev_start, prev_end = -1, 0
    for (start, end), chunk in zip(spans, chunks, strict=True):
        assert chunk and chunk == chunk.strip() and len(chunk) <= max_chars
        assert start > prev_start, "chunks must advance"
        assert not text[prev_end:start].strip(), "gap between chunks"
        if start < prev_end:
            assert prev_end - start <= overlap_chars, "overlap longer than asked"
        prev_start, prev_end = start, end
    assert not text[prev_end:].strip(), "text after the last chunk"
    assert not text[: spans[0][0]].strip() if spans else not text.strip()
    return chunks


@pytest.mark.parametrize("text", ["", "   ", "\n\n \t\n"])
def test_empty_or_whitespace_gives_no_chunks(text: str) -> None:
    assert chunk_text(text) == []
    assert chunk_document("doc", text) == []


def test_short_text_is_one_stripped_chunk() -> None:
    assert chunk_text("  Hello world.\n\n") == ["Hello world."]


@pytest.mark.parametrize(
    ("max_chars", "overlap"),
    [(99, 10), (100, 100), (200, 250), (500, -1)],
)
def test_invalid_arguments(max_chars: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("some text", max_chars=max_chars, overlap_chars=overlap)


def test_paragraph_boundaries_are_preferred() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 30 + "end." for i in range(6)]  # ~170 chars each
    text = "\n\n".join(paragraphs)
    chunks = chunk_text(text, max_chars=400, overlap_chars=0)
    for chunk in chunks:
        assert chunk.startswith("Paragraph ")
        assert chunk.endswith("end.")
        assert len(chunk) <= 400
    assert chunks == ["\n\n".join(paragraphs[i : i + 2]) for i in range(0, 6, 2)]


def test_long_paragraph_splits_on_sentences() -> None:
    sentences = [f"Sentence number {i} talks about GPU rental prices in detail." for i in range(40)]
    text = " ".join(sentences)
    chunks = chunk_text(text, max_chars=300, overlap_chars=0)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk) <= 300
        assert chunk.startswith("Sentence number ")
        assert chunk.endswith("detail.")
    assert " ".join(chunks) == text


def test_line_breaks_count_as_sentence_boundaries() -> None:
    lines = [f"Item {i} of the price list without punctuation" for i in range(30)]
    text = "\n".join(lines)
    chunks = chunk_text(text, max_chars=200, overlap_chars=0)
    for chunk in chunks:
        assert chunk.startswith("Item ")
        assert chunk.endswith("punctuation")


def test_long_sentence_splits_on_words() -> None:
    text = " ".join(f"w{i:03d}" for i in range(300))  # one 1,499-char sentence
    chunks = chunk_text(text, max_chars=200, overlap_chars=0)
    assert all(len(c) <= 200 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    assert all(re.fullmatch(r"w\d{3}( w\d{3})*", c) for c in chunks)


def test_only_words_longer_than_max_chars_are_hard_split() -> None:
    long_word = "x" * 450
    text = f"Short intro sentence. {long_word} trailing words here."
    chunks = chunk_text(text, max_chars=200, overlap_chars=20)
    assert chunks == ["Short intro sentence.", "x" * 200, "x" * 200, "x" * 50 + " trailing words here."]


def test_overlap_carries_previous_tail_on_a_sentence_boundary() -> None:
    text = " ".join(f"Fact {i} is short." for i in range(60))
    chunks = chunk_text(text, max_chars=200, overlap_chars=60)
    assert len(chunks) > 2
    for prev, nxt in itertools.pairwise(chunks):
        first_sentence = nxt[: nxt.index(".") + 1]
        assert re.fullmatch(r"Fact \d+ is short\.", first_sentence)
        carried = prev[prev.rindex(first_sentence) :]  # whole sentences copied from the previous chunk
        assert nxt.startswith(carried)
        assert 0 < len(carried) <= 60
        assert len(carried) > 60 - len("Fact 10 is short. ")  # as much as fits on a sentence boundary


def test_overlap_falls_back_to_word_boundary() -> None:
    text = " ".join(f"tok{i:03d}" for i in range(200))  # no sentence ends at all
    chunks = chunk_text(text, max_chars=150, overlap_chars=30)
    for prev, nxt in itertools.pairwise(chunks):
        first_word = nxt.split()[0]
        assert re.fullmatch(r"tok\d{3}", first_word)
        assert first_word in prev.split()
        carried = prev[prev.rindex(first_word) :]
        assert nxt.startswith(carried)
        assert 0 < len(carried) <= 30


def test_zero_overlap_means_disjoint_chunks() -> None:
    rng = random.Random(7)
    text = _document(rng, 5000)
    chunks = chunk_text(text, max_chars=500, overlap_chars=0)
    assert sum(len(c.split()) for c in chunks) == len(text.split())


@pytest.mark.parametrize("seed", range(5))
def test_sizes_and_coverage_on_random_documents(seed: int) -> None:
    rng = random.Random(seed)
    text = _document(rng, 8000)
    chunks = _assert_covers(text, max_chars=600, overlap_chars=100)
    assert len(chunks) > 10


def test_non_ascii_text() -> None:
    latin = " ".join(f"Zürich café {i} prices rose." for i in range(20))
    cjk = "".join(f"東京のGPU{i}は高い。" for i in range(40))
    text = latin + "\n\n" + cjk + "\n\n" + " ".join(f"Ünïcödé{i} ✓" for i in range(30))
    chunks = _assert_covers(text, max_chars=120, overlap_chars=20)
    assert any("東京" in c for c in chunks)
    assert any(c.endswith("。") for c in chunks)  # CJK full stops are sentence ends


def test_deterministic() -> None:
    text = _document(random.Random(3), 6000)
    assert chunk_text(text) == chunk_text(text)
    assert chunk_document("d", text) == chunk_document("d", text)


def test_chunk_document_ids_and_hashes() -> None:
    text = _document(random.Random(11), 4000)
    chunks = chunk_document("abc123", text, max_chars=500, overlap_chars=50)
    assert len(chunks) > 1
    for index, chunk in enumerate(chunks):
        assert isinstance(chunk, Chunk)
        assert chunk.chunk_id == f"abc123-{index:04d}"
        assert chunk.document_id == "abc123"
        assert chunk.chunk_index == index
        assert chunk.content_hash == sha256_hex(chunk.text)
    with pytest.raises(ValueError):
        chunk_document("", text)


FUZZ_PARTS = [
    "word",
    "GPU",
    "é",
    "東京",
    "x" * 50,
    "y" * 300,
    ".",
    "!",
    "?",
    "。",
    "\n",
    "\n\n",
    " ",
    "\t",
    '"',
    "”",
    "…",
]


def test_invariants_on_fuzzed_text() -> None:
    for seed in range(300):
        rng = random.Random(seed)
        parts = (rng.choice(FUZZ_PARTS) + (" " if rng.random() < 0.6 else "") for _ in range(rng.randint(0, 400)))
        text = "".join(parts)
        max_chars = rng.randint(100, 700)
        overlap = rng.randint(0, max_chars - 1)
        if text.strip():
            _assert_covers(text, max_chars, overlap)
        else:
            assert chunk_spans(text, max_chars, overlap) == [], f"seed {seed}"


def test_scales_to_10k_documents_and_a_60k_char_document() -> None:
    # Speed is measured in benchmarks/pipeline_throughput.py, never asserted here.
    rng = random.Random(0)
    base = [_document(rng, 3000) for _ in range(50)]
    docs = [base[i % 50] + f" Variant {i}." for i in range(10_000)]
    total = sum(len(chunk_document(f"d{i}", d)) for i, d in enumerate(docs))
    assert total > 10_000
    assert len(chunk_text(_document(rng, 60_000))) > 40
