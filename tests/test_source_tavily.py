"""TavilyPayloadSource (the real tavily-python 0.8.5) against the Tavily stand-in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from resources.http_retry import PermanentSourceError
from resources.payloads import SourceError
from resources.tavily import MAX_SLUG_CHARS, TavilyPayloadSource, slugify
from tests.standins.http import Injected
from tests.standins.tavily import TavilyStandin, sample_or_inline_responses

KEY = "tvly-TESTKEY0123456789"


@pytest.fixture
def responses() -> list[dict[str, Any]]:
    return sample_or_inline_responses()


@pytest.fixture
def standin(responses: list[dict[str, Any]]) -> Iterator[TavilyStandin]:
    with TavilyStandin(KEY, responses) as server:
        yield server


def make_source(standin: TavilyStandin, queries: list[str], **overrides: Any) -> TavilyPayloadSource:
    config: dict[str, Any] = {
        "api_key": KEY,
        "api_base_url": standin.url,
        "queries": queries,
        "max_attempts": 3,
        "retry_base_delay_seconds": 0.0,
        "retry_max_delay_seconds": 0.0,
    }
    return TavilyPayloadSource(**{**config, **overrides})


def test_one_batch_per_query_holding_the_full_response(standin: TavilyStandin, responses: list[dict[str, Any]]) -> None:
    queries = [r["query"] for r in responses]
    batches = list(make_source(standin, queries).fetch_batches("search"))

    assert [b.batch_id for b in batches] == [slugify(q) for q in queries]
    for batch, served in zip(batches, responses, strict=True):
        assert (batch.system, batch.stream) == ("tavily", "search")
        assert batch.items == [served]
        assert json.dumps(batch.items[0], sort_keys=True) == json.dumps(served, sort_keys=True)


def test_request_carries_auth_and_the_configured_parameters(standin: TavilyStandin) -> None:
    source = make_source(standin, ["dagster sensors"], search_depth="basic", max_results=5, topic="news")
    list(source.fetch_batches("search"))

    (request,) = standin.requests
    assert (request.method, request.path) == ("POST", "/search")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.json()
    assert {k: body[k] for k in ("query", "search_depth", "max_results", "include_raw_content", "topic")} == {
        "query": "dagster sensors",
        "search_depth": "basic",
        "max_results": 5,
        "include_raw_content": True,
        "topic": "news",
    }


def test_too_long_query_fails_before_any_request(standin: TavilyStandin) -> None:
    long_query = "dagster " * 60  # 480 characters
    with pytest.raises(SourceError) as info:
        list(make_source(standin, ["fine query", long_query]).fetch_batches("search"))
    assert str(info.value).startswith("tavily/search: query 'dagster dagster")
    assert "480 characters; Tavily accepts at most 400" in str(info.value)
    assert standin.requests == []


def test_server_side_400_is_not_retried(standin: TavilyStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("resources.tavily.MAX_QUERY_CHARS", 10_000)  # let the stand-in reject it instead
    long_query = "x" * 401
    with pytest.raises(SourceError) as info:
        list(make_source(standin, [long_query]).fetch_batches("search"))
    assert "HTTP 400: Query is too long" in str(info.value)
    assert str(info.value).startswith(f"tavily/search: POST /search (query {slugify(long_query)!r}) failed:")
    assert len(standin.requests) == 1


def test_retries_429_and_503_then_succeeds(standin: TavilyStandin, responses: list[dict[str, Any]]) -> None:
    standin.fail_next(1, 429, retry_after="0")
    standin.fail_next(1, 503)
    (batch, *_) = make_source(standin, [responses[0]["query"]]).fetch_batches("search")
    assert batch.items == [responses[0]]
    assert len(standin.requests) == 3


def test_retry_after_of_a_429_is_honoured(standin: TavilyStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("resources.http_retry.default_sleep", sleeps.append)
    standin.fail_next(1, 429, retry_after="9")
    source = make_source(standin, ["q"], retry_base_delay_seconds=0.25, retry_max_delay_seconds=30)
    list(source.fetch_batches("search"))
    assert sleeps == [9.0]


def test_dropped_connection_is_retried(standin: TavilyStandin) -> None:
    standin.fail_next(1, drop=True)
    assert len(list(make_source(standin, ["q"]).fetch_batches("search"))) == 1
    assert len(standin.requests) == 2


def test_persistent_failure_names_the_source_and_hides_the_key(
    standin: TavilyStandin, caplog: pytest.LogCaptureFixture
) -> None:
    standin.fail_next(100, 503)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as info:
        list(make_source(standin, ["Dagster asset checks"]).fetch_batches("search"))
    message = str(info.value)
    assert message == "tavily/search: POST /search (query 'dagster-asset-checks') failed after 3 attempts: HTTP 503"
    assert KEY not in message and KEY not in repr(info.value)
    assert KEY not in caplog.text


def test_invalid_key_is_not_retried(standin: TavilyStandin) -> None:
    with pytest.raises(SourceError, match="failed: HTTP 401: invalid API key") as info:
        list(make_source(standin, ["q"], api_key="tvly-WRONG").fetch_batches("search"))
    assert "tvly-WRONG" not in str(info.value)
    assert len(standin.requests) == 1


def test_config_errors(standin: TavilyStandin) -> None:
    with pytest.raises(SourceError, match="tavily/news: unknown stream"):
        list(make_source(standin, ["q"]).fetch_batches("news"))
    with pytest.raises(SourceError, match="share the batch id 'dagster-assets'"):
        list(make_source(standin, ["Dagster assets", "dagster: assets!"]).fetch_batches("search"))
    with pytest.raises(SourceError, match="empty query"):
        list(make_source(standin, ["  "]).fetch_batches("search"))
    assert list(make_source(standin, []).fetch_batches("search")) == []
    assert standin.requests == []
    assert KEY not in repr(make_source(standin, ["q"]))


def test_slugify() -> None:
    assert slugify("Dagster: Asset Checks — Best Practices (2026)!") == "dagster-asset-checks-best-practices-2026"
    assert slugify("Café Ümlaut") == "cafe-umlaut"
    assert slugify("???").startswith("query-") and len(slugify("???")) == len("query-") + 8
    long_a, long_b = "word " * 40 + "alpha", "word " * 40 + "beta"
    assert len(slugify(long_a)) <= MAX_SLUG_CHARS and slugify(long_a) != slugify(long_b)
    assert slugify(long_a) == slugify(long_a)
    assert all(c.isalnum() or c == "-" for c in slugify(long_a)) and slugify(long_a).islower()


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 504])
def test_transient_statuses_are_retried(standin: TavilyStandin, status: int) -> None:
    standin.fail_next(2, status)
    (batch,) = make_source(standin, ["q"]).fetch_batches("search")
    assert batch.items[0]["query"] == "q" and len(standin.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 432])
def test_permanent_statuses_fail_at_once_naming_the_query(standin: TavilyStandin, status: int) -> None:
    standin.fail_next(5, status)
    with pytest.raises(
        PermanentSourceError, match=rf"^tavily/search: POST /search \(query 'q'\) failed: HTTP {status}"
    ):
        list(make_source(standin, ["q"]).fetch_batches("search"))
    assert len(standin.requests) == 1


def test_a_reply_that_is_not_json_is_permanent(standin: TavilyStandin) -> None:
    standin.inject(Injected(1, 200, body=b"<html>maintenance</html>"))
    with pytest.raises(PermanentSourceError, match=r"failed: JSONDecodeError"):
        list(make_source(standin, ["q"]).fetch_batches("search"))
    assert len(standin.requests) == 1
