"""The one `documents` schema every source normalizes into, plus stable ids and hashes.

A source id is "<system>/<stream>", declared once per stream in `sophia_pipelines/streams.py`. Source ids are
part of document ids, so a stream is never renamed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DOCUMENT_COLUMNS = (
    "document_id",
    "source",
    "url",
    "title",
    "text",
    "author",
    "published_at",
    "fetched_at",
    "content_hash",
    "raw_record_id",
)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def make_document_id(source: str, external_key: str) -> str:
    """Stable id: the same source + external id/URL always gives the same document_id."""
    if not external_key or not external_key.strip():
        raise ValueError("external_key must be non-empty")
    return sha256_hex(f"{source}\x1f{external_key.strip()}")[:32]


def content_hash(*parts: str | None) -> str:
    """Hash of the fields that make a document's content; a change here means re-chunk and re-embed."""
    return sha256_hex("\x1f".join(p or "" for p in parts))


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One item exactly as an API returned it, plus where it came from."""

    record_id: str  # stable: hash(source, batch_id, item_index)
    source: str
    batch_id: str  # Apify run id, PhantomBuster container id, Tavily query slug
    item_index: int
    payload: Any  # the untouched JSON value (dict for well-formed items; anything for messy ones)
    fetched_at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class Document:
    document_id: str
    source: str
    url: str | None
    title: str | None
    text: str
    author: str | None
    published_at: datetime | None  # UTC, tz-aware
    fetched_at: datetime  # UTC, tz-aware
    content_hash: str
    raw_record_id: str

    def as_tuple(self) -> tuple[Any, ...]:
        """The row in `DOCUMENT_COLUMNS` order (field values shared, not copied: documents are immutable)."""
        return tuple(getattr(self, name) for name in DOCUMENT_COLUMNS)

    def as_row(self) -> dict[str, Any]:
        return dict(zip(DOCUMENT_COLUMNS, self.as_tuple(), strict=True))


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that could not become a document, kept with a human-readable reason."""

    source: str
    raw_record_id: str
    reason: str
    payload: Any = field(repr=False)


@dataclass(slots=True)
class NormalizeResult:
    documents: list[Document] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    def extend(self, other: NormalizeResult) -> None:
        self.documents.extend(other.documents)
        self.rejections.extend(other.rejections)
