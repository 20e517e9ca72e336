"""Read-only access to the warehouse for the business server: DuckDB opened read-only, Snowflake as a read-only role.

Every query has already passed `sql_guard.check_select`; here it also runs on a connection that cannot write:
DuckDB `read_only=True` with external access (files, URLs, extensions) disabled, interrupted after the time
limit; Snowflake with the role in `SNOWFLAKE_READONLY_ROLE` (required: without it the tool refuses) and
`STATEMENT_TIMEOUT_IN_SECONDS`. At most `limit` rows are fetched.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sophia_mcp.errors import Refused

QUERY_TIMEOUT_ENV = "SOPHIA_MCP_QUERY_TIMEOUT_S"
DEFAULT_QUERY_TIMEOUT_S = 30.0
READONLY_ROLE_ENV = "SNOWFLAKE_READONLY_ROLE"
MAX_ROWS = 1000
MAX_CELL_CHARS = 2000


def query_timeout_s() -> float:
    return float(os.environ.get(QUERY_TIMEOUT_ENV) or DEFAULT_QUERY_TIMEOUT_S)


def plain(value: Any) -> Any:
    """A JSON-friendly cell: numbers and strings as they are, times as ISO text, long text cut."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool  # more rows than the limit existed

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "row_count": len(self.rows), "truncated": self.truncated}


def _fetch(cursor: Any, limit: int) -> QueryResult:
    columns = [d[0] for d in cursor.description or ()]
    rows = cursor.fetchmany(limit + 1)
    return QueryResult(columns, [[plain(v) for v in row] for row in rows[:limit]], len(rows) > limit)


class ReadOnlyWarehouse(ABC):
    """A warehouse connection that can only read."""

    dialect: str

    @abstractmethod
    def query(self, sql: str, limit: int, timeout_s: float) -> QueryResult: ...

    @abstractmethod
    def describe(self) -> str: ...

    def tables(self) -> list[dict[str, Any]]:
        """Every table of the warehouse's schema with its columns (name and type), from information_schema."""
        result = self.query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
            limit=100_000,
            timeout_s=query_timeout_s(),
        )
        tables: dict[str, list[dict[str, str]]] = {}
        for table, column, kind in result.rows:
            tables.setdefault(str(table).lower(), []).append({"name": str(column).lower(), "type": str(kind)})
        return [{"table": name, "columns": columns} for name, columns in tables.items()]


class DuckDBReader(ReadOnlyWarehouse):
    dialect = "duckdb"

    def __init__(self, database: str) -> None:
        self.database = database

    def describe(self) -> str:
        return f"duckdb:{self.database} (read-only)"

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import duckdb

        if not Path(self.database).exists():
            raise Refused(
                f"no warehouse at {self.database}: land the data first (`bash scripts/demo.sh` or "
                "`python -m sophia_pipelines.land`)"
            )
        try:
            con = duckdb.connect(self.database, read_only=True, config={"enable_external_access": False})
        except duckdb.Error as exc:
            raise Refused(f"cannot open {self.database} read-only (is a run writing to it?): {exc}") from None
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, limit: int, timeout_s: float) -> QueryResult:
        import duckdb

        with self._connect() as con:
            timer = threading.Timer(timeout_s, con.interrupt)
            timer.start()
            try:
                return _fetch(con.execute(sql), limit)
            except duckdb.InterruptException:
                raise Refused(f"stopped: the query ran longer than the {timeout_s:g} s time limit") from None
            except duckdb.Error as exc:
                raise Refused(f"query failed: {str(exc).splitlines()[0]}") from None
            finally:
                timer.cancel()


class SnowflakeReader(ReadOnlyWarehouse):
    dialect = "snowflake"

    def __init__(self, resource: Any, role: str) -> None:
        self.resource = resource  # a resolved dagster_snowflake.SnowflakeResource
        self.role = role

    def describe(self) -> str:
        return f"snowflake:{getattr(self.resource, 'database', '?')} as role {self.role}"

    def query(self, sql: str, limit: int, timeout_s: float) -> QueryResult:
        from dagster_snowflake import SnowflakeResource

        config = self.resource.model_dump(by_alias=True, exclude_none=True)
        extra = dict(config.get("additional_snowflake_connection_args") or {})
        params = {**extra.get("session_parameters", {}), "STATEMENT_TIMEOUT_IN_SECONDS": max(1, round(timeout_s))}
        config.update(role=self.role, additional_snowflake_connection_args={**extra, "session_parameters": params})
        try:
            with SnowflakeResource(**config).get_connection() as conn:
                cursor = conn.cursor()
                try:
                    cursor.execute(sql)
                    return _fetch(cursor, limit)
                finally:
                    cursor.close()
        except Refused:
            raise
        except Exception as exc:  # the connector's errors carry the SQL state and message, not credentials
            raise Refused(f"query failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def build_reader(warehouse: Any) -> ReadOnlyWarehouse:
    """The read-only reader for a warehouse resource from `resources.registry` (DuckDB or Snowflake)."""
    from resources.registry import resolve
    from resources.warehouse import DuckDBWarehouse

    if isinstance(warehouse, DuckDBWarehouse):
        return DuckDBReader(warehouse.duckdb.database)
    role = os.environ.get(READONLY_ROLE_ENV)
    if not role:
        raise Refused(f"refused: set {READONLY_ROLE_ENV} to a read-only Snowflake role to query the warehouse")
    return SnowflakeReader(resolve(warehouse).snowflake, role)


def check_limit(limit: int, maximum: int = MAX_ROWS) -> int:
    if isinstance(limit, bool) or not 1 <= limit <= maximum:
        raise Refused(f"refused: limit must be between 1 and {maximum}, got {limit}")
    return limit
