"""PhantomBuster LinkedIn Search Export result row -> Document (a short prospect profile)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from sophia_pipelines.domain.documents import NormalizeResult, RawRecord
from sophia_pipelines.domain.normalize.common import (
    accepted,
    build_document,
    canonical_linkedin_url,
    coerce_str,
    coerce_text,
    join_nonempty,
    not_an_object_reason,
    parse_datetime,
    person_name,
    rejected,
)


def _labelled(label: str, value: Any) -> str | None:
    """`Label: value`; a value that already starts with the label (as some exports do) keeps one."""
    text = coerce_str(value)
    if text and text[: len(label) + 1].lower() == f"{label.lower()}:":
        text = text[len(label) + 1 :].strip()
    return f"{label}: {text}" if text else None


def _connection(row: dict[str, Any]) -> str | None:
    degree = coerce_str(row.get("connectionDegree"))
    shared = coerce_str(row.get("sharedConnections"))
    if shared and shared.isdigit():
        shared = f"{shared} shared connections"
    parts = join_nonempty((f"{degree} degree" if degree else None, shared), ", ")
    return f"Connection: {parts}" if parts else None


def _search(row: dict[str, Any]) -> str | None:
    query, category = coerce_str(row.get("query")), coerce_str(row.get("category"))
    if query and query.startswith(("http://", "https://")):
        keywords = parse_qs(urlsplit(query).query).get("keywords")
        query = coerce_str(keywords[0]) if keywords else None
    if not query:
        return None
    return f"Found by search: {query}" + (f" ({category})" if category else "")


def row_text(row: dict[str, Any], name: str | None) -> str:
    """The readable prospect profile; '' when the row has no job or additional info."""
    job = coerce_str(row.get("job") or row.get("headline"))
    current, past = _labelled("Current", row.get("currentJob")), _labelled("Past", row.get("pastJob"))
    info = coerce_text(row.get("additionalInfo"))
    if not (job or current or past or info):
        return ""
    header = join_nonempty((name, job, _labelled("Location", row.get("location")), current, past), "\n")
    footer = join_nonempty((_connection(row), _search(row)), "\n")
    return join_nonempty((header, info, footer), "\n\n")


def normalize_phantombuster(record: RawRecord) -> NormalizeResult:
    """One search-export row -> one Document keyed on the canonical LinkedIn profile URL."""
    row = record.payload
    if not isinstance(row, dict):
        return rejected(record, not_an_object_reason(row))
    url = canonical_linkedin_url(row.get("profileUrl")) or canonical_linkedin_url(row.get("url"))
    if url is None:
        error = coerce_str(row.get("error"))
        return rejected(record, f"phantom error: {error}" if error else "missing profileUrl")
    name = person_name(row)
    text = row_text(row, name)
    if not text:
        return rejected(record, "empty profile: no job, current job or additional info")
    document = build_document(
        record, external_key=url, url=url, title=name, text=text, fetched_at=parse_datetime(row.get("timestamp"))
    )
    return accepted(document)
