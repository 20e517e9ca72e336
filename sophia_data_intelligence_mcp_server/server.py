"""The data intelligence tools: `search_documents`, `list_sources`, `ingest` (write) and `run_status`.

Sources are the stream catalogue (`sophia_pipelines.streams.STREAMS`); their last materializations come from
the Dagster instance in `DAGSTER_HOME`, row counts from the warehouse (read-only), freshness from the raw
assets' freshness policy. `ingest` registers the stream's new source runs as partitions and launches its
`land_<system>_<name>` job over them through Dagster's GraphQL API.
"""

from __future__ import annotations

import os
import time
from typing import Any

from mcp.server.mcpserver import MCPServer

from sophia_mcp.dagster_runs import DagsterRuns
from sophia_mcp.documents import search_documents as find_documents
from sophia_mcp.errors import Refused
from sophia_mcp.redaction import Redactor
from sophia_mcp.server import add_tools, create_server
from sophia_mcp.settings import ALLOW_WRITES_ENV, McpSettings

NAME = "sophia_data_intelligence_mcp_server"
LAUNCHED_BY_TAG = "sophia/launched-by"
INSTRUCTIONS = (
    "Sophia's ingested documents and the sources they come from. search_documents finds passages; list_sources "
    "shows each source stream's last landing, row counts and freshness; ingest launches a stream's landing run "
    "(needs write permission); run_status follows a run."
)


def _instance() -> Any:
    """The Dagster instance in DAGSTER_HOME (None when it is not set)."""
    import dagster as dg

    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None


def _stream(source: str) -> Any:
    """The stream named by its source id (`apify/website-content-crawler`), land job or raw table."""
    from sophia_pipelines.streams import STREAMS

    for stream in STREAMS:
        if source.strip() in (stream.source, stream.land_job_name, stream.table.name):
            return stream
    raise Refused(f"unknown source {source!r}; known: {', '.join(s.source for s in STREAMS)}")


def freshness(age_s: float | None) -> str:
    """`fresh`, `warn` or `fail` by the raw assets' freshness policy (`never` without a landing)."""
    from sophia_pipelines.automation import RAW_FRESHNESS

    if age_s is None:
        return "never landed"
    if age_s > RAW_FRESHNESS.fail_window.to_timedelta().total_seconds():
        return "fail"
    warn = RAW_FRESHNESS.warn_window
    return "warn" if warn is not None and age_s > warn.to_timedelta().total_seconds() else "fresh"


def _row_counts() -> tuple[dict[str, int], dict[str, int], str | None]:
    """({raw table: rows}, {source: documents}, problem): from the warehouse, read-only."""
    from resources.profile import current_profile
    from resources.registry import build_resources
    from sophia_mcp.warehouse_reader import build_reader, query_timeout_s

    try:
        reader = build_reader(build_resources(current_profile())["warehouse"])
        tables = {t["table"] for t in reader.tables()}
        raw: dict[str, int] = {}
        for table in sorted(t for t in tables if t.startswith("raw_")):
            raw[table] = int(reader.query(f"SELECT COUNT(*) FROM {table}", 1, query_timeout_s()).rows[0][0])
        docs: dict[str, int] = {}
        if "documents" in tables:
            result = reader.query("SELECT source, COUNT(*) FROM documents GROUP BY source", 1000, query_timeout_s())
            docs = {str(source): int(n) for source, n in result.rows}
        return raw, docs, None
    except Refused as exc:
        return {}, {}, str(exc)


def build_server(settings: McpSettings) -> MCPServer:
    """The data intelligence server with its four tools."""
    runs = DagsterRuns(settings)

    def search_documents(query: str, k: int = 5, source: str | None = None) -> dict[str, Any]:
        """Search the ingested documents (hybrid: BM25 words and embedding similarity, fused by rank).

        Returns up to k results (1-50), best first, one per document (the same article from several sources is
        one result; `source` lists them), each with title, url, source, score, snippet (query words marked) and
        document_id; no results when nothing matches well. `source` limits the search to one source id, e.g.
        "tavily/search".
        """
        results = find_documents(query, k, source)
        return {"query": query, "results": [{key: r[key] for key in r if key != "text"} for r in results]}

    def list_sources() -> dict[str, Any]:
        """Every source stream: its last landing (materialization), raw and document row counts, freshness."""
        from sophia_pipelines.streams import STREAMS

        instance = _instance()
        raw, docs, problem = _row_counts()
        now = time.time()
        sources = []
        for stream in STREAMS:
            event = instance.get_latest_materialization_event(stream.asset_key) if instance else None
            age = None if event is None else max(0.0, now - event.timestamp)
            sources.append(
                {
                    "source": stream.source,
                    "description": stream.description,
                    "raw_table": stream.table.name,
                    "land_job": stream.land_job_name,
                    "last_materialization": None
                    if event is None
                    else {
                        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.timestamp)),
                        "run_id": event.run_id,
                        "age_hours": round(age / 3600, 2) if age is not None else None,
                    },
                    "raw_rows": raw.get(stream.table.name),
                    "documents": docs.get(stream.source, 0) if not problem else None,
                    "freshness": freshness(age) if instance else "unknown (DAGSTER_HOME is not set)",
                }
            )
        return {"sources": sources, **({"warehouse_problem": problem} if problem else {})}

    def ingest(source: str) -> dict[str, Any]:
        """Land a source stream now: registers its new source runs and launches its land job (write tool).

        `source` is a source id from list_sources, e.g. "apify/website-content-crawler". Returns the run id
        and a link to the run in the Dagster UI. Refused unless the server runs with --allow-writes.
        """
        if not settings.allow_writes:
            raise Refused(f"refused: ingest needs write permission (start the server with --allow-writes or "
                          f"{ALLOW_WRITES_ENV}=1)")  # fmt: skip
        stream = _stream(source)
        instance = _instance()
        if instance is None:
            raise Refused("refused: DAGSTER_HOME is not set, so the stream's source runs cannot be registered")
        registered, warnings = _register(instance, stream)
        keys = instance.get_dynamic_partitions(stream.partitions_name)
        if not keys:
            raise Refused(f"nothing to land: {stream.source} has no source runs yet")
        from sophia_pipelines.partitions import range_tags

        run = runs.launch(stream.land_job_name, tags={**range_tags(keys), LAUNCHED_BY_TAG: NAME})
        return {**run.as_dict(), "source": stream.source, "partitions": len(keys), "newly_registered": registered,
                **({"warnings": warnings} if warnings else {})}  # fmt: skip

    def run_status(run_id: str) -> dict[str, Any]:
        """The status of a Dagster run (QUEUED, STARTED, SUCCESS, FAILURE, CANCELED, ...) and its UI link."""
        return {"run_id": run_id, "status": runs.status(run_id.strip()), "url": runs.run_url(run_id.strip())}

    server = create_server(NAME, INSTRUCTIONS)
    add_tools(server, Redactor.from_env(), search_documents, list_sources, ingest, run_status)
    return server


def _register(instance: Any, stream: Any) -> tuple[int, list[str]]:
    """Register the stream's source runs not yet partitions (as the landing CLI does); (count, warnings)."""
    from resources.profile import current_profile
    from resources.registry import build_resources, resolve
    from sophia_pipelines.land import LandResult, register_source_runs
    from sophia_pipelines.streams import UPSTREAMS

    result = LandResult()
    source = resolve(build_resources(current_profile(), UPSTREAMS)[stream.system])
    register_source_runs(instance, [stream], {stream.system: source}, result)
    if result.errors:
        raise Refused(result.errors[0])
    return result.registered.get(stream.source, 0), result.warnings
