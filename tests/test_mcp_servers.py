"""The four MCP servers driven by the official MCP client over stdio (`python -m <server>`, the real protocol).

One small data plane (the bundled samples, landed into a temp DuckDB and a temp Dagster instance) serves every
server; each server starts once per module (`run_session`) and the tests assert on its answers. Stand-ins: the
Dagster GraphQL API (validating run config against the real jobs) and an OpenAI-compatible chat endpoint. A
planted secret is configured as several credentials, returned by the chat stand-in and selected in SQL: it must
never appear in anything a client sees.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.errors import DagsterInvalidConfigError

from infra_assets.definitions import SCALE_GPU_POOL_JOB, SCALE_NODE_POOL_JOB, build_infra_definitions
from infra_assets.signals import BacklogSignal, RunQueueSignal
from infra_assets.specs.gpu_pool import build_gpu_pool_spec
from infra_assets.specs.node_pools import build_node_pool_specs
from resources.payloads import BUNDLED_SAMPLES_DIR
from resources.profile import profile
from sophia_ai_intelligence_mcp_server.server import build_server as build_ai_server
from sophia_data_intelligence_mcp_server.server import build_server as build_data_server
from sophia_infrastructure_mcp_server.server import build_server as build_infra_server
from sophia_mcp.chat import PROVIDERS
from sophia_mcp.settings import McpSettings
from sophia_pipelines.search import default_search_resources
from sophia_pipelines.streams import STREAMS, WEB_SEARCH
from tests.conftest import DataPlane, build_data_plane
from tests.mcp_client import Call, Session, Spec, call_in_process, run_sessions
from tests.standins.chat import ChatStandin
from tests.standins.dagster_graphql import DagsterGraphQLStandin

SECRET = "planted-Secret-7f3a9c2e41"  # configured as credentials; must never reach a client
AI, DATA, INFRA, BI = (
    "sophia_ai_intelligence_mcp_server",
    "sophia_data_intelligence_mcp_server",
    "sophia_infrastructure_mcp_server",
    "sophia_business_intelligence_mcp_server",
)
TOOLS = {
    AI: {"ask", "embed", "model_status"},
    DATA: {"search_documents", "list_sources", "ingest", "run_status"},
    INFRA: {"infra_status", "plan_scaling", "request_scaling"},
    BI: {"query_warehouse", "describe_tables", "vector_index_stats"},
}
LOCAL = profile("local")
GPU_POOL = build_gpu_pool_spec(LOCAL)
DATA_POOL, BI_POOL = build_node_pool_specs(LOCAL)


def sample_subset(dest: Path) -> Path:
    """The first payload file of every stream folder (and two Tavily query sets): a small, complete plane."""
    for folder in sorted({p.parent for p in BUNDLED_SAMPLES_DIR.rglob("*.json")}):
        files = sorted(folder.glob("*.json"))[: 2 if folder.name == "tavily" else 1]
        target = dest / folder.relative_to(BUNDLED_SAMPLES_DIR)
        target.mkdir(parents=True, exist_ok=True)
        for file in files:
            shutil.copy(file, target / file.name)
    return dest


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> DataPlane:
    """A sample of every stream landed, chunked and embedded; runs recorded in a Dagster instance under `home`."""
    tmp = tmp_path_factory.mktemp("mcp")
    plane = build_data_plane(tmp, sample_subset(tmp / "subset"))
    home = tmp / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    plane.instance = dg.DagsterInstance.local_temp(str(home))
    plane.materialize()
    return plane


@pytest.fixture(scope="module")
def graphql(plane: DataPlane) -> Iterator[DagsterGraphQLStandin]:
    """The GraphQL API holding the land and scaling jobs; launches are validated against their config schema."""
    infra = build_infra_definitions(LOCAL, BacklogSignal.of(["chunks"], "pending_embedding"), RunQueueSignal())
    data = plane.definitions()
    jobs = {s.land_job_name: data for s in STREAMS} | {SCALE_GPU_POOL_JOB: infra, SCALE_NODE_POOL_JOB: infra}

    def validate(job: str, run_config: dict[str, Any]) -> list[str]:
        try:
            dg.validate_run_config(jobs[job].resolve_job_def(job), run_config)
        except DagsterInvalidConfigError as exc:
            return [e.message for e in exc.errors]
        return []

    with DagsterGraphQLStandin(jobs=tuple(jobs), validate=validate) as standin:
        yield standin


@pytest.fixture(scope="module")
def chat() -> Iterator[ChatStandin]:
    with ChatStandin(token=SECRET, extra=f"(the key was {SECRET})") as standin:
        yield standin


@pytest.fixture(scope="module")
def env(plane: DataPlane, graphql: DagsterGraphQLStandin, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Local mode on the module's data plane, with the secret planted as credentials the servers can see."""
    return {
        "SOPHIA_ENV": "local",
        "SOPHIA_DATA_DIR": str(plane.root),
        "SOPHIA_SAMPLES_DIR": str(plane.samples),
        "DAGSTER_HOME": str(plane.root.parent / "home"),
        "DAGSTER_GRAPHQL_URL": graphql.graphql_url,
        "SOPHIA_INFRA_OUT": str(tmp_path_factory.mktemp("infra")),
        "SOPHIA_RETRY_DELAY_SCALE": "0.001",
        "APIFY_TOKEN": SECRET,
        "LAMBDA_API_KEY": SECRET,
        "MCP_AUTH_TOKEN": SECRET,
    }


def answers(session: Session, *names: str) -> dict[str, Any]:
    """{label: answer} for the calls made, labelled in order."""
    return dict(zip(names, session.answers, strict=True))


DATA_CALLS: list[Call] = [
    ("search_documents", {"query": "GPU cloud pricing for LLM inference", "k": 3}),
    ("search_documents", {"query": "GPU cloud pricing", "k": 2, "source": WEB_SEARCH.source}),
    ("search_documents", {"query": "GPU", "k": 0}),
    ("list_sources", {}),
    ("ingest", {"source": WEB_SEARCH.source}),
    ("ingest", {"source": "apify/no-such-actor"}),
    lambda done: ("run_status", {"run_id": (done[4].data or {}).get("run_id", "")}),
    ("run_status", {"run_id": "no-such-run"}),
]


@pytest.fixture(scope="module")
def sessions(env: dict[str, str], chat: ChatStandin) -> dict[str, Session]:
    """The four servers, each started once over stdio (at the same time) and asked its module's calls."""
    chat_env = {**env, "OPENROUTER_API_KEY": SECRET, "SOPHIA_CHAT_BASE_URL": chat.base_url}
    return run_sessions(
        {
            DATA: Spec(DATA, env, DATA_CALLS, args=["--allow-writes"]),
            BI: Spec(BI, {**env, "SOPHIA_MCP_QUERY_TIMEOUT_S": "1"}, BI_CALLS),
            INFRA: Spec(INFRA, {**env, "SOPHIA_MCP_ALLOW_WRITES": "1"}, INFRA_CALLS),
            AI: Spec(AI, chat_env, AI_CALLS),
        }
    )


@pytest.fixture(scope="module")
def data_session(sessions: dict[str, Session]) -> tuple[Session, dict[str, Any]]:
    labels = ("search", "search_source", "bad_k", "sources", "ingest", "unknown", "status", "no_run")
    return sessions[DATA], answers(sessions[DATA], *labels)


def test_data_server_lists_its_tools_with_typed_parameters(data_session: tuple[Session, dict[str, Any]]) -> None:
    session, _ = data_session
    assert set(session.tools) == TOOLS[DATA]
    search = session.tools["search_documents"]
    assert search.description and "search" in search.description.lower()
    props = search.input_schema["properties"]
    assert props["query"]["type"] == "string" and props["k"]["default"] == 5 and "source" in props
    assert search.input_schema["required"] == ["query"]


def test_search_documents_returns_ranked_results_with_their_fields(data_session: tuple[Session, Any]) -> None:
    _, a = data_session
    results = a["search"].data["results"]
    assert not a["search"].is_error and len(results) == 3
    assert set(results[0]) == {"title", "url", "source", "score", "snippet", "document_id"}
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert any("gpu" in (r["title"] + r["snippet"]).lower() for r in results)
    assert {r["source"] for r in a["search_source"].data["results"]} == {WEB_SEARCH.source}
    assert a["bad_k"].is_error and "k must be between 1 and" in a["bad_k"].text


def test_list_sources_shows_each_stream_with_landing_counts_and_freshness(
    data_session: tuple[Session, Any], plane: DataPlane
) -> None:
    _, a = data_session
    sources = {s["source"]: s for s in a["sources"].data["sources"]}
    assert set(sources) == {s.source for s in STREAMS}
    for stream in STREAMS:
        entry = sources[stream.source]
        assert entry["land_job"] == stream.land_job_name and entry["raw_table"] == stream.table.name
        with plane.resources["warehouse"].session() as session:
            assert entry["raw_rows"] == session.row_count(stream.table) > 0
        assert entry["last_materialization"]["run_id"] and entry["freshness"] == "fresh"
    assert sources[WEB_SEARCH.source]["documents"] > 0


def test_ingest_launches_the_land_job_over_the_registered_source_runs(
    data_session: tuple[Session, Any], graphql: DagsterGraphQLStandin, plane: DataPlane
) -> None:
    _, a = data_session
    answer = a["ingest"].data
    assert not a["ingest"].is_error, a["ingest"].text
    launch = next(launch for launch in graphql.launches if launch.run_id == answer["run_id"])
    keys = plane.instance.get_dynamic_partitions(WEB_SEARCH.partitions_name)
    assert launch.job == WEB_SEARCH.land_job_name == answer["job"]
    assert launch.tags["dagster/asset_partition_range_start"] == keys[0]
    assert launch.tags["dagster/asset_partition_range_end"] == keys[-1]
    assert answer["url"].endswith(f"/runs/{answer['run_id']}") and answer["partitions"] == len(keys)
    assert a["unknown"].is_error and "unknown source" in a["unknown"].text


def test_run_status_follows_the_launched_run(data_session: tuple[Session, Any]) -> None:
    _, a = data_session
    assert a["status"].data["status"] == "QUEUED"
    assert a["no_run"].is_error and "RunNotFoundError" in a["no_run"].text and "Traceback" not in a["no_run"].text


def test_write_tools_are_refused_without_write_permission(graphql: DagsterGraphQLStandin) -> None:
    settings = McpSettings(graphql_url=graphql.graphql_url)  # no --allow-writes, no SOPHIA_MCP_ALLOW_WRITES
    launches = len(graphql.launches)
    (ingest,) = call_in_process(build_data_server(settings), [("ingest", {"source": WEB_SEARCH.source})])
    (scale,) = call_in_process(
        build_infra_server(settings), [("request_scaling", {"pool": BI_POOL.pool_name, "nodes": 1, "reason": "x"})]
    )
    for answer in (ingest, scale):
        assert answer.is_error and "needs write permission" in answer.text and "--allow-writes" in answer.text
    assert len(graphql.launches) == launches


BI_CALLS: list[Call] = [
    ("describe_tables", {}),
    ("query_warehouse", {"sql": "SELECT source, COUNT(*) AS n FROM documents GROUP BY source ORDER BY n DESC"}),
    ("query_warehouse", {"sql": "SELECT document_id FROM documents ORDER BY document_id", "limit": 3}),
    ("query_warehouse", {"sql": "DELETE FROM documents"}),
    ("query_warehouse", {"sql": "SELECT 1; DROP TABLE documents"}),
    ("query_warehouse", {"sql": "SELECT * FROM read_csv('/etc/passwd')"}),
    ("query_warehouse", {"sql": "SELECT COUNT(*) FROM range(1000000000) a, range(1000000000) b"}),
    ("query_warehouse", {"sql": f"SELECT '{SECRET}' AS planted"}),
    ("query_warehouse", {"sql": "SELECT 1", "limit": 5000}),
    ("vector_index_stats", {}),
    ("query_warehouse", {"sql": "SELECT COUNT(*) FROM documents"}),
]


@pytest.fixture(scope="module")
def bi_session(sessions: dict[str, Session]) -> tuple[Session, dict[str, Any]]:
    session = sessions[BI]
    labels = ("tables", "group", "limited", "delete", "multi", "file", "slow", "planted", "big_limit", "stats", "after")
    return session, answers(session, *labels)


def test_business_server_describes_and_queries_the_warehouse(bi_session: tuple[Session, Any], plane: DataPlane) -> None:
    session, a = bi_session
    assert set(session.tools) == TOOLS[BI]
    tables = {t["table"]: {c["name"] for c in t["columns"]} for t in a["tables"].data["tables"]}
    assert {"documents", "chunks", *(s.table.name for s in STREAMS)} <= set(tables)
    assert {"document_id", "source", "title"} <= tables["documents"]
    assert a["group"].data["columns"] == ["source", "n"] and a["group"].data["rows"][0][1] > 0
    assert a["limited"].data["row_count"] == 3 and a["limited"].data["truncated"] is True


def test_query_warehouse_refuses_writes_several_statements_and_file_reads(bi_session: tuple[Session, Any]) -> None:
    _, a = bi_session
    assert a["delete"].is_error and "only SELECT is allowed, got DELETE" in a["delete"].text
    assert a["multi"].is_error and "exactly one statement" in a["multi"].text
    assert a["file"].is_error and "read_csv" in a["file"].text
    assert a["big_limit"].is_error and "limit must be between 1 and 1000" in a["big_limit"].text
    assert not a["after"].is_error and a["after"].data["rows"][0][0] > 0  # the refused DELETE deleted nothing


def test_query_warehouse_stops_a_query_at_the_time_limit(bi_session: tuple[Session, Any]) -> None:
    _, a = bi_session
    assert a["slow"].is_error and "time limit" in a["slow"].text


def test_vector_index_stats_counts_per_namespace(bi_session: tuple[Session, Any], plane: DataPlane) -> None:
    _, a = bi_session
    stats = a["stats"].data
    store = plane.resources["vector_store"]
    assert stats["dimension"] == store.dimension and stats["namespaces"] == {store.table: store.count()} != {}


INFRA_CALLS: list[Call] = [
    ("infra_status", {}),
    ("plan_scaling", {"pool": DATA_POOL.pool_name, "nodes": DATA_POOL.max_nodes}),
    ("plan_scaling", {"pool": GPU_POOL.pool_name, "nodes": GPU_POOL.max_nodes + 3}),
    ("request_scaling", {"pool": GPU_POOL.pool_name, "nodes": GPU_POOL.max_nodes + 3, "reason": "too many"}),
    ("request_scaling", {"pool": GPU_POOL.pool_name, "nodes": GPU_POOL.max_nodes, "reason": "embedding backlog"}),
    ("request_scaling", {"pool": BI_POOL.pool_name, "nodes": BI_POOL.max_nodes, "reason": "quarter close"}),
    ("request_scaling", {"pool": "no-such-pool", "nodes": 1, "reason": "typo"}),
    ("request_scaling", {"pool": BI_POOL.pool_name, "nodes": BI_POOL.max_nodes, "reason": " "}),
]


@pytest.fixture(scope="module")
def infra_session(sessions: dict[str, Session]) -> tuple[Session, dict[str, Any]]:
    session = sessions[INFRA]
    labels = ("status", "plan", "plan_out", "out", "gpu", "cpu", "unknown", "no_reason")
    return session, answers(session, *labels)


def test_infra_status_shows_pools_from_the_specs_and_the_checks(infra_session: tuple[Session, Any]) -> None:
    session, a = infra_session
    assert set(session.tools) == TOOLS[INFRA]
    status = a["status"].data
    pools = {p["pool"]: p for p in status["pools"]}
    assert set(pools) == {GPU_POOL.pool_name, DATA_POOL.pool_name, BI_POOL.pool_name}
    assert (pools[GPU_POOL.pool_name]["min_nodes"], pools[GPU_POOL.pool_name]["max_nodes"]) == (
        GPU_POOL.min_nodes,
        GPU_POOL.max_nodes,
    )
    assert status["checks"]["lambda_gpu_pool"] == {"spec_valid": "never run", "no_drift": "never run"}
    assert "lambda_gpu_pool" in status["materializations"]


def test_plan_scaling_applies_the_policy_and_bounds_without_side_effects(
    infra_session: tuple[Session, Any], env: dict[str, str]
) -> None:
    _, a = infra_session
    plan = a["plan"].data
    assert plan["within_bounds"] and plan["policy"]["new_size"] == DATA_POOL.max_nodes
    assert "would launch scale_node_pool_job" in plan["request_scaling"]
    out = a["plan_out"].data
    assert not out["within_bounds"] and out["policy"]["new_size"] == GPU_POOL.max_nodes
    assert (
        "would be refused" in out["request_scaling"] and f"allowed {GPU_POOL.allowed_range}" in out["request_scaling"]
    )


def test_request_scaling_launches_bounded_audited_runs(
    infra_session: tuple[Session, Any], graphql: DagsterGraphQLStandin
) -> None:
    session, a = infra_session
    assert a["out"].is_error and f"allowed {GPU_POOL.allowed_range}" in a["out"].text
    gpu, cpu = a["gpu"].data, a["cpu"].data
    launches = {launch.run_id: launch for launch in graphql.launches}
    assert launches[gpu["run_id"]].job == SCALE_GPU_POOL_JOB and launches[gpu["run_id"]].asset_selection is None
    gpu_config = launches[gpu["run_id"]].run_config["ops"]["lambda_gpu_pool"]["config"]
    assert gpu_config["desired_nodes"] == GPU_POOL.max_nodes and gpu_config["reason"] == "embedding backlog"
    assert launches[cpu["run_id"]].job == SCALE_NODE_POOL_JOB
    assert launches[cpu["run_id"]].asset_selection == [["node_pool", BI_POOL.pool_name]]
    assert a["unknown"].is_error and GPU_POOL.pool_name in a["unknown"].text
    assert a["no_reason"].is_error and "give a reason" in a["no_reason"].text
    audit = [json.loads(line) for line in session.stderr.splitlines() if line.startswith('{"at"')]
    outcomes = [(line["pool"], line["outcome"]) for line in audit]
    assert outcomes == [
        (GPU_POOL.pool_name, "refused"),
        (GPU_POOL.pool_name, "launched"),
        (BI_POOL.pool_name, "launched"),
        ("no-such-pool", "refused"),
        (BI_POOL.pool_name, "refused"),
    ]
    assert next(line for line in audit if line["outcome"] == "launched")["run_id"] == gpu["run_id"]


AI_CALLS: list[Call] = [
    ("ask", {"question": "What do H100 GPUs cost per hour in the cloud?", "k": 3}),
    ("embed", {"texts": ["GPU pricing", "vector databases"]}),
    ("model_status", {}),
    ("embed", {"texts": []}),
]


@pytest.fixture(scope="module")
def ai_session(sessions: dict[str, Session]) -> tuple[Session, dict[str, Any]]:
    session = sessions[AI]
    return session, answers(session, "ask", "embed", "status", "embed_none")


def test_ask_answers_with_numbered_citations_from_the_chat_endpoint(
    ai_session: tuple[Session, Any], chat: ChatStandin
) -> None:
    session, a = ai_session
    assert set(session.tools) == TOOLS[AI]
    ask = a["ask"].data
    assert ask["mode"] == "generated" and ask["cited"] == [1] and "[1]" in ask["answer"]
    documents = [c["document_id"] for c in ask["citations"]]
    assert [c["n"] for c in ask["citations"]] == list(range(1, len(documents) + 1)) and len(set(documents)) == len(
        documents
    )
    assert all(c["title"] and c["url"] for c in ask["citations"])
    prompt = chat.requests[-1].json()["messages"][-1]["content"]
    assert f"[1] {ask['citations'][0]['title']} ({ask['citations'][0]['url']})" in prompt
    assert chat.requests[-1].headers["authorization"] == f"Bearer {SECRET}"


def test_ask_without_a_chat_key_returns_the_top_passages_and_says_so(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for provider in PROVIDERS:
        monkeypatch.delenv(provider.key_env, raising=False)
    default_search_resources.cache_clear()
    try:
        (extractive,) = call_in_process(build_ai_server(McpSettings()), [("ask", {"question": "H100 prices?", "k": 2})])
    finally:
        default_search_resources.cache_clear()
    assert SECRET not in extractive.text
    answer = extractive.data
    assert answer["mode"] == "extractive" and "No chat model is configured" in answer["answer"]
    assert 1 <= len(answer["citations"]) <= 2 and "[1]" in answer["answer"]


def test_embed_and_model_status_use_the_pipeline_embedder(ai_session: tuple[Session, Any], plane: DataPlane) -> None:
    _, a = ai_session
    embedder = plane.resources["embedder"]
    vectors = a["embed"].data["vectors"]
    assert a["embed"].data["model"] == embedder.model_id and len(vectors) == 2
    assert all(len(v) == embedder.dimension and abs(sum(x * x for x in v) - 1) < 1e-3 for v in vectors)
    status = a["status"].data
    assert status["embedder"]["model"] == embedder.model_id
    assert status["chat"]["configured"] is True and status["vector_store"]["count"] > 0
    assert a["embed_none"].is_error


def test_no_output_ever_contains_the_planted_secret(
    data_session: tuple[Session, Any],
    bi_session: tuple[Session, Any],
    infra_session: tuple[Session, Any],
    ai_session: tuple[Session, Any],
) -> None:
    for session, _ in (data_session, bi_session, infra_session, ai_session):
        assert SECRET not in session.everything()
    assert bi_session[1]["planted"].data["rows"] == [["***"]]  # selected in SQL: masked
    assert "(the key was ***)" in ai_session[1]["ask"].data["answer"]  # echoed by the model: masked


def test_errors_are_short_messages_never_tracebacks(
    data_session: tuple[Session, Any], bi_session: tuple[Session, Any], infra_session: tuple[Session, Any]
) -> None:
    errors = [a for s in (data_session, bi_session, infra_session) for a in s[1].values() if a.is_error]
    assert len(errors) >= 10
    for answer in errors:
        assert "Traceback" not in answer.text and len(answer.text) < 600 and "\n" not in answer.text
