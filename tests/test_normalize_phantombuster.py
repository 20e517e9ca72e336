"""PhantomBuster LinkedIn Search Export normalizer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sophia_pipelines.domain.documents import RawRecord, content_hash, make_document_id
from sophia_pipelines.domain.normalize import normalize_phantombuster, normalize_record
from sophia_pipelines.streams import APIFY_LINKEDIN_PROFILES, PHANTOMBUSTER_LINKEDIN_SEARCH
from tests.helpers import FETCHED, only_document, only_rejection, raw_record

PROFILE_URL = "https://www.linkedin.com/in/kwame-mensah-59d1a9ea"


def _record(payload: Any) -> RawRecord:
    return raw_record(payload, PHANTOMBUSTER_LINKEDIN_SEARCH, "4218677475269974", 5, "rec-pb")


def _row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "profileUrl": PROFILE_URL,
        "fullName": "Kwame Mensah",
        "firstName": "Kwame",
        "lastName": "Mensah",
        "profileImageUrl": "https://media.licdn.com/dms/image/v2/abc/profile-displayphoto-shrink_100_100/0/",
        "job": "Head of MLOps at Beacon Payments",
        "currentJob": "Head of MLOps at Beacon Payments",
        "pastJob": "ML Engineer at Quantara Bank",
        "location": "Lagos, Nigeria",
        "connectionDegree": "2nd",
        "sharedConnections": "17 shared connections",
        "additionalInfo": "Summary: Drift alerts for the fraud model.",
        "url": PROFILE_URL,
        "name": "Kwame Mensah",
        "query": "https://www.linkedin.com/search/results/people/?keywords=Head+of+MLOps",
        "category": "People",
        "timestamp": "2026-03-02T10:00:03.512Z",
    }
    row.update(overrides)
    return row


EXPECTED_TEXT = """Kwame Mensah
Head of MLOps at Beacon Payments
Location: Lagos, Nigeria
Current: Head of MLOps at Beacon Payments
Past: ML Engineer at Quantara Bank

Summary: Drift alerts for the fraud model.

Connection: 2nd degree, 17 shared connections
Found by search: Head of MLOps (People)"""


def _doc(payload: Any):
    return only_document(normalize_phantombuster(_record(payload)))


def _reason(payload: Any) -> str:
    rejection = only_rejection(normalize_phantombuster(_record(payload)), payload)
    assert rejection.source == PHANTOMBUSTER_LINKEDIN_SEARCH
    return rejection.reason


def test_row_becomes_a_prospect_document() -> None:
    doc = _doc(_row())
    assert doc.text == EXPECTED_TEXT
    assert doc.title == "Kwame Mensah"
    assert doc.url == PROFILE_URL
    assert doc.document_id == make_document_id(PHANTOMBUSTER_LINKEDIN_SEARCH, PROFILE_URL)
    assert doc.document_id != make_document_id(APIFY_LINKEDIN_PROFILES, PROFILE_URL)
    assert doc.fetched_at == datetime(2026, 3, 2, 10, 0, 3, 512000, tzinfo=UTC)
    assert doc.published_at is None
    assert doc.content_hash == content_hash(doc.title, doc.text, doc.url, doc.author)


def test_timestamp_variants() -> None:
    assert _doc(_row(timestamp=1772445603512)).fetched_at == datetime(2026, 3, 2, 10, 0, 3, 512000, tzinfo=UTC)
    assert _doc(_row(timestamp="yesterday")).fetched_at == FETCHED
    assert _doc(_row(timestamp=None)).fetched_at == FETCHED


def test_wrong_types_and_entities_are_coerced() -> None:
    doc = _doc(_row(sharedConnections=12, job="VP Data &amp; AI at Beacon Payments", connectionDegree=2))
    assert "\nVP Data & AI at Beacon Payments\n" in doc.text
    assert "Connection: 2 degree, 12 shared connections" in doc.text


def test_already_labelled_jobs_keep_one_label() -> None:
    doc = _doc(_row(currentJob="Current: Head of MLOps at Beacon Payments", pastJob="past: ML Engineer"))
    assert "Current: Head of MLOps at Beacon Payments\nPast: ML Engineer\n" in doc.text
    assert "Current: Current:" not in doc.text


def test_url_fallback_and_variants_give_one_id() -> None:
    expected = make_document_id(PHANTOMBUSTER_LINKEDIN_SEARCH, PROFILE_URL)
    assert _doc(_row(profileUrl=None)).document_id == expected
    assert _doc(_row(profileUrl=PROFILE_URL + "/?miniProfileUrn=urn%3Ali%3Afs")).document_id == expected
    assert _doc(_row(profileUrl="https://fr.linkedin.com/in/kwame-mensah-59d1a9ea")).document_id == expected


def test_null_fields_and_names() -> None:
    doc = _doc(_row(fullName=None, name=None, location=None, pastJob=None, sharedConnections=None, query=None))
    assert doc.title == "Kwame Mensah"
    assert doc.text == (
        "Kwame Mensah\nHead of MLOps at Beacon Payments\nCurrent: Head of MLOps at Beacon Payments\n\n"
        "Summary: Drift alerts for the fraud model.\n\nConnection: 2nd degree"
    )
    cjk = _doc(_row(fullName="李伟", additionalInfo="<b>负责</b>GPU集群 🚀"))
    assert cjk.title == "李伟"
    assert "\n\n负责GPU集群 🚀\n\n" in cjk.text


def test_plain_search_query_is_kept() -> None:
    assert _doc(_row(query="ml platform fintech", category=None)).text.endswith("Found by search: ml platform fintech")


def test_error_row_is_rejected_with_the_phantom_error() -> None:
    row = {"query": "https://www.linkedin.com/search/results/people/?keywords=x", "error": "Can't connect to LinkedIn"}
    assert _reason(row) == "phantom error: Can't connect to LinkedIn"
    assert _reason(_row(profileUrl=None, url=None)) == "missing profileUrl"


def test_row_without_any_job_information_is_rejected() -> None:
    row = _row(job=None, currentJob=None, pastJob="", additionalInfo="  ")
    assert _reason(row) == "empty profile: no job, current job or additional info"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(None, "item is null, expected an object"), ("Kwame Mensah", "item is a string, expected an object")],
)
def test_not_an_object_is_rejected(payload: Any, reason: str) -> None:
    assert _reason(payload) == reason


def test_refetch_with_new_timestamp_keeps_the_hash() -> None:
    first = _doc(_row())
    again = _doc(_row(timestamp="2026-03-03T10:00:03.512Z"))
    assert (again.document_id, again.content_hash) == (first.document_id, first.content_hash)
    assert again.fetched_at > first.fetched_at
    changed = _doc(_row(job="Chief Technology Officer at Beacon Payments"))
    assert changed.content_hash != first.content_hash


def test_dispatcher_routes_phantombuster_rows() -> None:
    record = _record(_row())
    assert normalize_record(record).documents == normalize_phantombuster(record).documents
