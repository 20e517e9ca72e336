"""PhantomBusterPayloadSource (httpx) against the PhantomBuster stand-in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from resources.http_retry import PermanentSourceError
from resources.payloads import SourceError
from resources.phantombuster import PhantomBusterPayloadSource, is_file_pointer
from tests.standins.phantombuster import PhantomBusterStandin, sample_or_inline_batches, search_export_rows

KEY = "pb-key-0123456789-SECRET"
STREAM = "linkedin-search-export"
AGENT = "6100000000000001"
T0 = 1_772_000_000_000  # epoch ms


@pytest.fixture
def standin() -> Iterator[PhantomBusterStandin]:
    with PhantomBusterStandin(KEY, page_size=2) as server:
        yield server


def make_source(standin: PhantomBusterStandin, **overrides: Any) -> PhantomBusterPayloadSource:
    config: dict[str, Any] = {
        "api_key": KEY,
        "base_url": standin.base_url,
        "s3_base_url": standin.s3_base_url,
        "agents": {STREAM: AGENT},
        "max_attempts": 4,
        "retry_base_delay_seconds": 0.0,
        "retry_max_delay_seconds": 0.0,
    }
    return PhantomBusterPayloadSource(**{**config, **overrides})


def add_sample_containers(standin: PhantomBusterStandin) -> dict[str, list[Any]]:
    """One container per sample batch (oldest first), container id = sample batch id."""
    batches = sample_or_inline_batches(STREAM)
    for n, (batch_id, rows) in enumerate(batches.items()):
        standin.add_container(AGENT, rows, ended_at=T0 + n * 60_000, container_id=batch_id)
    return batches


def test_one_batch_per_finished_container_with_rows_untouched(standin: PhantomBusterStandin) -> None:
    served = add_sample_containers(standin)
    batches = list(make_source(standin).fetch_batches(STREAM))

    assert [b.batch_id for b in batches] == list(served)  # oldest first
    for batch in batches:
        assert (batch.system, batch.stream) == ("phantombuster", STREAM)
        assert batch.items == served[batch.batch_id]
        assert json.dumps(batch.items, sort_keys=True) == json.dumps(served[batch.batch_id], sort_keys=True)
    assert all(r.headers.get("x-phantombuster-key-1") == KEY for r in standin.requests)
    fetch_all = [r.query for r in standin.requests if r.path.endswith("/containers/fetch-all")]
    assert all(q["agentId"] == AGENT and q["mode"] == "finalized" for q in fetch_all)


def test_pages_backwards_by_ended_at_up_to_max_containers(standin: PhantomBusterStandin) -> None:
    for n in range(7):
        standin.add_container(AGENT, search_export_rows(1), ended_at=T0 + n * 1000, container_id=f"c{n}")
    standin.add_container(AGENT, search_export_rows(1), status="running", container_id="c-running")

    batches = list(make_source(standin, max_containers=5).fetch_batches(STREAM))

    assert [b.batch_id for b in batches] == ["c2", "c3", "c4", "c5", "c6"]
    pages = [r.query for r in standin.requests if r.path.endswith("/containers/fetch-all")]
    assert [p.get("beforeEndedAt") for p in pages] == [None, str(T0 + 5000), str(T0 + 3000)]
    assert [p["limit"] for p in pages] == ["5", "3", "1"]  # asks for what is missing; the server caps at 2


def test_stops_when_max_limit_is_not_reached(standin: PhantomBusterStandin) -> None:
    standin.page_size = 50
    for n in range(3):
        standin.add_container(AGENT, search_export_rows(1), ended_at=T0 + n, container_id=f"c{n}")
    batches = list(make_source(standin, max_containers=10, page_size=50).fetch_batches(STREAM))
    assert [b.batch_id for b in batches] == ["c0", "c1", "c2"]
    assert len([p for p in standin.paths() if p.endswith("/containers/fetch-all")]) == 1


def test_null_result_object_is_skipped_and_single_object_becomes_one_row(
    standin: PhantomBusterStandin, caplog: pytest.LogCaptureFixture
) -> None:
    row = search_export_rows(1)[0]
    standin.add_container(AGENT, None, ended_at=T0, container_id="c-null")
    standin.add_container(AGENT, row, ended_at=T0 + 1, container_id="c-object")
    caplog.set_level(logging.INFO)

    batches = list(make_source(standin).fetch_batches(STREAM))

    assert [(b.batch_id, b.items) for b in batches] == [("c-object", [row])]
    assert "container c-null has no result object; skipped" in caplog.text


def test_file_pointer_falls_back_to_the_agents_s3_result_file(standin: PhantomBusterStandin) -> None:
    rows = search_export_rows(4)
    path = standin.set_result_file(AGENT, rows)
    pointer = {"csvURL": "https://phantombuster.s3.amazonaws.com/x/y/result.csv", "jsonUrl": "https://x/y.json"}
    standin.add_container(AGENT, pointer, ended_at=T0, container_id="c-old-pointer")
    standin.add_container(AGENT, pointer, ended_at=T0 + 1, container_id="c-new-pointer")

    batches = list(make_source(standin).fetch_batches(STREAM))

    assert [(b.batch_id, b.items) for b in batches] == [("c-new-pointer", rows)]
    s3 = [r for r in standin.requests if r.path.startswith("/s3/")]
    assert [r.path for r in s3] == ["/s3" + path]
    assert "x-phantombuster-key-1" not in s3[0].headers  # the key never goes to the bucket
    assert any(r.path.endswith("/agents/fetch") and r.query == {"id": AGENT} for r in standin.requests)


def test_file_pointer_detection() -> None:
    assert is_file_pointer({"jsonUrl": "https://phantombuster.s3.amazonaws.com/a/b/result.json"})
    assert not is_file_pointer(search_export_rows(1)[0])  # a row with profileUrl/url is data
    assert not is_file_pointer([{"jsonUrl": "https://x"}])


def test_retries_429_and_503_then_succeeds(standin: PhantomBusterStandin) -> None:
    served = add_sample_containers(standin)
    standin.fail_next(1, 429, retry_after="0", path="/api/v2/containers/fetch-all")
    standin.fail_next(2, 503, path="/api/v2/containers/fetch-result-object")

    batches = list(make_source(standin).fetch_batches(STREAM))

    assert {b.batch_id: b.items for b in batches} == served
    assert len(standin.requests) == 2 + 2 + len(served)  # 429 + page, 2x 503 + one result per container


def test_retry_after_is_honoured(standin: PhantomBusterStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    add_sample_containers(standin)
    sleeps: list[float] = []
    monkeypatch.setattr("resources.http_retry.default_sleep", sleeps.append)
    standin.fail_next(1, 429, retry_after="12", path="/api/v2/containers/fetch-all")
    list(make_source(standin, retry_base_delay_seconds=0.5, retry_max_delay_seconds=30).fetch_batches(STREAM))
    assert sleeps == [12.0]


def test_persistent_failure_names_the_source_and_hides_the_key(
    standin: PhantomBusterStandin, caplog: pytest.LogCaptureFixture
) -> None:
    add_sample_containers(standin)
    standin.fail_next(100, 503)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SourceError) as info:
        list(make_source(standin).fetch_batches(STREAM))

    message = str(info.value)
    assert message == f"phantombuster/{STREAM}: GET /containers/fetch-all failed after 4 attempts: HTTP 503"
    assert KEY not in message and KEY not in repr(info.value)
    assert KEY not in caplog.text
    assert len(standin.requests) == 4


def test_wrong_key_fails_fast_without_leaking(standin: PhantomBusterStandin) -> None:
    add_sample_containers(standin)
    with pytest.raises(SourceError) as info:
        list(make_source(standin, api_key="wrong-key-XYZ").fetch_batches(STREAM))
    assert str(info.value).startswith(f"phantombuster/{STREAM}: GET /containers/fetch-all failed: HTTP 401")
    assert "wrong-key-XYZ" not in str(info.value)
    assert len(standin.requests) == 1


def test_invalid_result_object_json_is_a_source_error(standin: PhantomBusterStandin) -> None:
    standin.add_container(AGENT, [], ended_at=T0, container_id="c-bad")
    standin.result_objects["c-bad"] = "{not json"
    with pytest.raises(SourceError, match=r"phantombuster/.*container c-bad resultObject is not JSON"):
        list(make_source(standin).fetch_batches(STREAM))


def test_unknown_stream_and_repr(standin: PhantomBusterStandin) -> None:
    source = make_source(standin)
    with pytest.raises(SourceError, match="phantombuster/nope: no agent configured"):
        list(source.fetch_batches("nope"))
    assert KEY not in repr(source) and KEY not in str(source)


def test_containers_already_landed_are_skipped(standin: PhantomBusterStandin) -> None:
    served = add_sample_containers(standin)
    first = {b.batch_id: b.fingerprint for b in make_source(standin).fetch_batches(STREAM)}
    oldest = next(iter(served))
    standin.requests.clear()

    batches = list(make_source(standin).fetch_batches(STREAM, known={oldest: first[oldest]}))

    assert [b.batch_id for b in batches] == list(served)[1:]
    fetched = [r.query["id"] for r in standin.requests if r.path.endswith("/containers/fetch-result-object")]
    assert oldest not in fetched and len(fetched) == len(served) - 1


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(standin: PhantomBusterStandin, status: int) -> None:
    add_sample_containers(standin)
    standin.fail_next(2, status, path="/api/v2/containers/fetch-result-object")
    assert len(list(make_source(standin).fetch_batches(STREAM))) == len(sample_or_inline_batches(STREAM))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_permanent_statuses_fail_at_once_naming_the_call(standin: PhantomBusterStandin, status: int) -> None:
    add_sample_containers(standin)
    standin.fail_next(5, status, path="/api/v2/containers/fetch-all")
    with pytest.raises(PermanentSourceError) as info:
        list(make_source(standin).fetch_batches(STREAM))
    assert str(info.value).startswith(f"phantombuster/{STREAM}: GET /containers/fetch-all failed: HTTP {status}")
    assert info.value.allow_retries is False and len(standin.requests) == 1
