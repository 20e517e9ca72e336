"""Website Content Crawler normalizer, and the shared text/URL/date helpers it is built on."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sophia_pipelines.domain.documents import RawRecord, content_hash, make_document_id
from sophia_pipelines.domain.normalize import normalize_apify_website, normalize_record
from sophia_pipelines.domain.normalize.common import (
    canonical_linkedin_url,
    canonical_url,
    clean_text,
    coerce_int,
    coerce_str,
    parse_datetime,
)
from sophia_pipelines.streams import APIFY_WEBSITE_CONTENT, TAVILY_SEARCH
from tests.helpers import FETCHED, raw_record

URL = "https://docs.example-saas.io/guides/setup"


def _record(payload: Any, source: str = APIFY_WEBSITE_CONTENT, fetched_at: datetime = FETCHED) -> RawRecord:
    return raw_record(payload, source, "RUNabcdefghijklmn", 0, "rec-1", fetched_at)


def _item(**overrides: Any) -> dict[str, Any]:
    """The documented example item (api-shapes.md), with overrides."""
    item: dict[str, Any] = {
        "url": URL,
        "crawl": {
            "loadedUrl": URL,
            "loadedTime": "2026-03-02T09:14:07.221Z",
            "referrerUrl": "https://docs.example-saas.io/guides",
            "depth": 1,
            "httpStatusCode": 200,
        },
        "metadata": {
            "canonicalUrl": URL,
            "title": "Setup | ExampleSaaS Docs",
            "description": "Install and configure the agent.",
            "author": None,
            "keywords": None,
            "languageCode": "en",
        },
        "screenshotUrl": None,
        "text": "Setup\nInstall the agent with pip.\n\nThen run it.",
        "markdown": "# Setup\n\nInstall the agent with pip.",
        "html": None,
    }
    item.update(overrides)
    return item


def _one(payload: Any, **kwargs: Any):
    result = normalize_apify_website(_record(payload, **kwargs))
    assert len(result.documents) + len(result.rejections) == 1
    return result


def test_documented_item_becomes_a_document() -> None:
    doc = _one(_item()).documents[0]
    assert doc.document_id == make_document_id(APIFY_WEBSITE_CONTENT, URL)
    assert doc.source == APIFY_WEBSITE_CONTENT
    assert doc.url == URL
    assert doc.title == "Setup | ExampleSaaS Docs"
    assert doc.text == "Setup\nInstall the agent with pip.\n\nThen run it."
    assert doc.author is None
    assert doc.published_at is None
    assert doc.fetched_at == datetime(2026, 3, 2, 9, 14, 7, 221000, tzinfo=UTC)
    assert doc.content_hash == content_hash(doc.title, doc.text, doc.url, doc.author)
    assert doc.raw_record_id == "rec-1"


def test_url_priority_canonical_then_url_then_loaded_url() -> None:
    item = _item(url="https://a.example.com/x")
    item["metadata"]["canonicalUrl"] = "https://canonical.example.com/page"
    assert _one(item).documents[0].url == "https://canonical.example.com/page"
    item["metadata"]["canonicalUrl"] = None
    assert _one(item).documents[0].url == "https://a.example.com/x"
    item["url"] = "not a url"
    item["crawl"]["loadedUrl"] = "https://loaded.example.com/y"
    assert _one(item).documents[0].url == "https://loaded.example.com/y"


@pytest.mark.parametrize(
    "variant",
    [
        URL + "/",
        URL + "#install",
        URL + "?utm_source=newsletter&utm_medium=email",
        "HTTPS://Docs.Example-SaaS.io/guides/setup/?utm_campaign=x#top",
        "https://docs.example-saas.io:443/guides/setup",
        "  " + URL + "  ",
    ],
)
def test_url_variants_give_the_same_document_id(variant: str) -> None:
    item = _item(url=variant)
    item["metadata"]["canonicalUrl"] = None
    item["crawl"]["loadedUrl"] = variant
    doc = _one(item).documents[0]
    assert doc.url == URL
    assert doc.document_id == make_document_id(APIFY_WEBSITE_CONTENT, URL)


def test_id_changes_with_real_query_params_path_and_source() -> None:
    base = _one(_item()).documents[0].document_id
    with_param = _item()
    with_param["metadata"]["canonicalUrl"] = URL + "?lang=de"
    assert _one(with_param).documents[0].document_id != base
    assert make_document_id(TAVILY_SEARCH, URL) != base
    assert _one(_item()).documents[0].document_id == base  # stable across calls


def test_html_fragments_are_cleaned_with_paragraph_breaks() -> None:
    html = (
        "<h1>GPU  pricing</h1>\n<script>var x = '<p>no</p>';</script><style>p{}</style>"
        "<p>On-demand &amp; reserved<br/>capacity.</p><ul><li>H100</li><li>A100</li></ul>&copy; 2026"
    )
    doc = _one(_item(text=html)).documents[0]
    assert doc.text == "GPU pricing\n\nOn-demand & reserved\ncapacity.\n\n- H100\n- A100\n\n© 2026"


def test_whitespace_collapsed_but_paragraphs_kept() -> None:
    text = "  Title \t here\r\n\r\n\r\n\n  First\u00a0 paragraph  \nline two\n \n\nSecond\u200b\x00 one  "
    assert clean_text(text) == "Title here\n\nFirst paragraph\nline two\n\nSecond one"


def test_non_ascii_is_nfc_normalized_and_kept() -> None:
    text = "Cafe\u0301 — 東京のGPUクラウド 🚀 Łódź"
    doc = _one(_item(text=text)).documents[0]
    assert doc.text == "Café — 東京のGPUクラウド 🚀 Łódź"
    assert _one(_item(text="Café — 東京のGPUクラウド 🚀 Łódź")).documents[0].content_hash == doc.content_hash


def test_very_long_document_is_kept_whole() -> None:
    paragraph = "Checkpoints of a 70B model are written asynchronously to object storage every 15 minutes. " * 8
    text = "\n\n".join([paragraph.strip()] * 90)
    assert len(text) > 50_000
    doc = _one(_item(text=text)).documents[0]
    assert doc.text == text
    assert doc.text.count("\n\n") == 89


@pytest.mark.parametrize(
    ("text", "markdown", "reason"),
    [
        ("", None, "empty text"),
        (None, None, "empty text"),
        ("   \n\n  ", "", "empty text"),
        ("<div>\n  <br/>\n</div>", "", "empty text after HTML cleanup"),
        ("<script>track()</script>", None, "empty text after HTML cleanup"),
    ],
)
def test_empty_text_is_rejected_with_reason(text: Any, markdown: Any, reason: str) -> None:
    payload = _item(text=text, markdown=markdown)
    result = _one(payload)
    assert [r.reason for r in result.rejections] == [reason]
    assert result.rejections[0].payload is payload
    assert result.rejections[0].raw_record_id == "rec-1"
    assert result.rejections[0].source == APIFY_WEBSITE_CONTENT


def test_text_fallbacks_metadata_text_then_markdown() -> None:
    item = _item(text=None)
    item["metadata"]["text"] = "Nested text (uncertain shape)."
    assert _one(item).documents[0].text == "Nested text (uncertain shape)."
    assert _one(_item(text=None)).documents[0].text == "# Setup\n\nInstall the agent with pip."
    assert _one(_item(text=["para one", 7, "para two"])).documents[0].text == "para one\n\npara two"


def test_wrong_types_are_coerced() -> None:
    item = _item(crawl="https://docs.example-saas.io/guides/setup")
    item["metadata"]["title"] = 2026
    doc = _one(item).documents[0]
    assert doc.title == "2026"
    assert doc.fetched_at == FETCHED  # no usable crawl.loadedTime: the record's fetch time
    item = _item(metadata=None)
    assert _one(item).documents[0].title is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (["https://a.example.com"], "item is a list, expected an object"),
        ("Error: page could not be loaded", "item is a string, expected an object"),
        (None, "item is null, expected an object"),
        (42, "item is a number, expected an object"),
        (True, "item is a boolean, expected an object"),
    ],
)
def test_item_that_is_not_an_object_is_rejected(payload: Any, reason: str) -> None:
    result = _one(payload)
    assert result.rejections[0].reason == reason
    assert result.rejections[0].payload == payload


def test_missing_url_and_http_error_are_rejected() -> None:
    item = _item(url=None, crawl={"depth": 1})
    item["metadata"]["canonicalUrl"] = "javascript:void(0)"
    assert _one(item).rejections[0].reason == "missing url"
    item = _item()
    item["crawl"]["httpStatusCode"] = 404
    assert _one(item).rejections[0].reason == "http status 404"


def test_published_at_and_author_from_json_ld_and_open_graph() -> None:
    item = _item()
    item["metadata"]["jsonLd"] = [
        {
            "@graph": [
                {"@type": "BlogPosting", "datePublished": "2025-12-11T22:05:10+01:00", "author": [{"name": "Zoë"}]}
            ]
        }
    ]
    doc = _one(item).documents[0]
    assert doc.published_at == datetime(2025, 12, 11, 21, 5, 10, tzinfo=UTC)
    assert doc.author == "Zoë"
    item["metadata"]["jsonLd"] = [{"datePublished": "last Tuesday"}]
    item["metadata"]["openGraph"] = [{"property": "article:published_time", "content": "2026-01-14"}]
    assert _one(item).documents[0].published_at == datetime(2026, 1, 14, tzinfo=UTC)
    item["metadata"]["openGraph"] = []
    assert _one(item).documents[0].published_at is None
    item["metadata"]["author"] = "Amelia García"
    assert _one(item).documents[0].author == "Amelia García"


def test_unchanged_refetch_differs_only_in_fetched_at() -> None:
    first = _one(_item()).documents[0]
    again = _item()
    again["crawl"]["loadedTime"] = "2026-03-09T10:00:00.000Z"
    second = _one(again, fetched_at=FETCHED + timedelta(days=3)).documents[0]
    assert second.fetched_at != first.fetched_at
    assert second.as_row() | {"fetched_at": None} == first.as_row() | {"fetched_at": None}
    changed = _one(_item(text="Setup\nInstall the agent with uv.")).documents[0]
    assert changed.document_id == first.document_id
    assert changed.content_hash != first.content_hash


def test_naive_record_time_becomes_utc() -> None:
    doc = _one(_item(crawl={}), fetched_at=datetime(2026, 3, 5, 12, 0)).documents[0]
    assert doc.fetched_at == FETCHED
    assert doc.fetched_at.tzinfo is UTC


def test_dispatcher_routes_by_source() -> None:
    record = _record(_item())
    assert normalize_record(record) == normalize_apify_website(record)


# --- shared helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Example.COM/Path/?utm_source=x&a=1&UTM_medium=y#frag", "https://example.com/Path?a=1"),
        ("example.com/docs/", "https://example.com/docs"),
        ("//cdn.example.com/a", "https://cdn.example.com/a"),
        ("http://example.com:80/", "http://example.com"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("ftp://example.com/file", None),
        ("mailto:someone@example.com", None),
        ("N/A", None),
        ("", None),
        (None, None),
        (123, None),
        ("https://", None),
        ("https://exa mple.com/x", None),
        ("https://münchen.de/über", "https://münchen.de/über"),
    ],
)
def test_canonical_url(raw: Any, expected: str | None) -> None:
    assert canonical_url(raw) == expected


def test_canonical_linkedin_url_unifies_hosts_and_drops_profile_query() -> None:
    expected = "https://www.linkedin.com/in/jane-doe-123"
    for raw in (
        "https://de.linkedin.com/in/jane-doe-123/?originalSubdomain=de",
        "linkedin.com/in/jane-doe-123",
        "http://www.linkedin.com/in/jane-doe-123#experience",
    ):
        assert canonical_linkedin_url(raw) == expected
    assert canonical_linkedin_url("https://example.com/in/x?a=1") == "https://example.com/in/x?a=1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("500+", 500), ("1,204", 1204), ("1.2K", 1200), (" 3 ", 3), (17, 17), (2.9, 2), ("many", None), (None, None)],
)
def test_coerce_int(raw: Any, expected: int | None) -> None:
    assert coerce_int(raw) == expected


def test_coerce_str() -> None:
    assert coerce_str(404) == "404"
    assert coerce_str(3.0) == "3"
    assert coerce_str(2.5) == "2.5"
    assert coerce_str(True) is None
    assert coerce_str({"a": 1}) is None
    assert coerce_str("  VP Data &amp; AI \n ") == "VP Data & AI"
    assert coerce_str("   ") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-02T09:14:07.221Z", datetime(2026, 3, 2, 9, 14, 7, 221000, tzinfo=UTC)),
        ("2026-03-02T10:14:07+01:00", datetime(2026, 3, 2, 9, 14, 7, tzinfo=UTC)),
        ("2026-03-02", datetime(2026, 3, 2, tzinfo=UTC)),
        ("Mon, 02 Mar 2026 09:14:07 GMT", datetime(2026, 3, 2, 9, 14, 7, tzinfo=UTC)),
        (1772442847221, datetime(2026, 3, 2, 9, 14, 7, 221000, tzinfo=UTC)),
        ("1772442847", datetime(2026, 3, 2, 9, 14, 7, tzinfo=UTC)),
        (datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=1))), datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ("3 days ago", None),
        ("", None),
        (None, None),
        (True, None),
        (float("nan"), None),
        (10**20, None),
    ],
)
def test_parse_datetime(raw: Any, expected: datetime | None) -> None:
    assert parse_datetime(raw) == expected


def test_payload_is_never_mutated() -> None:
    item = _item(text="<p>x</p>")
    before = copy.deepcopy(item)
    normalize_apify_website(_record(item))
    assert item == before
