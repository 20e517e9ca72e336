"""A small, rate-limited, retrying client for the Lambda Cloud API v1 (httpx).

The API key is kept in a private attribute, sent only in the Authorization header, and redacted from every
error message; `repr()` never shows it.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import httpx

from resources import http_retry

DEFAULT_BASE_URL = "https://cloud.lambda.ai/api/v1"
INSUFFICIENT_CAPACITY = "instance-operations/launch/insufficient-capacity"
UNKNOWN_INSTANCE_TYPE = "sophia/unknown-instance-type"  # raised by `check_launchable` before any launch
TRANSPORT_CODE_PREFIX = "transport/"
# Answers meaning a launch was NOT carried out (rate limited, service unavailable): safe to send again. Any
# other 5xx, a timeout or a dropped connection may follow a launch that happened: the caller re-lists instead.
_LAUNCH_NOT_CARRIED_OUT = frozenset({429, 503})


class LambdaApiError(Exception):
    """An error answer (or no answer) from the Lambda Cloud API."""

    def __init__(self, code: str, message: str, status: int | None, suggestion: str | None = None) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.suggestion = suggestion
        text = f"Lambda Cloud API error {code}"
        if status is not None:
            text += f" (HTTP {status})"
        text += f": {message}"
        if suggestion:
            text += f" Suggestion: {suggestion}"
        super().__init__(text)

    @property
    def transient(self) -> bool:
        """True for failures worth another try later: 429, any 5xx, timeouts and connection failures."""
        if self.status is None:
            return self.code.startswith(TRANSPORT_CODE_PREFIX)
        return http_retry.is_retryable_status(self.status)


class InsufficientCapacityError(LambdaApiError):
    """Lambda has no capacity for the requested instance type in the region."""


def check_launchable(catalog: dict[str, Any], instance_type: str, region: str) -> None:
    """Raise unless `GET /instance-types` (`catalog`) lists `instance_type` with capacity in `region`.

    Unknown type: `LambdaApiError` naming the known types; no capacity: `InsufficientCapacityError` naming the
    regions that have some. Both are permanent (no launch is attempted).
    """
    entry = catalog.get(instance_type)
    if not isinstance(entry, dict):
        known = ", ".join(sorted(catalog)) or "none"
        raise LambdaApiError(
            UNKNOWN_INSTANCE_TYPE, f"Lambda has no instance type {instance_type!r} (known: {known})", None
        )
    regions = [r.get("name") for r in entry.get("regions_with_capacity_available") or [] if isinstance(r, dict)]
    if region not in regions:
        where = ", ".join(str(r) for r in regions) or "no region"
        raise InsufficientCapacityError(
            INSUFFICIENT_CAPACITY,
            f"no capacity for {instance_type} in {region} right now (capacity in: {where})",
            None,
            "launch in a region with capacity, or retry later",
        )


def error_from_body(status: int, body: Any, fallback_text: str = "") -> LambdaApiError:
    """Map an error answer to a typed exception using the documented `{error:{code,message,suggestion?}}`."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or f"http/{status}")
        message = str(error.get("message") or "no message")
        suggestion = str(error["suggestion"]) if error.get("suggestion") else None
    else:
        code, message, suggestion = f"http/{status}", (fallback_text[:200] or "no error body"), None
    cls = InsufficientCapacityError if code == INSUFFICIENT_CAPACITY else LambdaApiError
    return cls(code, message, status, suggestion)


def parse_retry_after(value: str | None, now: Callable[[], datetime] | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent/invalid."""
    return http_retry.parse_retry_after(value, now() if now else None)


class LambdaCloudClient:
    """Lambda Cloud API v1 client with client-side rate limiting and bounded retries.

    - At least `min_request_interval_s` between any two requests and `launch_interval_s` between launches
      (measured with the injected `clock`, waited out with the injected `sleep`).
    - Retries 429, 5xx and connection errors with exponential backoff (honouring Retry-After), at most
      `max_retries` times. A launch is retried only when it surely was not carried out (429, 503, no
      connection); after any other 5xx, a timeout or a dropped connection it may have happened, so the
      error (`transient`) goes to the caller, which re-lists instances by name before launching again.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        min_request_interval_s: float = 1.0,
        launch_interval_s: float = 10.0,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        *,
        auth_scheme: Literal["bearer", "basic"] = "bearer",
        timeout_s: float = 30.0,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
        max_retry_after_s: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("Lambda Cloud API key is empty")
        self._api_key = api_key
        self._secrets: list[str] = [api_key]
        self.base_url = base_url.rstrip("/")
        self.min_request_interval_s = max(0.0, min_request_interval_s)
        self.launch_interval_s = max(0.0, launch_interval_s)
        self.max_retries = max(0, max_retries)
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._clock = clock
        self._auth_scheme = auth_scheme
        self._http = httpx.Client(timeout=timeout_s, transport=transport)
        self._lock = threading.Lock()
        self._last_request_at: float | None = None
        self._last_launch_at: float | None = None

    def __repr__(self) -> str:
        return f"LambdaCloudClient(base_url={self.base_url!r}, api_key=***)"

    def __enter__(self) -> LambdaCloudClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._http.close()

    # ---- public API -------------------------------------------------------------------------------

    def list_instances(self) -> list[dict[str, Any]]:
        """All instances of the account (`GET /instances`)."""
        return list(self._data("GET", "/instances") or [])

    def get_instance(self, instance_id: str) -> dict[str, Any]:
        """One instance (`GET /instances/{id}`)."""
        return dict(self._data("GET", f"/instances/{instance_id}") or {})

    def launch_one(
        self,
        region_name: str,
        instance_type_name: str,
        ssh_key_names: Sequence[str],
        file_system_names: Sequence[str] = (),
        name: str | None = None,
        tags: Sequence[dict[str, str]] | None = None,
        user_data: str | None = None,
    ) -> str:
        """Launch exactly one instance and return its id (`POST /instance-operations/launch`).

        `user_data` is the cloud-init document the instance boots with (plain text; it may hold secrets, so it is
        never logged or put into errors).
        """
        body: dict[str, Any] = {
            "region_name": region_name,
            "instance_type_name": instance_type_name,
            "ssh_key_names": list(ssh_key_names),
        }
        if file_system_names:
            body["file_system_names"] = list(file_system_names)
        if name:
            body["name"] = name
        if tags:
            body["tags"] = [dict(t) for t in tags]
        if user_data:
            body["user_data"] = user_data
        data = self._data("POST", "/instance-operations/launch", body, launch=True)
        ids = [str(i) for i in (data or {}).get("instance_ids") or []]
        if len(ids) != 1:
            raise LambdaApiError("global/unexpected-response", f"launch returned {len(ids)} instance ids: {ids}", None)
        return ids[0]

    def terminate(self, instance_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Terminate instances; returns the terminated instances (`POST /instance-operations/terminate`)."""
        if not instance_ids:
            return []
        data = self._data("POST", "/instance-operations/terminate", {"instance_ids": list(instance_ids)})
        return list((data or {}).get("terminated_instances") or [])

    def instance_types(self) -> dict[str, Any]:
        """Instance types keyed by name, with `regions_with_capacity_available` (`GET /instance-types`)."""
        return dict(self._data("GET", "/instance-types") or {})

    # ---- internals --------------------------------------------------------------------------------

    def _auth_header(self) -> str:
        if self._auth_scheme == "basic":
            return "Basic " + base64.b64encode(f"{self._api_key}:".encode()).decode()
        return f"Bearer {self._api_key}"

    def add_secret(self, value: str) -> None:
        """Redact `value` (e.g. a join token in user_data) from every error this client raises."""
        if value and value not in self._secrets:
            self._secrets.append(value)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def _redacted(self, err: LambdaApiError) -> LambdaApiError:
        suggestion = self._redact(err.suggestion) if err.suggestion else None
        return type(err)(err.code, self._redact(err.message), err.status, suggestion)

    def _throttle(self, launch: bool) -> None:
        with self._lock:
            now = self._clock()
            wait = 0.0
            if self._last_request_at is not None:
                wait = self._last_request_at + self.min_request_interval_s - now
            if launch and self._last_launch_at is not None:
                wait = max(wait, self._last_launch_at + self.launch_interval_s - now)
            if wait > 0:
                self._sleep(wait)
                now = self._clock()
            self._last_request_at = now
            if launch:
                self._last_launch_at = now

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_base_s * (2**attempt))

    def _data(self, method: str, path: str, body: dict[str, Any] | None = None, *, launch: bool = False) -> Any:
        """Send a request with throttling and retries; return the `data` member of the answer."""
        idempotent = method == "GET" or path.endswith("/terminate")
        url = f"{self.base_url}{path}"
        for attempt in range(self.max_retries + 1):
            self._throttle(launch)
            delay = self._backoff(attempt)
            try:
                response = self._http.request(method, url, json=body, headers={"Authorization": self._auth_header()})
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = LambdaApiError(
                    f"{TRANSPORT_CODE_PREFIX}connect-error",
                    f"{method} {path}: cannot connect ({type(exc).__name__})",
                    None,
                )
                retryable = True
            except httpx.TransportError as exc:
                error = LambdaApiError(
                    f"{TRANSPORT_CODE_PREFIX}error", f"{method} {path}: request failed ({type(exc).__name__})", None
                )
                retryable = idempotent
            else:
                if response.status_code < 400:
                    return self._parse_data(response, method, path)
                error = self._redacted(
                    error_from_body(response.status_code, _json_or_none(response), response.text[:200])
                )
                status = response.status_code
                retryable = error.transient and (idempotent or status in _LAUNCH_NOT_CARRIED_OUT)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is not None:
                    delay = min(retry_after, self.max_retry_after_s)
            if not retryable or attempt >= self.max_retries:
                if retryable:
                    error = type(error)(
                        error.code,
                        f"{error.message} (gave up after {attempt + 1} attempts)",
                        error.status,
                        error.suggestion,
                    )
                raise error
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _parse_data(self, response: httpx.Response, method: str, path: str) -> Any:
        payload = _json_or_none(response)
        if not isinstance(payload, dict) or "data" not in payload:
            raise LambdaApiError(
                "global/unexpected-response", f"{method} {path}: answer has no 'data' member", response.status_code
            )
        return payload["data"]


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
