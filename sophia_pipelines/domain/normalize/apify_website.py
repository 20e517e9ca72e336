"""Apify Website Content Crawler dataset item -> Document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sophia_pipelines.domain.documents import NormalizeResult, RawRecord
from sophia_pipelines.domain.normalize.common import (
    accepted,
    as_dict,
    as_list,
    build_document,
    canonical_url,
    coerce_text,
    first_str,
    not_an_object_reason,
    parse_datetime,
    rejected,
)

_PUBLISHED_OG = ("article:published_time", "og:published_time", "article:published")


def _open_graph(metadata: dict[str, Any]) -> dict[str, Any]:
    """openGraph as {property: content}; accepts the documented list of pairs or a plain object."""
    graph = metadata.get("openGraph")
    if isinstance(graph, dict):
        return graph
    pairs: dict[str, Any] = {}
    for entry in as_list(graph):
        if isinstance(entry, dict) and isinstance(entry.get("property"), str):
            pairs.setdefault(entry["property"], entry.get("content"))
    return pairs


def _json_ld_nodes(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """Top-level JSON-LD objects, with any @graph members flattened in."""
    raw = metadata.get("jsonLd")
    nodes = [n for n in (raw if isinstance(raw, list) else [raw]) if isinstance(n, dict)]
    for node in list(nodes):
        nodes.extend(n for n in as_list(node.get("@graph")) if isinstance(n, dict))
    return nodes


def _ld_author(nodes: list[dict[str, Any]]) -> str | None:
    for node in nodes:
        authors = node.get("author")
        for author in authors if isinstance(authors, list) else [authors]:
            name = first_str(author.get("name")) if isinstance(author, dict) else first_str(author)
            if name:
                return name
    return None


def _published_at(graph: dict[str, Any], nodes: list[dict[str, Any]]) -> datetime | None:
    candidates = [node.get("datePublished") for node in nodes]
    candidates += [graph.get(key) for key in _PUBLISHED_OG]
    for candidate in candidates:
        parsed = parse_datetime(candidate)
        if parsed:
            return parsed
    return None


def _text(payload: dict[str, Any], metadata: dict[str, Any]) -> tuple[str, bool]:
    """(text, had_raw_content): top-level text, then metadata.text, then markdown (top level, metadata)."""
    had_raw = False
    for candidate in (payload.get("text"), metadata.get("text"), payload.get("markdown"), metadata.get("markdown")):
        text = coerce_text(candidate)
        if text:
            return text, True
        had_raw = had_raw or (isinstance(candidate, str) and bool(candidate.strip()))
    return "", had_raw


def normalize_apify_website(record: RawRecord) -> NormalizeResult:
    """One crawled page -> one Document keyed on its canonical URL."""
    payload = record.payload
    if not isinstance(payload, dict):
        return rejected(record, not_an_object_reason(payload))
    metadata = as_dict(payload.get("metadata"))
    crawl = as_dict(payload.get("crawl"))
    url = canonical_url(metadata.get("canonicalUrl")) or canonical_url(payload.get("url"))
    url = url or canonical_url(crawl.get("loadedUrl"))
    if url is None:
        return rejected(record, "missing url")
    status = crawl.get("httpStatusCode")
    if isinstance(status, int) and not isinstance(status, bool) and status >= 400:
        return rejected(record, f"http status {status}")
    text, had_raw = _text(payload, metadata)
    if not text:
        return rejected(record, "empty text after HTML cleanup" if had_raw else "empty text")
    graph = _open_graph(metadata)
    nodes = _json_ld_nodes(metadata)
    author = metadata.get("author")
    if isinstance(author, list):
        author = ", ".join(a for a in author if isinstance(a, str))
    document = build_document(
        record,
        external_key=url,
        url=url,
        title=first_str(metadata.get("title"), graph.get("og:title")),
        text=text,
        author=first_str(author) or _ld_author(nodes),
        published_at=_published_at(graph, nodes),
        fetched_at=parse_datetime(crawl.get("loadedTime")),
    )
    return accepted(document)
