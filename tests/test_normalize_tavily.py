"""Tavily /search normalizer: one document per result; a bad result is rejected on its own."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from sophia_pipelines.domain.documents import RawRecord, content_hash, make_document_id
from sophia_pipelines.domain.normalize import normalize_record, normalize_tavily
from sophia_pipelines.streams import TAVILY_SEARCH

FETCHED = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def _record(payload: Any, batch_id: str = "ai-infrastructure-gpu-pricing") -> RawRecord:
    return RawRecord(f"rec-{batch_id}", TAVILY_SEARCH, batch_id, 0, payload, FETCHED)


def _result(n: int, **overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "title": f"GPU pricing report {n}",
        "url": f"https://www.gpucloudreport.com/analysis/report-{n}",
        "content": f"Snippet {n}: H100 on-demand prices fell.",
        "score": 0.9 - n / 100,
        "raw_content": f"GPU pricing report {n}\n\nFull text {n}: H100 on-demand prices fell again.",
        "favicon": "https://www.gpucloudreport.com/favicon.ico",
    }
    result.update(overrides)
    return result


def _response(results: Any, **overrides: Any) -> dict[str, Any]:
    response: dict[str, Any] = {
        "query": "AI infrastructure GPU pricing",
        "follow_up_questions": None,
        "answer": None,
        "images": [],
        "results": results,
        "response_time": 1.42,
        "usage": {"credits": 2},
        "request_id": "123e4567-e89b-42d3-a456-426614174000",
    }
    response.update(overrides)
    return response


def test_each_result_becomes_a_document() -> None:
    result = normalize_tavily(_record(_response([_result(1), _result(2)])))
    assert not result.rejections
    assert [d.title for d in result.documents] == ["GPU pricing report 1", "GPU pricing report 2"]
    doc = result.documents[0]
    assert doc.text == "GPU pricing report 1\n\nFull text 1: H100 on-demand prices fell again."
    assert doc.url == "https://www.gpucloudreport.com/analysis/report-1"
    assert doc.document_id == make_document_id(TAVILY_SEARCH, doc.url)
    assert doc.source == TAVILY_SEARCH
    assert doc.raw_record_id == "rec-ai-infrastructure-gpu-pricing"
    assert doc.fetched_at == FETCHED
    assert doc.published_at is None
    assert doc.author is None
    assert doc.content_hash == content_hash(doc.title, doc.text, doc.url, None)


@pytest.mark.parametrize("raw_content", [None, "", "   ", "<div></div>", 17])
def test_content_is_the_fallback_for_missing_raw_content(raw_content: Any) -> None:
    doc = normalize_tavily(_record(_response([_result(1, raw_content=raw_content)]))).documents[0]
    assert doc.text == "Snippet 1: H100 on-demand prices fell."


def test_html_raw_content_is_cleaned() -> None:
    raw = "<article><h2>Report</h2><p>H100 &gt; A100 in price.</p><footer>&copy; 2026</footer></article>"
    doc = normalize_tavily(_record(_response([_result(1, raw_content=raw)]))).documents[0]
    assert doc.text == "Report\n\nH100 > A100 in price.\n\n© 2026"


def test_published_date_is_parsed_to_utc_or_dropped() -> None:
    results = [
        _result(1, published_date="Mon, 02 Mar 2026 09:14:07 GMT"),
        _result(2, published_date="2026-03-01T23:30:00-05:00"),
        _result(3, published_date="3 days ago"),
    ]
    docs = normalize_tavily(_record(_response(results))).documents
    assert [d.published_at for d in docs] == [
        datetime(2026, 3, 2, 9, 14, 7, tzinfo=UTC),
        datetime(2026, 3, 2, 4, 30, tzinfo=UTC),
        None,
    ]


def test_bad_results_are_rejected_and_the_rest_still_loads() -> None:
    no_url, empty, not_object = _result(2, url=None), _result(3, content="", raw_content=None), "GPU report - link"
    html_only = _result(4, content="<br>", raw_content=None)
    response = _response([_result(1), no_url, empty, not_object, html_only, _result(5, title=None, score="0.41")])
    result = normalize_tavily(_record(response))
    assert [d.url for d in result.documents] == [
        "https://www.gpucloudreport.com/analysis/report-1",
        "https://www.gpucloudreport.com/analysis/report-5",
    ]
    assert result.documents[1].title is None
    assert [r.reason for r in result.rejections] == [
        "result 1: missing url",
        "result 2: empty content",
        "result 3 is a string, expected an object",
        "result 4: empty text after HTML cleanup",
    ]
    assert [r.payload for r in result.rejections] == [no_url, empty, not_object, html_only]
    assert {r.raw_record_id for r in result.rejections} == {"rec-ai-infrastructure-gpu-pricing"}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([_result(1)], "response is a list, expected an object"),
        (None, "response is null, expected an object"),
        (
            {"detail": {"error": "Query is too long. Max query length is 400 characters."}},
            "response has no results list (Query is too long. Max query length is 400 characters.)",
        ),
        (_response("none"), "response has no results list"),
        (_response(None), "response has no results list"),
    ],
)
def test_unusable_response_is_rejected_whole(payload: Any, reason: str) -> None:
    result = normalize_tavily(_record(payload))
    assert not result.documents
    assert [r.reason for r in result.rejections] == [reason]
    assert result.rejections[0].payload == payload


def test_empty_results_give_nothing() -> None:
    result = normalize_tavily(_record(_response([])))
    assert (result.documents, result.rejections) == ([], [])


def test_same_url_from_two_queries_has_one_id_and_fields_types_do_not_matter() -> None:
    first = normalize_tavily(_record(_response([_result(1)]))).documents[0]
    variant = _result(1, url="https://www.gpucloudreport.com/analysis/report-1/?utm_source=tavily#top")
    other = _response([variant], response_time="1.42", query="GPU prices 2026")
    second = normalize_tavily(_record(other, batch_id="gpu-prices-2026")).documents[0]
    assert second.document_id == first.document_id
    assert second.content_hash == first.content_hash
    assert second.raw_record_id != first.raw_record_id


def test_long_raw_content_and_unicode() -> None:
    long_text = "\n\n".join(f"Section {i}: 東京リージョンのH100価格は下落 🚀 café." for i in range(1500))
    assert len(long_text) > 50_000
    doc = normalize_tavily(_record(_response([_result(1, raw_content=long_text)]))).documents[0]
    assert doc.text == long_text


def test_payload_is_not_mutated_and_dispatcher_routes_tavily() -> None:
    response = _response([_result(1), "junk"])
    before = copy.deepcopy(response)
    routed = normalize_record(_record(response))
    assert response == before
    assert routed == normalize_tavily(_record(response))
