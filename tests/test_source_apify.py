"""ApifyPayloadSource (the real apify-client 3.4) against the Apify stand-in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest

from resources.apify import ApifyPayloadSource
from resources.http_retry import PermanentSourceError
from resources.payloads import SourceError
from tests.standins.apify import ApifyStandin, sample_or_inline_batches, website_content_items
from tests.standins.http import Injected

TOKEN = "apify_api_TESTTOKEN0123456789"
ACTORS = {
    "website-content-crawler": "apify/website-content-crawler",
    "linkedin-profile-scraper": "dev_fusion~Linkedin-Profile-Scraper",
}
WCC = "website-content-crawler"


@pytest.fixture
def standin() -> Iterator[ApifyStandin]:
    with ApifyStandin(TOKEN) as server:
        yield server


def make_source(standin: ApifyStandin, **overrides: Any) -> ApifyPayloadSource:
    config: dict[str, Any] = {
        "token": TOKEN,
        "api_url": standin.url,
        "actors": ACTORS,
        "min_retry_delay_seconds": 0.0,
    }
    return ApifyPayloadSource(**{**config, **overrides})


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


@pytest.mark.parametrize("stream", list(ACTORS))
def test_one_batch_per_succeeded_run_with_items_untouched(standin: ApifyStandin, stream: str) -> None:
    served = sample_or_inline_batches(stream)
    for n, (run_id, items) in enumerate(served.items()):
        standin.add_run(ACTORS[stream], items, run_id=run_id, started_at=hours_ago(len(served) - n))

    batches = list(make_source(standin).fetch_batches(stream))

    assert [b.batch_id for b in batches] == list(served)  # oldest first
    for batch in batches:
        assert (batch.system, batch.stream) == ("apify", stream)
        assert batch.items == served[batch.batch_id]
        assert json.dumps(batch.items, sort_keys=True) == json.dumps(served[batch.batch_id], sort_keys=True)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in standin.requests)
    runs_call = standin.requests[0]
    assert runs_call.path == f"/v2/actors/{ACTORS[stream].replace('/', '~')}/runs"
    assert runs_call.query["status"] == "SUCCEEDED" and runs_call.query["desc"] == "true"


def test_dataset_of_2500_items_is_read_in_pages_of_1000(standin: ApifyStandin) -> None:
    items = website_content_items(2500)
    run = standin.add_run(ACTORS[WCC], items)

    (batch,) = make_source(standin, dataset_chunk_size=1000).fetch_batches(WCC)

    assert batch.batch_id == run["id"] and batch.items == items
    pages = [r.query for r in standin.requests if r.path.endswith("/items")]
    assert [(p["offset"], p["limit"]) for p in pages] == [
        ("0", "1000"),
        ("1000", "1000"),
        ("2000", "1000"),
        ("2500", "1000"),
    ]


def test_lookback_status_and_max_runs(standin: ApifyStandin) -> None:
    actor = ACTORS[WCC]
    standin.add_run(actor, website_content_items(1), run_id="too-old", started_at=hours_ago(100))
    standin.add_run(actor, website_content_items(1), run_id="failed", started_at=hours_ago(2), status="FAILED")
    standin.add_run(actor, [], run_id="running", started_at=hours_ago(1), status="RUNNING")
    for n in range(5):
        standin.add_run(actor, website_content_items(1), run_id=f"ok-{n}", started_at=hours_ago(50 - n))

    batches = list(make_source(standin, max_runs=3, lookback_hours=72).fetch_batches(WCC))

    assert [b.batch_id for b in batches] == ["ok-2", "ok-3", "ok-4"]
    query = standin.requests[0].query
    assert query["limit"] == "3"
    started_after = datetime.fromisoformat(query["startedAfter"].replace("Z", "+00:00"))
    assert abs(started_after - hours_ago(72)) < timedelta(minutes=1)


def test_runs_are_rechecked_when_the_server_ignores_filters(standin: ApifyStandin) -> None:
    standin.add_run(ACTORS[WCC], website_content_items(1), run_id="too-old", started_at=hours_ago(100))
    standin.add_run(ACTORS[WCC], website_content_items(1), run_id="fresh", started_at=hours_ago(1))
    original = standin._list_runs

    def ignoring_filters(actor: str, query: dict[str, str]) -> Any:
        return original(actor, {k: v for k, v in query.items() if k not in ("startedAfter", "status")})

    standin._list_runs = ignoring_filters  # type: ignore[method-assign]
    assert [b.batch_id for b in make_source(standin).fetch_batches(WCC)] == ["fresh"]


def test_no_runs_yields_no_batches(standin: ApifyStandin) -> None:
    standin.add_run(ACTORS[WCC], [], started_at=hours_ago(500))
    assert list(make_source(standin).fetch_batches(WCC)) == []


def test_retries_429_and_503_then_succeeds(standin: ApifyStandin) -> None:
    items = website_content_items(3)
    standin.add_run(ACTORS[WCC], items)
    standin.fail_next(1, 429, path="/v2/actors/")
    standin.fail_next(2, 503, path="/v2/datasets/")

    (batch,) = make_source(standin).fetch_batches(WCC)

    assert batch.items == items
    # 429 + runs; 2x 503 + the page + the empty page that ends iterate_items
    assert [p.split("/")[2] for p in standin.paths()] == ["actors"] * 2 + ["datasets"] * 4


def test_persistent_failure_names_the_source_and_hides_the_token(
    standin: ApifyStandin, caplog: pytest.LogCaptureFixture
) -> None:
    standin.add_run(ACTORS[WCC], website_content_items(3))
    standin.fail_next(100, 503)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SourceError) as info:
        list(make_source(standin, max_retries=2).fetch_batches(WCC))

    message = str(info.value)
    assert message.startswith(
        "apify/website-content-crawler: GET /v2/actors/apify~website-content-crawler/runs failed after 3 attempts:"
        " HTTP 503"
    )
    assert TOKEN not in message and TOKEN not in repr(info.value)
    assert TOKEN not in caplog.text
    assert len(standin.requests) == 3


def test_dataset_failure_names_the_run(standin: ApifyStandin) -> None:
    run = standin.add_run(ACTORS[WCC], website_content_items(3))
    standin.fail_next(100, 500, path="/v2/datasets/")
    with pytest.raises(SourceError) as info:
        list(make_source(standin, max_retries=1).fetch_batches(WCC))
    assert str(info.value).startswith(
        f"apify/{WCC}: GET /v2/datasets/{run['defaultDatasetId']}/items (run {run['id']}) failed after 2 attempts"
    )


def test_bad_token_is_not_retried(standin: ApifyStandin) -> None:
    standin.add_run(ACTORS[WCC], website_content_items(1))
    with pytest.raises(SourceError) as info:
        list(make_source(standin, token="wrong-token-XYZ").fetch_batches(WCC))
    assert "HTTP 401 token-not-valid" in str(info.value)
    assert "wrong-token-XYZ" not in str(info.value)
    assert len(standin.requests) == 1


def test_unknown_actor_and_stream(standin: ApifyStandin) -> None:
    with pytest.raises(SourceError, match=r"apify/website-content-crawler: .* HTTP 404 record-not-found"):
        list(make_source(standin).fetch_batches(WCC))
    with pytest.raises(SourceError, match="apify/nope: no actor configured"):
        list(make_source(standin).fetch_batches("nope"))


def test_token_not_in_repr(standin: ApifyStandin) -> None:
    source = make_source(standin)
    assert TOKEN not in repr(source) and TOKEN not in str(source)


def test_dagster_run_with_env_var_token_never_records_it(
    standin: ApifyStandin, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("APIFY_TOKEN", TOKEN)
    standin.add_run(ACTORS[WCC], website_content_items(3))

    @dg.asset
    def raw_pages(apify: ApifyPayloadSource) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"items": sum(len(b.items) for b in apify.fetch_batches(WCC))})

    source = make_source(standin, token=dg.EnvVar("APIFY_TOKEN"), max_retries=1)
    caplog.set_level(logging.DEBUG)
    ok = dg.materialize([raw_pages], resources={"apify": source})
    standin.fail_next(100, 503)
    failed = dg.materialize([raw_pages], resources={"apify": source}, raise_on_error=False)

    assert ok.success and not failed.success
    assert standin.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    events = "".join(dg.serialize_value(e) for e in [*ok.all_events, *failed.all_events])
    assert "apify/website-content-crawler: GET /v2/actors/" in events
    assert TOKEN not in events and TOKEN not in caplog.text


def test_runs_already_landed_are_not_downloaded_again(standin: ApifyStandin) -> None:
    old = standin.add_run(ACTORS[WCC], website_content_items(3), started_at=hours_ago(2))
    new = standin.add_run(ACTORS[WCC], website_content_items(2), started_at=hours_ago(1))
    first = {b.batch_id: b.fingerprint for b in make_source(standin).fetch_batches(WCC)}
    assert set(first) == {old["id"], new["id"]} and all(first.values())
    standin.requests.clear()

    batches = list(make_source(standin).fetch_batches(WCC, known={old["id"]: first[old["id"]]}))

    assert [b.batch_id for b in batches] == [new["id"]]
    downloaded = [r.path for r in standin.requests if r.path.endswith("/items")]
    assert downloaded == [f"/v2/datasets/{new['defaultDatasetId']}/items"] * len(downloaded) and downloaded


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_page_by_page(standin: ApifyStandin, status: int) -> None:
    items = website_content_items(5)
    standin.add_run(ACTORS[WCC], items)
    standin.fail_next(1, status, path="/v2/actors/")
    standin.inject(Injected(2, status, applies=lambda r: r.path.endswith("/items") and r.query.get("offset") == "2"))

    (batch,) = make_source(standin, dataset_chunk_size=2).fetch_batches(WCC)

    assert batch.items == items
    pages = [r.query["offset"] for r in standin.requests if r.path.endswith("/items")]
    assert pages == ["0", "2", "2", "2", "4", "5"]  # only the failed page is asked again


def test_dropped_connections_are_retried(standin: ApifyStandin) -> None:
    items = website_content_items(3)
    standin.add_run(ACTORS[WCC], items)
    standin.fail_next(2, drop=True)
    (batch,) = make_source(standin).fetch_batches(WCC)
    assert batch.items == items


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_permanent_statuses_fail_at_once(standin: ApifyStandin, status: int) -> None:
    run = standin.add_run(ACTORS[WCC], website_content_items(3))
    standin.fail_next(5, status, path="/v2/datasets/")
    with pytest.raises(PermanentSourceError) as info:
        list(make_source(standin).fetch_batches(WCC))
    assert str(info.value).startswith(
        f"apify/{WCC}: GET /v2/datasets/{run['defaultDatasetId']}/items (run {run['id']}) failed: HTTP {status}"
    )
    assert info.value.allow_retries is False
    assert len([r for r in standin.requests if r.path.startswith("/v2/datasets/")]) == 1
