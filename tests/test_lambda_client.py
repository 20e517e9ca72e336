"""LambdaCloudClient against the local Lambda Cloud stand-in (no real sleeping: fake clock and sleep)."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from infra_assets.lambda_cloud.client import (
    InsufficientCapacityError,
    LambdaApiError,
    LambdaCloudClient,
    parse_retry_after,
)
from tests.helpers import FakeTime
from tests.standins.lambda_cloud import LambdaCloudStandIn

KEY = "sk-lambda-SECRET-0123456789"


@pytest.fixture
def standin() -> Iterator[LambdaCloudStandIn]:
    with LambdaCloudStandIn(api_key=KEY) as s:
        yield s


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def make_client(standin: LambdaCloudStandIn, fake: FakeTime, **kwargs) -> LambdaCloudClient:
    kwargs = {"min_request_interval_s": 1.0, "launch_interval_s": 10.0, **kwargs}
    return LambdaCloudClient(KEY, standin.base_url, sleep=fake.sleep, clock=fake.clock, **kwargs)


def launch(client: LambdaCloudClient, name: str = "pool-001") -> str:
    return client.launch_one("us-east-1", "gpu_1x_a10", ["ops-key"], [], name, tags=[{"key": "k", "value": "v"}])


def test_bearer_auth_header_and_shapes(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    with make_client(standin, fake) as client:
        iid = launch(client)
        listed = client.list_instances()
        one = client.get_instance(iid)
        types = client.instance_types()
    assert standin.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert [i["id"] for i in listed] == [iid]
    assert one["name"] == "pool-001" and one["region"]["name"] == "us-east-1"
    assert one["tags"] == [{"key": "k", "value": "v"}]
    assert types["gpu_1x_a10"]["instance_type"]["specs"]["gpus"] == 1
    body = standin.calls("POST", "/instance-operations/launch")[0].body
    assert body == {
        "region_name": "us-east-1",
        "instance_type_name": "gpu_1x_a10",
        "ssh_key_names": ["ops-key"],
        "name": "pool-001",
        "tags": [{"key": "k", "value": "v"}],
    }
    assert "quantity" not in body


def test_basic_auth_uses_key_as_user(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    with make_client(standin, fake, auth_scheme="basic") as client:
        assert client.list_instances() == []
    expected = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert standin.requests[0].headers["authorization"] == expected


def test_min_interval_between_requests_and_launches(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    with make_client(standin, fake) as client:
        client.list_instances()
        client.list_instances()
        fake.now += 0.25
        client.list_instances()
        launch(client, "pool-001")
        launch(client, "pool-002")
        client.list_instances()
    # list, list(+1s), list(+0.75s after the 0.25s that passed), launch(+1s), launch(+10s since the first), list(+1s)
    assert fake.sleeps == pytest.approx([1.0, 0.75, 1.0, 10.0, 1.0])
    assert len(standin.calls("POST", "/instance-operations/launch")) == 2


def test_429_is_retried_honouring_retry_after(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    standin.inject_errors(2, status=429, retry_after="7")
    with make_client(standin, fake, min_request_interval_s=0.0) as client:
        assert client.list_instances() == []
    assert fake.sleeps == [7.0, 7.0]
    assert len(standin.calls("GET", "/instances")) == 3


def test_429_without_retry_after_backs_off_exponentially(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    standin.inject_errors(3, status=429, retry_after=None)
    with make_client(standin, fake, min_request_interval_s=0.0, backoff_base_s=0.5) as client:
        client.list_instances()
    assert fake.sleeps == [0.5, 1.0, 2.0]


def test_retries_are_bounded(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    standin.inject_errors(10, status=503, retry_after=None)
    client = make_client(standin, fake, min_request_interval_s=0.0, max_retries=2)
    with client, pytest.raises(LambdaApiError) as info:
        client.list_instances()
    assert info.value.status == 503 and "gave up after 3 attempts" in str(info.value)
    assert len(standin.requests) == 3


def test_launch_retried_on_gateway_error_but_not_on_500(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    route = ("POST", "/instance-operations/launch")
    standin.inject_errors(1, status=503, retry_after="2", route=route)
    with make_client(standin, fake, min_request_interval_s=0.0, launch_interval_s=0.0) as client:
        launch(client)
        standin.inject_errors(1, status=500, retry_after=None, code="global/internal-error", route=route)
        with pytest.raises(LambdaApiError) as info:
            launch(client, "pool-002")
    assert info.value.status == 500 and info.value.code == "global/internal-error"
    assert len(standin.calls(*route)) == 3
    assert len(standin.present_ids()) == 1


def test_connect_errors_are_retried_then_raised(fake: FakeTime) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LambdaCloudClient(
        KEY, f"http://127.0.0.1:{port}/api/v1", 0.0, 0.0, max_retries=3, sleep=fake.sleep, clock=fake.clock
    )
    with client, pytest.raises(LambdaApiError) as info:
        client.list_instances()
    assert info.value.code == "transport/connect-error" and info.value.status is None
    assert fake.sleeps == [1.0, 2.0, 4.0]
    assert "Lambda Cloud API" in str(info.value) and KEY not in str(info.value)


def test_insufficient_capacity_is_typed(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    standin.capacity = 0
    with make_client(standin, fake) as client, pytest.raises(InsufficientCapacityError) as info:
        launch(client)
    err = info.value
    assert err.code == "instance-operations/launch/insufficient-capacity" and err.status == 400
    assert err.suggestion and "Lambda Cloud API" in str(err)
    assert len(standin.calls("POST", "/instance-operations/launch")) == 1  # 400 is not retried
    assert fake.sleeps == []


def test_other_errors_map_to_lambda_api_error(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    with make_client(standin, fake) as client:
        with pytest.raises(LambdaApiError) as missing:
            client.get_instance("nope")
        with pytest.raises(LambdaApiError) as bad:
            client.launch_one("mars-1", "gpu_1x_a10", ["ops-key"])
    assert (missing.value.code, missing.value.status) == ("global/object-does-not-exist", 404)
    assert (bad.value.code, bad.value.status) == ("global/invalid-parameters", 400)
    assert not isinstance(bad.value, InsufficientCapacityError)


def test_wrong_key_never_leaks(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    wrong = "sk-lambda-WRONG-9876543210"
    client = LambdaCloudClient(wrong, standin.base_url, sleep=fake.sleep, clock=fake.clock)
    with client, pytest.raises(LambdaApiError) as info:
        client.list_instances()
    err = info.value
    assert (err.code, err.status) == ("global/invalid-api-key", 401)
    assert "Lambda Cloud API" in str(err)
    for text in (str(err), repr(err), repr(err.args), repr(client)):
        assert wrong not in text
    assert repr(client) == f"LambdaCloudClient(base_url={standin.base_url!r}, api_key=***)"


def test_key_echoed_by_server_is_redacted(fake: FakeTime) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "global/invalid-parameters", "message": f"bad key {KEY}", "suggestion": KEY}}
        return httpx.Response(400, json=body)

    client = LambdaCloudClient(
        KEY, "https://lambda.invalid/api/v1", sleep=fake.sleep, clock=fake.clock, transport=httpx.MockTransport(handler)
    )
    with client, pytest.raises(LambdaApiError) as info:
        client.list_instances()
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert "bad key ***" in str(info.value)


def test_terminate_and_empty_terminate(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    with make_client(standin, fake, min_request_interval_s=0.0, launch_interval_s=0.0) as client:
        iid = launch(client)
        assert client.terminate([]) == []
        terminated = client.terminate([iid])
    assert [t["id"] for t in terminated] == [iid] and terminated[0]["status"] == "terminating"
    assert len(standin.calls("POST", "/instance-operations/terminate")) == 1


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=lambda: now) == 30.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


def test_empty_key_is_rejected() -> None:
    with pytest.raises(ValueError):
        LambdaCloudClient("")


@pytest.mark.parametrize("status", [500, 502, 504])
def test_launch_is_not_resent_after_an_answer_that_may_follow_a_launch(
    standin: LambdaCloudStandIn, fake: FakeTime, status: int
) -> None:
    route = ("POST", "/instance-operations/launch")
    standin.lose_replies(1, status=status, route=route)  # carried out server-side, then answered `status`
    client = make_client(standin, fake, min_request_interval_s=0.0, launch_interval_s=0.0)
    with client, pytest.raises(LambdaApiError) as info:
        launch(client)
    assert info.value.status == status and info.value.transient
    assert len(standin.calls(*route)) == 1  # resending could launch a duplicate: the caller re-lists instead
    assert len(standin.present_ids()) == 1


def test_dropped_launch_reply_is_transient_and_not_resent(standin: LambdaCloudStandIn, fake: FakeTime) -> None:
    route = ("POST", "/instance-operations/launch")
    standin.lose_replies(1, status=None, route=route)
    client = make_client(standin, fake, min_request_interval_s=0.0, launch_interval_s=0.0)
    with client, pytest.raises(LambdaApiError) as info:
        launch(client)
    assert info.value.code == "transport/error" and info.value.status is None and info.value.transient
    assert len(standin.calls(*route)) == 1 and len(standin.present_ids()) == 1


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("global/rate-limited", 429, True),
        ("global/internal-error", 500, True),
        ("http/504", 504, True),
        ("transport/connect-error", None, True),
        ("transport/error", None, True),
        ("instance-operations/launch/insufficient-capacity", 400, False),
        ("global/invalid-parameters", 400, False),
        ("global/invalid-api-key", 401, False),
        ("global/unexpected-response", None, False),
    ],
)
def test_transient_classification(code: str, status: int | None, transient: bool) -> None:
    assert LambdaApiError(code, "m", status).transient is transient
