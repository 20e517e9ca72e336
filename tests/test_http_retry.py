"""resources.http_retry: backoff, Retry-After, time bounds, transient vs permanent, and messages, over real HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import dagster as dg
import httpx
import pytest

from resources.http_retry import (
    DELAY_SCALE_ENV,
    Failure,
    PermanentSourceError,
    RetryPolicy,
    call_with_retry,
    classify_httpx,
    delay_scale,
    is_retryable_status,
    parse_retry_after,
    redact,
)
from resources.payloads import SourceError
from tests.helpers import FakeTime
from tests.standins.phantombuster import PhantomBusterStandin

KEY = "pb-key-0123456789-SECRET"
SOURCE = "phantombuster/linkedin-search-export"
OPERATION = "GET /containers/fetch-all"


@pytest.fixture
def standin() -> Iterator[PhantomBusterStandin]:
    with PhantomBusterStandin(KEY) as server:
        server.add_container("agent-1", [{"profileUrl": "https://www.linkedin.com/in/a"}])
        yield server


@pytest.fixture
def client(standin: PhantomBusterStandin) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.base_url, headers={"X-Phantombuster-Key-1": KEY}, timeout=5) as c:
        yield c


def fetch_all(client: httpx.Client) -> Any:
    response = client.get("/containers/fetch-all", params={"agentId": "agent-1", "mode": "finalized"})
    response.raise_for_status()
    return response.json()


def test_backoff_is_exponential_with_bounded_jitter_and_capped() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=10.0, jitter=0.5)
    assert [policy.backoff(n, rand=lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert policy.backoff(2, rand=lambda: 1.0) == 3.0
    assert all(2.0 <= policy.backoff(2) <= 3.0 for _ in range(50))


def test_retry_after_raises_the_delay_but_never_above_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=0.0)
    assert policy.delay(1, None) == 1.0
    assert policy.delay(1, 7.0) == 7.0
    assert policy.delay(3, 0.5) == 4.0
    assert policy.delay(1, 120.0) == 30.0


def test_parse_retry_after_handles_seconds_dates_and_garbage() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_retryable_statuses() -> None:
    statuses = (200, 400, 401, 403, 404, 408, 422, 424, 425, 429, 500, 501, 502, 503, 504, 599)
    assert [s for s in statuses if is_retryable_status(s)] == [408, 425, 429, 500, 501, 502, 503, 504, 599]
    assert is_retryable_status(424, also={424}) and not is_retryable_status(424)


def test_retries_429_honouring_retry_after_then_succeeds(standin: PhantomBusterStandin, client: httpx.Client) -> None:
    standin.fail_next(2, 429, retry_after="7", path="/api/v2/containers/fetch-all")
    sleeps: list[float] = []
    result = call_with_retry(
        lambda: fetch_all(client),
        source=SOURCE,
        operation=OPERATION,
        policy=RetryPolicy(base_delay=0.1, jitter=0.0),
        sleep=sleeps.append,
    )
    assert [c["id"] for c in result["containers"]] == [next(iter(standin.result_objects))]
    assert sleeps == [7.0, 7.0]
    assert len(standin.requests) == 3


def test_persistent_503_raises_source_error_naming_source_after_bounded_attempts(
    standin: PhantomBusterStandin, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    standin.fail_next(100, 503)
    sleeps: list[float] = []
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as info:
        call_with_retry(
            lambda: fetch_all(client),
            source=SOURCE,
            operation=OPERATION,
            policy=RetryPolicy(max_attempts=5, base_delay=1.0, jitter=0.0),
            sleep=sleeps.append,
            secrets=[KEY],
        )
    assert str(info.value) == f"{SOURCE}: {OPERATION} failed after 5 attempts: HTTP 503"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert len(standin.requests) == 5
    assert "attempt 1/5 failed (HTTP 503); retrying in 1.0s" in caplog.text
    assert KEY not in caplog.text


def test_client_errors_are_not_retried(standin: PhantomBusterStandin) -> None:
    sleeps: list[float] = []
    headers = {"X-Phantombuster-Key-1": "wrong"}
    with httpx.Client(base_url=standin.base_url, headers=headers) as bad, pytest.raises(SourceError) as info:
        call_with_retry(lambda: fetch_all(bad), source=SOURCE, operation=OPERATION, sleep=sleeps.append)
    assert str(info.value).startswith(f"{SOURCE}: {OPERATION} failed: HTTP 401")
    assert "invalid API key" in str(info.value)
    assert sleeps == [] and len(standin.requests) == 1


def test_dropped_connections_are_retried(standin: PhantomBusterStandin, client: httpx.Client) -> None:
    standin.fail_next(2, drop=True)
    sleeps: list[float] = []
    result = call_with_retry(lambda: fetch_all(client), source=SOURCE, operation=OPERATION, sleep=sleeps.append)
    assert len(result["containers"]) == 1
    assert len(sleeps) == 2


def test_connection_refused_is_retried_then_reported() -> None:
    with PhantomBusterStandin(KEY) as server:
        url = server.base_url  # the port is free again once the server is closed
    sleeps: list[float] = []
    with httpx.Client(base_url=url, timeout=2) as client, pytest.raises(SourceError) as info:
        call_with_retry(
            lambda: fetch_all(client),
            source=SOURCE,
            operation=OPERATION,
            policy=RetryPolicy(max_attempts=3),
            sleep=sleeps.append,
        )
    assert str(info.value) == f"{SOURCE}: {OPERATION} failed after 3 attempts: connection error (ConnectError)"
    assert len(sleeps) == 2


def test_classify_httpx_timeouts_and_unknown_errors() -> None:
    assert classify_httpx(httpx.ReadTimeout("slow")) == Failure("timeout (ReadTimeout)", True)
    assert classify_httpx(httpx.ConnectTimeout("slow")) == Failure("timeout (ConnectTimeout)", True)
    assert classify_httpx(ValueError("x")) is None


def test_unknown_errors_are_permanent_and_secrets_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise ValueError(f"upstream echoed key={KEY}")

    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as info:
        call_with_retry(boom, source=SOURCE, operation=OPERATION, secrets=[KEY], sleep=lambda _: None)
    assert str(info.value) == f"{SOURCE}: {OPERATION} failed: ValueError: upstream echoed key=***"
    assert KEY not in str(info.value) and KEY not in caplog.text


def test_source_errors_pass_through_untouched() -> None:
    original = SourceError("tavily/search: query too long")

    def fail() -> None:
        raise original

    with pytest.raises(SourceError) as info:
        call_with_retry(fail, source=SOURCE, operation=OPERATION)
    assert info.value is original


def test_redact_ignores_empty_secrets() -> None:
    assert redact("a-b-a", ["", "a"]) == "***-b-***"


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


# --- transient vs permanent, one classification for every client --------------------------------------------


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_then_succeed(
    standin: PhantomBusterStandin, client: httpx.Client, status: int
) -> None:
    standin.fail_next(2, status, path="/api/v2/containers/fetch-all")
    sleeps: list[float] = []
    result = call_with_retry(lambda: fetch_all(client), source=SOURCE, operation=OPERATION, sleep=sleeps.append)
    assert len(result["containers"]) == 1
    assert len(sleeps) == 2 and len(standin.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_permanent_statuses_fail_at_once_naming_the_call(
    standin: PhantomBusterStandin, client: httpx.Client, status: int
) -> None:
    standin.fail_next(5, status, path="/api/v2/containers/fetch-all")
    sleeps: list[float] = []
    with pytest.raises(PermanentSourceError) as info:
        call_with_retry(lambda: fetch_all(client), source=SOURCE, operation=OPERATION, sleep=sleeps.append)
    assert str(info.value).startswith(f"{SOURCE}: {OPERATION} failed: HTTP {status}: ")
    assert isinstance(info.value, SourceError) and isinstance(info.value, dg.Failure)
    assert info.value.allow_retries is False
    assert sleeps == [] and len(standin.requests) == 1


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow"),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ConnectError("[Errno 111] Connection refused"),
    ],
    ids=type,
)
def test_timeouts_and_dropped_connections_are_transient(exc: Exception) -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise exc
        return "ok"

    sleeps: list[float] = []
    assert call_with_retry(flaky, source=SOURCE, operation=OPERATION, sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and len(sleeps) == 2


def test_a_reply_that_is_not_json_is_permanent() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>maintenance</html>"))
    calls: list[int] = []

    def get() -> Any:
        calls.append(1)
        with httpx.Client(transport=transport) as c:
            return c.get("https://api.example/containers/fetch-all").json()

    with pytest.raises(PermanentSourceError, match=rf"^{SOURCE}: {OPERATION} failed: JSONDecodeError: "):
        call_with_retry(get, source=SOURCE, operation=OPERATION, sleep=lambda _: None)
    assert len(calls) == 1


def test_requests_that_cannot_be_sent_are_permanent() -> None:
    with httpx.Client() as c, pytest.raises(PermanentSourceError, match=r"request not sent \(UnsupportedProtocol\)"):
        call_with_retry(lambda: c.get("ftp://files.example/x"), source=SOURCE, operation=OPERATION)
    assert classify_httpx(httpx.LocalProtocolError("Illegal header value")) == Failure(
        "request not sent (LocalProtocolError)", False
    )


def test_total_time_bounds_the_retries() -> None:
    clock = FakeTime()
    policy = RetryPolicy(max_attempts=10, base_delay=2.0, max_delay=60.0, jitter=0.0, max_elapsed=5.0)

    def always_busy() -> None:
        raise httpx.ConnectError("refused")

    with pytest.raises(SourceError) as info:
        call_with_retry(
            always_busy, source=SOURCE, operation=OPERATION, policy=policy, sleep=clock.sleep, clock=clock.clock
        )
    assert not isinstance(info.value, PermanentSourceError)  # transient: a later step retry may succeed
    assert clock.sleeps == [2.0]  # the next wait (4 s) would end 6 s after the start, past the 5 s limit
    assert str(info.value) == (
        f"{SOURCE}: {OPERATION} failed after 2 attempts in 2.0s (retry time limit 5s): connection error (ConnectError)"
    )


def test_delay_scale_from_the_environment(standin: PhantomBusterStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DELAY_SCALE_ENV, "0.25")
    assert delay_scale() == 0.25
    sleeps: list[float] = []
    with httpx.Client(base_url=standin.base_url, headers={"X-Phantombuster-Key-1": KEY}) as c:
        standin.fail_next(2, 503)
        call_with_retry(
            lambda: fetch_all(c),
            source=SOURCE,
            operation=OPERATION,
            policy=RetryPolicy(base_delay=1.0, jitter=0.0),
            sleep=sleeps.append,
        )
    assert sleeps == [0.25, 0.5]
    monkeypatch.setenv(DELAY_SCALE_ENV, "fast")
    with pytest.raises(ValueError, match=DELAY_SCALE_ENV):
        delay_scale()


def test_dagster_skips_step_retries_for_permanent_errors_only() -> None:
    attempts = {"permanent": 0, "transient": 0}

    def failing(kind: str) -> dg.AssetsDefinition:
        @dg.asset(name=kind, retry_policy=dg.RetryPolicy(max_retries=2))
        def _asset() -> None:
            attempts[kind] += 1
            error = PermanentSourceError if kind == "permanent" else SourceError
            raise error(f"{SOURCE}: {OPERATION} failed: {kind}")

        return _asset

    for kind in attempts:
        result = dg.materialize([failing(kind)], raise_on_error=False)
        assert not result.success
    assert attempts == {"permanent": 1, "transient": 3}
