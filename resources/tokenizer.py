"""Tokens for BM25: what a chunk is indexed under and what a query is matched by, one tokenizer for both.

bm25s's tokenizer's rules (`bm25s.tokenize` with English stopwords and the Snowball stemmer, PyStemmer):
lowercased words of two or more letters, digits or underscores, stopwords dropped, then stemmed, so "GPUs"
finds "GPU". Vectorized with Arrow (`token_lists`) so a page of 20k chunks is tokenized in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


WORD_SEPARATORS = r"[^\p{L}\p{N}_]+"  # what is not a word character: bm25s's `\b\w\w+\b` pattern, in RE2


def _strings(values: Sequence[str | None] | pa.Array) -> pa.Array:
    """`values` as an Arrow `string` array (pandas' Arrow-backed columns arrive as `large_string`)."""
    return values.cast(pa.string()) if isinstance(values, pa.Array) else pa.array(list(values), pa.string())


def token_lists(texts: Sequence[str] | pa.Array) -> pa.ListArray:
    """Per text, its stemmed, lowercased, stopword-free word tokens, vectorized by Arrow.

    The rules are bm25s's tokenizer's (`bm25s.tokenize` with English stopwords and the Snowball stemmer): words of
    two or more letters, digits or underscores, lowercased, stopwords dropped, then stemmed; each distinct word is
    stemmed once per process. One tokenizer for chunks and queries, so both sides always agree.
    """
    array = _strings(texts)
    lists = pc.split_pattern_regex(pc.utf8_lower(array.fill_null("")), WORD_SEPARATORS)
    words, parents = pc.list_flatten(lists), pc.list_parent_indices(lists)
    keep = pc.and_(pc.greater_equal(pc.utf8_length(words), 2), pc.invert(pc.is_in(words, value_set=_stopwords())))
    encoded = words.filter(keep).dictionary_encode()
    stemmed = pa.array(stems(encoded.dictionary.to_pylist()), pa.string()).take(encoded.indices)
    counts = np.bincount(parents.filter(keep).to_numpy(), minlength=len(array))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), stemmed)


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Per text, its tokens (`token_lists` as Python lists)."""
    return token_lists(texts).to_pylist() if len(texts) else []


def text_tokens(text: str) -> list[str]:
    """One text's tokens (a query, a title)."""
    return tokenize([text])[0]


TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern: for finding words in a snippet


def stem_words(words: Sequence[str]) -> list[str]:
    """Each word as `tokenize` would spell it (lowercased, stemmed), stopwords kept: for matching words in text."""
    return stems([w.lower() for w in words])


@cache
def _stopwords() -> pa.Array:
    from bm25s.stopwords import STOPWORDS_EN

    return pa.array(sorted(STOPWORDS_EN), pa.string())


_STEMS: dict[str, str] = {}  # word -> stem, shared by every call in the process (bounded by MAX_CACHED_STEMS)
MAX_CACHED_STEMS = 1_000_000


def stems(words: Sequence[str]) -> list[str]:
    """The Snowball stem of each (lowercased) word; each distinct word is stemmed once per process."""
    cache_ = _STEMS
    new = [w for w in dict.fromkeys(words) if w not in cache_]
    if new:
        if len(cache_) + len(new) > MAX_CACHED_STEMS:
            cache_.clear()
        cache_.update(zip(new, _stemmer().stemWords(new), strict=True))
        if any(w not in cache_ for w in words):  # cleared above with more new words than it holds
            return _stemmer().stemWords(list(words))
    return [cache_[w] for w in words]


def chunk_texts(titles: Sequence[str | None] | pa.Array, texts: Sequence[str] | pa.Array) -> pa.Array:
    """What a chunk is indexed under: its document's title, a line break, then its text."""
    titles, texts = _strings(titles), _strings(texts)
    return pc.binary_join_element_wise(titles.fill_null(""), texts.fill_null(""), "\n")


def chunk_tokens(title: str | None, text: str) -> list[str]:
    """The tokens a chunk is indexed under (its title, then its text)."""
    return text_tokens(f"{title or ''}\n{text}")


def joined_tokens(lists: pa.ListArray) -> pa.Array:
    """Each token list as one space-separated string (how the lexical ledger stores a chunk's tokens)."""
    return pc.binary_join(lists, " ")


def split_tokens(joined: pa.Array) -> pa.ListArray:
    """`joined_tokens` undone: each space-separated string as its token list (an empty string, no tokens)."""
    strings = _strings(joined)
    return pc.split_pattern(pc.if_else(pc.equal(strings, ""), pa.scalar(None, pa.string()), strings), " ").fill_null(
        pa.scalar([], pa.list_(pa.string()))
    )
