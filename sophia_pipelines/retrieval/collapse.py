"""Near-duplicate collapse: one result per document, and one per article however many sources carried it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sophia_pipelines.retrieval.phrases import normalized_words

MIN_CONTENT_WORDS = 20  # shorter texts (a name, a headline) are too generic to call two documents the same


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """One chunk in a fused ranking, with what a result shows."""

    chunk_id: str
    document_id: str
    score: float
    source: str | None = None
    url: str | None = None
    title: str | None = None
    text: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CollapsedHit:
    """A result: the best chunk of the best document, plus every document and source that duplicates it."""

    best: ChunkHit
    document_ids: tuple[str, ...]
    sources: tuple[str, ...]
    urls: tuple[str, ...]


def url_key(url: str | None) -> str | None:
    """The URL without scheme, `www.`, trailing slash or fragment, lowercased host: http and https agree."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").removeprefix("www.")
    if not host:
        return None
    path = parts.path.rstrip("/")
    return f"{host}{path}?{parts.query}" if parts.query else f"{host}{path}"


def content_key(text: str | None) -> str | None:
    """A hash of the text's words (case and punctuation ignored); None when the text is too short to tell."""
    words = normalized_words(text or "")  # one pass, no list of words: collapse runs on every fused candidate
    if not words or words.count(" ") + 1 < MIN_CONTENT_WORDS:
        return None
    return hashlib.sha1(words.encode()).hexdigest()


def collapse(hits: Sequence[ChunkHit]) -> list[CollapsedHit]:
    """Group `hits` (best first) by document, then merge documents sharing a URL or a chunk's content.

    Each group keeps its first (best) chunk as the representative and is ranked where that chunk was; sources,
    document ids and URLs are listed in rank order without repeats.
    """
    groups: list[list[ChunkHit]] = []
    by_key: dict[str, int] = {}
    for hit in hits:
        keys = [f"doc:{hit.document_id}"]
        if (u := url_key(hit.url)) is not None:
            keys.append(f"url:{u}")
        if (c := content_key(hit.text)) is not None:
            keys.append(f"text:{c}")
        found = sorted({by_key[key] for key in keys if key in by_key})
        if found:
            target = found[0]
            for other in found[1:]:  # this hit links two groups: fold the later into the earlier
                groups[target].extend(groups[other])
                for key, index in by_key.items():
                    if index == other:
                        by_key[key] = target
                groups[other] = []
            groups[target].append(hit)
        else:
            target = len(groups)
            groups.append([hit])
        for key in keys:
            by_key[key] = target
    out = []
    for members in groups:
        if members:
            out.append(
                CollapsedHit(
                    best=members[0],
                    document_ids=tuple(dict.fromkeys(m.document_id for m in members)),
                    sources=tuple(dict.fromkeys(m.source for m in members if m.source)),
                    urls=tuple(dict.fromkeys(m.url for m in members if m.url)),
                )
            )
    return out
