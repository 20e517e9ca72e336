"""The read-only rule for `query_warehouse`: exactly one SELECT, parsed with sqlglot, else refused with the reason.

Refused: anything but one query (INSERT/UPDATE/DELETE/MERGE, DDL, COPY, ATTACH, PRAGMA, SET, CALL, INSTALL/LOAD,
EXPLAIN, several statements), `SELECT ... INTO`, functions that read files, URLs, other databases or the
environment (read_csv, read_parquet, read_json, glob, query, getenv, ...), and tables named like files or stages
('data.csv', @stage). The connection is read-only as well (`sophia_mcp.warehouse_reader`): this rule is the first
line, not the only one.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from sophia_mcp.errors import Refused

# Lower-case function names (table functions included) that read outside the database or run other SQL.
FORBIDDEN_FUNCTIONS = frozenset(
    {
        "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "parquet_metadata", "parquet_schema",
        "read_json", "read_json_auto", "read_json_objects", "read_json_objects_auto", "read_ndjson",
        "read_ndjson_auto", "read_ndjson_objects", "read_text", "read_blob", "read_xlsx", "sniff_csv", "glob",
        "st_read", "iceberg_scan", "delta_scan", "sqlite_scan", "postgres_scan", "mysql_scan", "query",
        "query_table", "getenv", "duckdb_secrets", "duckdb_settings", "current_setting", "load_extension",
        "csv_scan", "json_scan", "arrow_scan", "pandas_scan", "infer_schema",
    }
)  # fmt: skip
FORBIDDEN_PREFIXES = ("system$",)  # Snowflake's SYSTEM$ functions (stages, tasks, pipes, ...)
_FILE_LIKE_TABLE = re.compile(r"[./\\@*:~]|\s")  # a "table" that DuckDB would read as a file or Snowflake as a stage
WRITES = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Copy, exp.Attach,
    exp.Detach, exp.Pragma, exp.Set, exp.Command, exp.TruncateTable, exp.Into, exp.Use, exp.Transaction,
    exp.Commit, exp.Rollback, exp.Install, exp.Describe,
)  # fmt: skip
QUERY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)


def function_name(node: exp.Func) -> str:
    """The SQL name of a function call, lower case (`read_csv`, `glob`, ...)."""
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def check_select(sql: str, dialect: str) -> exp.Expression:
    """The parsed query when `sql` is exactly one read-only SELECT in `dialect`; else `Refused` with the reason."""
    if not sql.strip():
        raise Refused("refused: empty SQL")
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=dialect) if s is not None]
    except ParseError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise Refused(f"refused: the SQL does not parse ({first})") from None
    if len(statements) != 1:
        raise Refused(f"refused: exactly one statement allowed, got {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, QUERY_ROOTS):
        kind = tree.key.upper() if not isinstance(tree, exp.Command) else str(tree.this).upper()
        raise Refused(f"refused: only SELECT is allowed, got {kind}")
    for node in tree.walk():
        if isinstance(node, WRITES):
            raise Refused(f"refused: only SELECT is allowed, found {node.key.upper()} inside the query")
        if isinstance(node, exp.Func):
            name = function_name(node)
            if name in FORBIDDEN_FUNCTIONS or name.startswith(FORBIDDEN_PREFIXES):
                raise Refused(f"refused: function {name}() reads outside the warehouse and is not allowed")
        table_named = isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier | exp.Var)
        if table_named and _FILE_LIKE_TABLE.search(node.name):
            raise Refused(f"refused: {node.name!r} names a file or stage, not a table")
    return tree
