"""Tavily /search response -> one Document per result; a bad result is rejected on its own."""

from __future__ import annotations

from typing import Any

from sophia_pipelines.domain.documents import NormalizeResult, RawRecord
from sophia_pipelines.domain.normalize.common import (
    as_dict,
    build_document,
    canonical_url,
    coerce_str,
    coerce_text,
    first_str,
    not_an_object_reason,
    parse_datetime,
    rejected,
    rejection,
)


def _no_results_reason(response: dict[str, Any]) -> str:
    detail = response.get("detail")
    error = first_str(as_dict(detail).get("error"), detail, response.get("error"))
    return f"response has no results list ({error})" if error else "response has no results list"


def _normalize_result(record: RawRecord, index: int, result: Any, out: NormalizeResult) -> None:
    if not isinstance(result, dict):
        out.rejections.append(rejection(record, not_an_object_reason(result, f"result {index}"), result))
        return
    url = canonical_url(result.get("url"))
    if url is None:
        out.rejections.append(rejection(record, f"result {index}: missing url", result))
        return
    raw_content, content = result.get("raw_content"), result.get("content")
    text = coerce_text(raw_content) or coerce_text(content)
    if not text:
        had_raw = any(isinstance(v, str) and v.strip() for v in (raw_content, content))
        reason = "empty text after HTML cleanup" if had_raw else "empty content"
        out.rejections.append(rejection(record, f"result {index}: {reason}", result))
        return
    document = build_document(
        record,
        external_key=url,
        url=url,
        title=coerce_str(result.get("title")),
        text=text,
        published_at=parse_datetime(result.get("published_date")),
    )
    out.documents.append(document)


def normalize_tavily(record: RawRecord) -> NormalizeResult:
    """One search response -> a Document per usable result (keyed on its canonical URL)."""
    response = record.payload
    if not isinstance(response, dict):
        return rejected(record, not_an_object_reason(response, "response"))
    results = response.get("results")
    if not isinstance(results, list):
        return rejected(record, _no_results_reason(response))
    out = NormalizeResult()
    for index, result in enumerate(results):
        _normalize_result(record, index, result, out)
    return out
