"""Pure normalizers: raw API items (RawRecord) -> Documents, or Rejections with a reason. They never raise.

Which normalizer a source uses is declared with its stream (`sophia_pipelines/streams.py`); the dispatcher here
routes by source id through a `{source: normalizer}` mapping, the catalogue's unless one is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sophia_pipelines.domain.documents import NormalizeResult, RawRecord
from sophia_pipelines.domain.normalize.apify_linkedin import normalize_apify_linkedin
from sophia_pipelines.domain.normalize.apify_website import normalize_apify_website
from sophia_pipelines.domain.normalize.common import canonical_url, clean_text, rejected
from sophia_pipelines.domain.normalize.phantombuster import normalize_phantombuster
from sophia_pipelines.domain.normalize.tavily import normalize_tavily

Normalizer = Callable[[RawRecord], NormalizeResult]


def catalogue_normalizers() -> Mapping[str, Normalizer]:
    """`{source: normalizer}` of the stream catalogue.

    Imported on call: the catalogue imports the normalizers, so this package cannot import it at load time.
    """
    from sophia_pipelines.streams import NORMALIZERS

    return NORMALIZERS


def normalize_record(record: RawRecord, normalizers: Mapping[str, Normalizer] | None = None) -> NormalizeResult:
    """Route a record to its source's normalizer; an unknown source or a normalizer bug becomes a Rejection."""
    normalizer = (catalogue_normalizers() if normalizers is None else normalizers).get(record.source)
    if normalizer is None:
        return rejected(record, f"unknown source {record.source!r}")
    try:
        return normalizer(record)
    except Exception as exc:  # last resort: normalizers are total, but one bad record must not stop a load
        return rejected(record, f"normalizer error: {type(exc).__name__}: {exc}")


def normalize_records(
    records: Iterable[RawRecord], normalizers: Mapping[str, Normalizer] | None = None
) -> NormalizeResult:
    """Normalize many records into one result (documents and rejections in input order)."""
    routes = catalogue_normalizers() if normalizers is None else normalizers
    result = NormalizeResult()
    for record in records:
        result.extend(normalize_record(record, routes))
    return result


__all__ = [
    "Normalizer",
    "canonical_url",
    "catalogue_normalizers",
    "clean_text",
    "normalize_apify_linkedin",
    "normalize_apify_website",
    "normalize_phantombuster",
    "normalize_record",
    "normalize_records",
    "normalize_tavily",
]
