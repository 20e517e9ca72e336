"""The business intelligence tools: `query_warehouse` (read-only SQL), `describe_tables`, `vector_index_stats`.

The warehouse and vector store are the current profile's (`resources.registry`): DuckDB files under
SOPHIA_DATA_DIR locally, Snowflake and Pinecone in production. SQL passes `sophia_mcp.sql_guard` and runs on a
read-only connection with a row and time limit (`sophia_mcp.warehouse_reader`).
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from sophia_mcp.redaction import Redactor
from sophia_mcp.server import add_tools, create_server
from sophia_mcp.settings import McpSettings
from sophia_mcp.sql_guard import check_select
from sophia_mcp.warehouse_reader import MAX_ROWS, ReadOnlyWarehouse, build_reader, check_limit, query_timeout_s

NAME = "sophia_business_intelligence_mcp_server"
DEFAULT_LIMIT = 200
INSTRUCTIONS = (
    "Read-only analytics over Sophia's warehouse (raw source tables, documents, chunks, the vector ledger). "
    "Call describe_tables first, then query_warehouse with one SELECT; vector_index_stats sizes the vector index."
)


def _reader() -> ReadOnlyWarehouse:
    from resources.profile import current_profile
    from resources.registry import build_resources

    return build_reader(build_resources(current_profile())["warehouse"])


def build_server(settings: McpSettings) -> MCPServer:
    """The business intelligence server with its three tools."""

    def query_warehouse(sql: str, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """Run ONE read-only SELECT on the warehouse and return its columns and rows.

        Anything else (INSERT/UPDATE/DELETE, DDL, COPY, ATTACH, PRAGMA, SET, several statements, functions that
        read files such as read_csv/read_parquet/glob) is refused with the reason. At most `limit` rows
        (1-1000, default 200) come back (`truncated` says whether there were more); a query running longer
        than the time limit is stopped.
        """
        reader = _reader()
        check_select(sql, reader.dialect)
        result = reader.query(sql, check_limit(limit, MAX_ROWS), query_timeout_s())
        return {"warehouse": reader.describe(), "limit": limit, **result.as_dict()}

    def describe_tables() -> dict[str, Any]:
        """Every table in the warehouse with its columns and types (what query_warehouse can read)."""
        reader = _reader()
        return {"warehouse": reader.describe(), "dialect": reader.dialect, "tables": reader.tables()}

    def vector_index_stats() -> dict[str, Any]:
        """The vector index: backend, vector count per namespace, dimension and embedding model."""
        from sophia_mcp.documents import search_resources

        embedder, store = search_resources()
        described = store.describe()
        namespace = described.get("namespace") or described.get("table") or "default"
        return {
            "backend": described.get("backend"),
            "dimension": described.get("index_dimension", described.get("dimension")),
            "namespaces": {namespace: described.get("count")},
            "total_vectors": described.get("index_total_count", described.get("count")),
            "embedding_model": embedder.model_id,
        }

    server = create_server(NAME, INSTRUCTIONS)
    add_tools(server, Redactor.from_env(), query_warehouse, describe_tables, vector_index_stats)
    return server
