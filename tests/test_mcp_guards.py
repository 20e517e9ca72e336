"""The MCP servers' safety pieces without a server: the read-only SQL rule, the read-only DuckDB connection and its
limits, redaction of configured secrets, short errors, settings, and the Dagster GraphQL wrapper's messages."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import duckdb
import pytest

from sophia_mcp.dagster_runs import DagsterRuns, DagsterUnavailable
from sophia_mcp.errors import Refused, guarded, short_message
from sophia_mcp.redaction import Redactor, secret_values
from sophia_mcp.settings import DEFAULT_GRAPHQL_URL, McpSettings, load_settings
from sophia_mcp.sql_guard import check_select
from sophia_mcp.warehouse_reader import DuckDBReader, check_limit
from tests.standins.dagster_graphql import DagsterGraphQLStandin

ALLOWED = [
    "SELECT 1",
    "select source, count(*) from documents group by source order by 2 desc",
    "WITH d AS (SELECT * FROM documents) SELECT title FROM d WHERE source IN (SELECT source FROM chunks)",
    "SELECT title FROM documents UNION ALL SELECT title FROM documents",
    "SELECT json_extract(payload, '$.url') FROM raw_tavily_search",
]
REFUSED = {
    "INSERT INTO documents VALUES (1)": "got INSERT",
    "UPDATE documents SET title = 'x'": "got UPDATE",
    "DELETE FROM documents": "got DELETE",
    "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE": "got MERGE",
    "CREATE TABLE x AS SELECT 1": "got CREATE",
    "DROP TABLE documents": "got DROP",
    "ALTER TABLE documents ADD COLUMN x INT": "got ALTER",
    "COPY documents TO 'out.csv'": "got COPY",
    "ATTACH 'other.duckdb' AS o": "got ATTACH",
    "PRAGMA database_list": "got PRAGMA",
    "SET threads = 1": "got SET",
    "INSTALL httpfs": "got INSTALL",
    "LOAD httpfs": "got LOAD",
    "SELECT 1; SELECT 2": "exactly one statement allowed, got 2",
    "SELECT * INTO copy FROM documents": "found INTO",
    "SELECT * FROM read_csv('/etc/passwd')": "read_csv()",
    "SELECT * FROM read_csv_auto('x.csv')": "read_csv_auto()",
    "SELECT * FROM read_parquet('s3://bucket/x.parquet')": "read_parquet()",
    "SELECT * FROM read_json('x.json')": "read_json()",
    "SELECT * FROM glob('/home/*')": "glob()",
    "SELECT getenv('SNOWFLAKE_PASSWORD')": "getenv()",
    "SELECT * FROM query('DELETE FROM documents')": "query()",
    "SELECT * FROM (SELECT * FROM read_text('/etc/hosts')) t": "read_text()",
    "SELECT * FROM 'data.csv'": "names a file or stage",
    "": "empty SQL",
    "SELEC 1": "does not parse",
}


@pytest.mark.parametrize("sql", ALLOWED)
def test_one_select_is_allowed(sql: str) -> None:
    check_select(sql, "duckdb")


@pytest.mark.parametrize(("sql", "reason"), REFUSED.items())
def test_everything_else_is_refused_with_the_reason(sql: str, reason: str) -> None:
    with pytest.raises(Refused, match="refused") as refused:
        check_select(sql, "duckdb")
    assert reason in str(refused.value)


def test_snowflake_stages_and_system_functions_are_refused() -> None:
    with pytest.raises(Refused, match="file or stage"):
        check_select("SELECT * FROM @my_stage", "snowflake")
    with pytest.raises(Refused, match="system"):
        check_select("SELECT SYSTEM$GET_PREDECESSOR_RETURN_VALUE()", "snowflake")


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as con:
        con.execute("CREATE TABLE t AS SELECT range AS n FROM range(50)")
    (tmp_path / "secret.csv").write_text("a\n1\n")
    return path


def test_duckdb_reader_is_read_only_even_past_the_sql_rule(warehouse: str, tmp_path: Path) -> None:
    reader = DuckDBReader(warehouse)
    with pytest.raises(Refused, match="read-only"):
        reader.query("DELETE FROM t", 10, 5)
    with pytest.raises(Refused, match="file system operations are disabled"):
        reader.query(f"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')", 10, 5)
    assert reader.query("SELECT COUNT(*) FROM t", 10, 5).rows == [[50]]


def test_duckdb_reader_limits_rows_and_time(warehouse: str) -> None:
    reader = DuckDBReader(warehouse)
    result = reader.query("SELECT n FROM t ORDER BY n", 7, 5)
    assert result.rows == [[n] for n in range(7)] and result.truncated
    assert not reader.query("SELECT n FROM t", 50, 5).truncated
    with pytest.raises(Refused, match=r"0\.2 s time limit"):
        reader.query("SELECT COUNT(*) FROM range(1000000000) a, range(1000000000) b", 1, 0.2)
    with pytest.raises(Refused, match="between 1 and 1000"):
        check_limit(0)


def test_duckdb_reader_names_a_missing_warehouse(tmp_path: Path) -> None:
    with pytest.raises(Refused, match=r"no warehouse at .*demo"):
        DuckDBReader(str(tmp_path / "none.duckdb")).query("SELECT 1", 1, 1)


def test_redaction_knows_the_configured_secret_values() -> None:
    env = {
        "APIFY_TOKEN": "apify-token-abcdef",
        "SNOWFLAKE_PASSWORD": "pw-0123456789",
        "MCP_AUTH_TOKEN": "bearer-xyz-123456",
        "SOPHIA_MCP_ALLOW_WRITES": "1",  # not a secret name
        "PINECONE_API_KEY": "short",  # too short to be a credential: left alone
        "SNOWFLAKE_DATABASE": "SOPHIA_ANALYTICS",  # not a secret
    }
    assert set(secret_values(env)) == {"apify-token-abcdef", "pw-0123456789", "bearer-xyz-123456"}
    redact = Redactor.from_env(env)
    nested = {"a": ["x pw-0123456789 y", {"apify-token-abcdef": 3}], "n": 1, "db": "SOPHIA_ANALYTICS"}
    assert redact(nested) == {"a": ["x *** y", {"***": 3}], "n": 1, "db": "SOPHIA_ANALYTICS"}


def test_guarded_tools_answer_one_redacted_line() -> None:
    redact = Redactor(["s3cr3t-value-1"])

    def boom() -> None:
        raise RuntimeError("connect failed with key s3cr3t-value-1\n  at line 2")

    def fine() -> dict[str, str]:
        return {"echo": "s3cr3t-value-1"}

    with pytest.raises(Exception, match=r"^RuntimeError: connect failed with key \*\*\*$"):
        guarded(boom, redact)()
    assert guarded(fine, redact)() == {"echo": "***"}
    assert guarded(fine, redact).__name__ == "fine"
    assert short_message(Refused("refused: no")) == "refused: no"


def test_settings_from_flags_and_environment() -> None:
    env = {
        "MCP_AUTH_TOKEN": "tok-123456789",
        "SOPHIA_MCP_ALLOW_WRITES": "1",
        "DAGSTER_GRAPHQL_URL": "http://d:3000/graphql",
    }
    http = load_settings("x", ["--transport", "http", "--host", "0.0.0.0", "--port", "8080"], env)
    assert (http.transport, http.host, http.port, http.allow_writes) == ("http", "0.0.0.0", 8080, True)
    assert http.auth_token == "tok-123456789" and http.dagster_ui_url == "http://d:3000"
    plain = load_settings("x", [], {})
    assert plain.transport == "stdio" and not plain.allow_writes and plain.graphql_url == DEFAULT_GRAPHQL_URL
    assert load_settings("x", ["--allow-writes"], {}).allow_writes


def test_dagster_runs_report_graphql_errors_in_one_line() -> None:
    with DagsterGraphQLStandin(jobs=("land_x",)) as gql:
        runs = DagsterRuns(McpSettings(graphql_url=gql.graphql_url))
        with pytest.raises(
            DagsterUnavailable, match=r"launching nope at .* JobNotFoundError: No jobs with the name `nope`"
        ) as missing:
            runs.launch("nope")
        assert "\n" not in str(missing.value) and "mutation" not in str(missing.value)
        run = runs.launch("land_x", tags={"k": "v"})
        assert runs.status(run.run_id) == "QUEUED" and run.url.endswith(f"/runs/{run.run_id}")
    down = DagsterRuns(McpSettings(graphql_url="http://127.0.0.1:9/graphql"))
    with pytest.raises(DagsterUnavailable, match=r"127\.0\.0\.1:9"):
        down.status("r")


def test_ask_cites_each_document_once_with_all_its_passages() -> None:
    from sophia_ai_intelligence_mcp_server.server import by_document

    def passage(doc: str, text: str) -> dict[str, str]:
        return {"document_id": doc, "url": f"https://x/{doc}", "title": doc, "text": text}

    merged = by_document([passage("a", "one"), passage("b", "two"), passage("a", "three")])
    assert [d["document_id"] for d in merged] == ["a", "b"] and merged[0]["text"] == "one\n…\nthree"


def test_snowflake_reader_connects_as_the_read_only_role_with_a_statement_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fakesnow
    import snowflake.connector
    from dagster_snowflake import SnowflakeResource

    from resources.registry import resolve
    from resources.snowflake_warehouse import SnowflakeWarehouse
    from sophia_mcp.warehouse_reader import READONLY_ROLE_ENV, SnowflakeReader, build_reader

    resource = SnowflakeResource(account="acc", user="u", password="pw-0123456789", database="DB", schema="S",
                                 warehouse="wh", role="PIPELINE")  # fmt: skip
    monkeypatch.delenv(READONLY_ROLE_ENV, raising=False)
    with pytest.raises(Refused, match=READONLY_ROLE_ENV):
        build_reader(SnowflakeWarehouse(snowflake=resource))
    with fakesnow.patch():
        with resource.get_connection() as conn:
            setup = ("CREATE DATABASE IF NOT EXISTS DB", "CREATE SCHEMA IF NOT EXISTS DB.S",
                     "CREATE TABLE DB.S.t (n INT)", "INSERT INTO DB.S.t VALUES (1), (2), (3)")  # fmt: skip
            for sql in setup:
                conn.cursor().execute(sql)
        seen: list[dict] = []
        connect = snowflake.connector.connect  # fakesnow's, restored before fakesnow restores the real one
        spy = mock.patch.object(snowflake.connector, "connect", lambda **kw: seen.append(kw) or connect(**kw))
        monkeypatch.setenv(READONLY_ROLE_ENV, "MCP_READER")
        with spy:
            reader = build_reader(SnowflakeWarehouse(snowflake=resource))
            assert isinstance(reader, SnowflakeReader) and reader.dialect == "snowflake"
            result = reader.query("SELECT n FROM t ORDER BY n", 2, 7)
            assert result.rows == [[1], [2]] and result.truncated
            assert [t["table"] for t in reader.tables()] == ["t"]
    assert seen and all(kw["role"] == "MCP_READER" for kw in seen)
    assert seen[0]["session_parameters"]["STATEMENT_TIMEOUT_IN_SECONDS"] == 7
    assert resolve(resource).role == "PIPELINE"  # the pipeline's resource is untouched
    assert snowflake.connector.connect is not connect  # nothing left patched for later tests
