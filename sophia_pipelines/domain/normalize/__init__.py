"""Pure normalizers: raw API items (RawRecord) -> Documents, or Rejections with a reason. They never raise."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sophia_pipelines.domain.documents import (
    APIFY_LINKEDIN_PROFILES,
    APIFY_WEBSITE_CONTENT,
    PHANTOMBUSTER_LINKEDIN_SEARCH,
    TAVILY_SEARCH,
    NormalizeResult,
    RawRecord,
)
from sophia_pipelines.domain.normalize.apify_linkedin import normalize_apify_linkedin
from sophia_pipelines.domain.normalize.apify_website import normalize_apify_website
from sophia_pipelines.domain.normalize.common import canonical_url, clean_text, rejected
from sophia_pipelines.domain.normalize.phantombuster import normalize_phantombuster
from sophia_pipelines.domain.normalize.tavily import normalize_tavily

Normalizer = Callable[[RawRecord], NormalizeResult]

NORMALIZERS: dict[str, Normalizer] = {
    APIFY_WEBSITE_CONTENT: normalize_apify_website,
    APIFY_LINKEDIN_PROFILES: normalize_apify_linkedin,
    PHANTOMBUSTER_LINKEDIN_SEARCH: normalize_phantombuster,
    TAVILY_SEARCH: normalize_tavily,
}


def normalize_record(record: RawRecord) -> NormalizeResult:
    """Route a record to its source's normalizer; an unknown source or a normalizer bug becomes a Rejection."""
    normalizer = NORMALIZERS.get(record.source)
    if normalizer is None:
        return rejected(record, f"unknown source {record.source!r}")
    try:
        return normalizer(record)
    except Exception as exc:  # last resort: normalizers are total, but one bad record must not stop a load
        return rejected(record, f"normalizer error: {type(exc).__name__}: {exc}")


def normalize_records(records: Iterable[RawRecord]) -> NormalizeResult:
    """Normalize many records into one result (documents and rejections in input order)."""
    result = NormalizeResult()
    for record in records:
        result.extend(normalize_record(record))
    return result


__all__ = [
    "NORMALIZERS",
    "canonical_url",
    "clean_text",
    "normalize_apify_linkedin",
    "normalize_apify_website",
    "normalize_phantombuster",
    "normalize_record",
    "normalize_records",
    "normalize_tavily",
]
