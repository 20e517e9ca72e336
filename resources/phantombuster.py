"""PhantomBuster API v2 as a payload source: one batch per finished container of an agent (httpx).

PhantomBuster has no official Python client; every request goes through `resources.http_retry` (transient faults
retried with backoff within `max_attempts` and `max_retry_seconds`, permanent ones fail at once).
Endpoints (header `X-Phantombuster-Key-1`):
`GET /containers/fetch-all?agentId=&mode=finalized&limit=&beforeEndedAt=` (newest first, paged backwards by
the smallest `endedAt` while `maxLimitReached`), `GET /containers/fetch-result-object?id=` (`resultObject` is
a JSON *string*), and, when that string only points at a result file, `GET /agents/fetch?id=` to build
`{s3_base_url}/{orgS3Folder}/{s3Folder}/result.json` (fetched without the key). Sensors page through
`fetch-all` (`list_batches`, cursor = the newest `endedAt` landed plus the container ids at that millisecond); a
partition run lands one container (`fetch_batch`: `GET /containers/fetch?id=`, then its result).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import httpx
from pydantic import Field

from resources.http_retry import PermanentSourceError, RetryPolicy, call_with_retry
from resources.payloads import BatchPage, BatchRef, PayloadBatch, PayloadSource, SourceError, dump_cursor, load_cursor

SYSTEM = "phantombuster"
KEY_HEADER = "X-Phantombuster-Key-1"
# Keys seen in result objects that only point at the phantom's result file (uncertain, undocumented).
_FILE_POINTER_KEYS = frozenset({"jsonurl", "csvurl", "resulturl", "resultfileurl", "fileurl"})

_log = dg.get_dagster_logger("resources.phantombuster")


def _epoch_ms(value: Any) -> int | None:
    """`endedAt` as epoch milliseconds (int, float or digit string); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def is_file_pointer(obj: Any) -> bool:
    """True when a parsed result object only references a result file instead of holding rows."""
    return isinstance(obj, dict) and any(
        key.lower() in _FILE_POINTER_KEYS and isinstance(value, str) and value.startswith("http")
        for key, value in obj.items()
    )


def _containers(page: Any, source: str) -> list[dict[str, Any]]:
    """The `containers` of a fetch-all reply (entries without an id dropped); a reply without them is an error."""
    containers = page.get("containers") if isinstance(page, dict) else None
    if not isinstance(containers, list):
        raise SourceError(f"{source}: GET /containers/fetch-all returned no 'containers' list")
    return [c for c in containers if isinstance(c, dict) and c.get("id") is not None]


def _as_items(data: Any, what: str, source: str) -> list[Any]:
    """A result as a list of rows: arrays as they are, a single object as one row."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return [data]
    raise SourceError(f"{source}: {what} holds {type(data).__name__}, expected a JSON array or object")


class PhantomBusterPayloadSource(PayloadSource):
    """Reads the results of finished containers of the agents mapped to streams."""

    api_key: str = Field(repr=False, description="PhantomBuster API key (PHANTOMBUSTER_API_KEY).")
    base_url: str = "https://api.phantombuster.com/api/v2"
    agents: dict[str, str] = Field(description="stream -> agent id")
    max_containers: int = 10
    page_size: int = 100
    s3_base_url: str = "https://phantombuster.s3.amazonaws.com"
    timeout_seconds: float = 30.0
    max_attempts: int = 5
    retry_base_delay_seconds: float = 1.0
    retry_max_delay_seconds: float = 60.0
    max_retry_seconds: float = 300.0

    def _policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            base_delay=self.retry_base_delay_seconds,
            max_delay=self.retry_max_delay_seconds,
            max_elapsed=self.max_retry_seconds,
        )

    def _get_json(self, client: httpx.Client, source: str, path: str, params: dict[str, Any]) -> Any:
        def get() -> Any:
            response = client.get(path, params=params)
            response.raise_for_status()
            return response.json()

        operation = f"GET {path}" if path.startswith("/") else "GET result file"
        return call_with_retry(
            get, source=source, operation=operation, policy=self._policy(), secrets=[self.api_key], logger=_log
        )

    def _agent(self, stream: str) -> str:
        agent_id = self.agents.get(stream)
        if not agent_id:
            raise SourceError(f"{SYSTEM}/{stream}: no agent configured for this stream (known: {sorted(self.agents)})")
        if self.max_containers < 1 or self.page_size < 1:
            raise SourceError(f"{SYSTEM}/{stream}: max_containers and page_size must be at least 1")
        return agent_id

    @contextmanager
    def _clients(self) -> Iterator[tuple[httpx.Client, httpx.Client]]:
        """The API client (with the key) and the result-file client (without it)."""
        timeout = httpx.Timeout(self.timeout_seconds)
        headers = {KEY_HEADER: self.api_key, "Accept": "application/json"}
        with (
            httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout) as api,
            httpx.Client(timeout=timeout, follow_redirects=True) as files,
        ):
            yield api, files

    def list_batches(self, stream: str, after: str | None = None, limit: int = 100) -> BatchPage:
        """One `fetch-all` page of containers that ended after the cursor, newest first.

        A pass pages back with `beforeEndedAt` until it reaches the cursor's `endedAt` (the listing is ordered by
        it, so nothing that ends meanwhile can fall behind a page already read); then the cursor moves to the
        newest `endedAt` of the pass, with the ids that ended at exactly that millisecond.
        """
        source = f"{SYSTEM}/{stream}"
        agent_id = self._agent(stream)
        state = load_cursor(after)
        watermark: int | None = state.get("after")
        seen = set(state.get("ids", ()))
        scan = state.get("scan") or {"before": None, "high": None, "high_ids": []}
        params: dict[str, Any] = {"agentId": agent_id, "mode": "finalized", "limit": max(1, min(limit, self.page_size))}
        if scan["before"] is not None:
            params["beforeEndedAt"] = scan["before"]
        with self._clients() as (api, _):
            page = self._get_json(api, source, "/containers/fetch-all", params)
        containers = _containers(page, source)
        refs: list[BatchRef] = []
        reached = False
        for container in containers:
            ended, container_id = _epoch_ms(container.get("endedAt")), str(container["id"])
            if ended is None or container.get("status", "finished") != "finished":
                continue
            if watermark is not None and (ended < watermark or (ended == watermark and container_id in seen)):
                reached = True
                continue
            refs.append(BatchRef(container_id, ended / 1000))
            if scan["high"] is None or ended > scan["high"]:
                scan["high"], scan["high_ids"] = ended, [container_id]
            elif ended == scan["high"] and container_id not in scan["high_ids"]:
                scan["high_ids"].append(container_id)
        ended_all = [ms for c in containers if (ms := _epoch_ms(c.get("endedAt"))) is not None]
        if page.get("maxLimitReached") and ended_all and not reached:
            oldest = min(ended_all)
            if scan["before"] is None or oldest < scan["before"]:
                scan["before"] = oldest
                return BatchPage(tuple(refs), dump_cursor({**state, "scan": scan}), False)
        high = scan["high"]
        if high is None or (watermark is not None and high < watermark):
            cursor = {"after": watermark, "ids": sorted(seen)}
        elif high == watermark:
            cursor = {"after": high, "ids": sorted(seen | set(scan["high_ids"]))}
        else:
            cursor = {"after": high, "ids": sorted(scan["high_ids"])}
        return BatchPage(tuple(refs), dump_cursor(cursor) if cursor["after"] is not None else None, True)

    def fetch_batch(self, stream: str, key: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch]:
        """The result of container `key` as one batch; nothing when it already landed (a finished container's
        result no longer changes) or has no result. A container that does not exist or has not finished fails at
        once. A result that only points at the agent's result file lands it only for the agent's newest container
        (the file holds the latest launch's rows)."""
        source = f"{SYSTEM}/{stream}"
        agent_id = self._agent(stream)
        if key in (known or {}):
            _log.info("%s: container %s already landed; skipped", source, key)
            return
        with self._clients() as (api, files):
            container = self._get_json(api, source, "/containers/fetch", {"id": key})
            if not isinstance(container, dict) or str(container.get("id")) != key:
                raise PermanentSourceError(f"{source}: container {key} does not exist")
            if container.get("status") != "finished":
                raise PermanentSourceError(f"{source}: container {key} is {container.get('status')}; not finished")
            parsed = self._result_object(api, source, key)
            if parsed is None:
                return
            if is_file_pointer(parsed):
                newest = self._finished_containers(api, source, agent_id, limit=1)
                if not newest or str(newest[0]["id"]) != key:
                    _log.info("%s: container %s points at an older result file; skipped", source, key)
                    return
                items = self._result_file(api, files, source, agent_id)
            else:
                items = _as_items(parsed, f"container {key} resultObject", source)
        fingerprint = f"phantombuster-container:{key}:{container.get('endedAt')}"
        yield PayloadBatch(SYSTEM, stream, key, items, datetime.now(UTC), fingerprint)

    def fetch_batches(self, stream: str, known: Mapping[str, str] | None = None) -> Iterator[PayloadBatch]:
        """Yield one batch per finished container (oldest first), batch_id = container id.

        A finished container's result no longer changes: containers already landed (`known`) are skipped.
        """
        source = f"{SYSTEM}/{stream}"
        agent_id = self._agent(stream)
        with self._clients() as (api, files):
            batches = self._collect(api, files, source, stream, agent_id, known or {})
        yield from reversed(batches)

    def _result_object(self, api: httpx.Client, source: str, container_id: str) -> Any:
        """The container's parsed result object; None when it has none."""
        payload = self._get_json(api, source, "/containers/fetch-result-object", {"id": container_id})
        raw = payload.get("resultObject") if isinstance(payload, dict) else None
        if raw is None or raw == "":
            _log.info("%s: container %s has no result object; skipped", source, container_id)
            return None
        try:
            return json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            raise SourceError(f"{source}: container {container_id} resultObject is not JSON: {exc}") from None

    def _collect(
        self,
        api: httpx.Client,
        files: httpx.Client,
        source: str,
        stream: str,
        agent_id: str,
        known: Mapping[str, str],
    ) -> list[PayloadBatch]:
        """Batches newest first; only the newest file-pointer container gets the agent's result file."""
        batches: list[PayloadBatch] = []
        used_result_file = False
        for container in self._finished_containers(api, source, agent_id):
            container_id = str(container["id"])
            fingerprint = f"phantombuster-container:{container_id}:{container.get('endedAt')}"
            if known.get(container_id) == fingerprint:
                _log.info("%s: container %s already landed; skipped", source, container_id)
                continue
            parsed = self._result_object(api, source, container_id)
            if parsed is None:
                continue
            if is_file_pointer(parsed):
                if used_result_file:
                    _log.info("%s: container %s points at an older result file; skipped", source, container_id)
                    continue
                items = self._result_file(api, files, source, agent_id)
                used_result_file = True
            else:
                items = _as_items(parsed, f"container {container_id} resultObject", source)
            batches.append(PayloadBatch(SYSTEM, stream, container_id, items, datetime.now(UTC), fingerprint))
        return batches

    def _finished_containers(
        self, api: httpx.Client, source: str, agent_id: str, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Up to `limit` (default `max_containers`) finalized containers, newest first, paging back with
        `beforeEndedAt`."""
        limit = limit or self.max_containers
        seen: dict[str, dict[str, Any]] = {}
        before: int | None = None
        while len(seen) < limit:
            params: dict[str, Any] = {
                "agentId": agent_id,
                "mode": "finalized",
                "limit": min(self.page_size, limit - len(seen)),
            }
            if before is not None:
                params["beforeEndedAt"] = before
            page = self._get_json(api, source, "/containers/fetch-all", params)
            containers = _containers(page, source)
            for container in containers:
                seen.setdefault(str(container["id"]), container)
            ended = [ms for c in containers if (ms := _epoch_ms(c.get("endedAt"))) is not None]
            if not page.get("maxLimitReached") or not ended or (before is not None and min(ended) >= before):
                break
            before = min(ended)
        newest_first = sorted(seen.values(), key=lambda c: _epoch_ms(c.get("endedAt")) or 0, reverse=True)
        finished = [c for c in newest_first if c.get("status", "finished") == "finished"]
        if len(finished) < len(newest_first):
            _log.info("%s: skipped %d unfinished containers", source, len(newest_first) - len(finished))
        return finished[:limit]

    def _result_file(self, api: httpx.Client, files: httpx.Client, source: str, agent_id: str) -> list[Any]:
        """The agent's `result.json` on S3 (the location PhantomBuster documents for result files)."""
        agent = self._get_json(api, source, "/agents/fetch", {"id": agent_id})
        org_folder = agent.get("orgS3Folder") if isinstance(agent, dict) else None
        folder = agent.get("s3Folder") if isinstance(agent, dict) else None
        if not org_folder or not folder:
            raise SourceError(f"{source}: agent {agent_id} has no s3Folder/orgS3Folder for its result file")
        url = f"{self.s3_base_url.rstrip('/')}/{org_folder}/{folder}/result.json"
        return _as_items(self._get_json(files, source, url, {}), "result.json", source)
