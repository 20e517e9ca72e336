"""Launch and follow Dagster runs through the webserver's GraphQL API (dagster-graphql's `DagsterGraphQLClient`).

The write tools (`ingest`, `request_scaling`) launch runs here, so what they start is an ordinary run: queued,
limited and monitored like one launched from the UI, and visible at its UI link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from sophia_mcp.errors import Refused
from sophia_mcp.settings import McpSettings

GRAPHQL_TIMEOUT_S = 30


class DagsterUnavailable(Refused):
    """The GraphQL API refused or could not be reached; the message names the URL and the kind of failure."""


@dataclass(frozen=True, slots=True)
class LaunchedRun:
    run_id: str
    job_name: str
    url: str  # the run's page in the Dagster UI

    def as_dict(self) -> dict[str, str]:
        return {"run_id": self.run_id, "job": self.job_name, "url": self.url}


def graphql_client(graphql_url: str) -> DagsterGraphQLClient:
    """A client for `http(s)://host[:port][/prefix]/graphql`."""
    parts = urlsplit(graphql_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"DAGSTER_GRAPHQL_URL must be an http(s) URL ending in /graphql, got {graphql_url!r}")
    prefix = parts.path.rstrip("/")
    prefix = prefix[: -len("/graphql")] if prefix.endswith("/graphql") else prefix
    return DagsterGraphQLClient(
        parts.hostname,
        port_number=parts.port,
        use_https=parts.scheme == "https",
        path_prefix=prefix,
        timeout=GRAPHQL_TIMEOUT_S,
    )


def _describe(exc: DagsterGraphQLClientError) -> str:
    """The error kind and its first message line (the client's own text repeats the whole query)."""
    kind = exc.args[0] if exc.args else type(exc).__name__
    body = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(body, list):  # config validation errors
        body = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in body)
    first = str(kind).strip().splitlines()[0] if str(kind).strip() else "error"
    return f"{first}: {str(body).strip().splitlines()[0]}" if body else first


class DagsterRuns:
    """Launch a job's run and read a run's status at the configured Dagster webserver."""

    def __init__(self, settings: McpSettings, client: DagsterGraphQLClient | None = None) -> None:
        self.graphql_url = settings.graphql_url
        self.ui_url = settings.dagster_ui_url
        self._client = client

    @property
    def client(self) -> DagsterGraphQLClient:
        if self._client is None:
            self._client = graphql_client(self.graphql_url)
        return self._client

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url}/runs/{run_id}"

    def launch(
        self,
        job_name: str,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        asset_selection: Sequence[Sequence[str]] | None = None,
    ) -> LaunchedRun:
        """Submit `job_name` (optionally only `asset_selection`, as asset key paths); its run id and UI link."""
        try:
            run_id = self.client.submit_job_execution(
                job_name,
                run_config=dict(run_config or {}),
                tags=dict(tags or {}),
                asset_selection=[list(key) for key in asset_selection] if asset_selection else None,
            )
        except DagsterGraphQLClientError as exc:
            raise DagsterUnavailable(f"launching {job_name} at {self.graphql_url} failed: {_describe(exc)}") from None
        return LaunchedRun(run_id, job_name, self.run_url(run_id))

    def status(self, run_id: str) -> str:
        """The run's status (QUEUED, STARTED, SUCCESS, FAILURE, ...)."""
        try:
            return self.client.get_run_status(run_id).value
        except DagsterGraphQLClientError as exc:
            raise DagsterUnavailable(f"reading run {run_id} at {self.graphql_url} failed: {_describe(exc)}") from None
