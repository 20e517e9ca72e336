"""A local stand-in for the Dagster webserver's GraphQL API, as dagster-graphql's `DagsterGraphQLClient` uses it.

`POST /graphql` {"query", "variables"}: `repositoriesOrError` lists one code location holding `jobs`;
`launchPipelineExecution` answers `LaunchRunSuccess` with a new run id (a job it does not hold:
`PipelineNotFoundError`; run config that `validate` rejects: `RunConfigValidationInvalid`) and records the
launch; `pipelineRunOrError` answers a launched run's status (`QUEUED`, or what `set_status` says), else
`RunNotFoundError`. Replies are `{"data": ...}` like the real server's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .http import RecordedRequest, Reply, StandinServer

LOCATION = "sophia_pipelines"
REPOSITORY = "__repository__"


@dataclass(frozen=True)
class Launch:
    run_id: str
    job: str
    run_config: dict[str, Any]
    tags: dict[str, str]
    asset_selection: list[list[str]] | None


@dataclass
class DagsterGraphQLStandin(StandinServer):
    """Context manager: the GraphQL API on 127.0.0.1:<free port>; `launches` holds every launched run."""

    jobs: tuple[str, ...] = ()
    validate: Callable[[str, dict[str, Any]], list[str]] | None = None  # (job, run config) -> error messages
    launches: list[Launch] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def set_status(self, run_id: str, status: str) -> None:
        self.statuses[run_id] = status

    def authorized(self, request: RecordedRequest) -> bool:
        return True

    def route(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or request.path != "/graphql":
            return Reply(404, {"error": f"no route {request.method} {request.path}"})
        body = request.json() or {}
        query, variables = body.get("query", ""), body.get("variables") or {}
        if "repositoriesOrError" in query:
            return Reply(200, {"data": {"repositoriesOrError": self._repositories()}})
        if "launchPipelineExecution" in query:
            return Reply(200, {"data": {"launchPipelineExecution": self._launch(variables["executionParams"])}})
        if "pipelineRunOrError" in query:
            return Reply(200, {"data": {"pipelineRunOrError": self._run(variables["runId"])}})
        return Reply(400, {"errors": [{"message": "query not supported by the stand-in"}]})

    def _repositories(self) -> dict[str, Any]:
        node = {"name": REPOSITORY, "location": {"name": LOCATION}, "pipelines": [{"name": j} for j in self.jobs]}
        return {"__typename": "RepositoryConnection", "nodes": [node]}

    def _launch(self, params: dict[str, Any]) -> dict[str, Any]:
        selector = params["selector"]
        job = selector["pipelineName"]
        if job not in self.jobs or selector.get("repositoryLocationName") != LOCATION:
            return {"__typename": "PipelineNotFoundError", "message": f"Could not find Pipeline {job}"}
        run_config = params.get("runConfigData") or {}
        errors = self.validate(job, run_config) if self.validate else []
        if errors:
            return {
                "__typename": "RunConfigValidationInvalid",
                "errors": [{"__typename": "FieldNotDefinedConfigError", "message": m, "path": [], "reason": ""}
                           for m in errors],
            }  # fmt: skip
        tags = {t["key"]: t["value"] for t in (params.get("executionMetadata") or {}).get("tags", [])}
        keys = selector.get("assetSelection")
        run_id = str(uuid.uuid4())
        with self._lock:
            self.launches.append(Launch(run_id, job, run_config, tags, [k["path"] for k in keys] if keys else None))
            self.statuses[run_id] = "QUEUED"
        return {"__typename": "LaunchRunSuccess", "run": {"runId": run_id}}

    def _run(self, run_id: str) -> dict[str, Any]:
        if run_id not in self.statuses:
            return {"__typename": "RunNotFoundError", "message": f"Run {run_id} could not be found."}
        return {"__typename": "Run", "status": self.statuses[run_id]}
