"""The warehouse interface the data assets load through, and its DuckDB (local) implementation.

Assets never write dialect-specific SQL for loading: they hand a DataFrame and a `TableSpec` to
`WarehouseSession.merge` / `insert` / `delete_keys`, and read with portable `query` SQL (qmark `?` params).
`DuckDBWarehouse` wraps dagster-duckdb's `DuckDBResource`; `SnowflakeWarehouse` (resources/snowflake_warehouse.py)
wraps dagster-snowflake's `SnowflakeResource` behind the same session interface.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from resources.tables import ColumnType, TableSpec

_temp_names = itertools.count()


@dataclass(frozen=True, slots=True)
class MergeCounts:
    inserted: int = 0
    updated: int = 0

    @property
    def changed(self) -> int:
        return self.inserted + self.updated


def check_frame(spec: TableSpec, df: pd.DataFrame) -> pd.DataFrame:
    """`df` with exactly the spec's columns, in order, timestamps as UTC; fails clearly on missing columns or
    duplicate keys. Every backend loads through this, so callers may pass naive-typed or empty frames."""
    missing = [c for c in spec.column_names if c not in df.columns]
    if missing:
        raise ValueError(f"{spec.name}: frame is missing columns {missing}")
    out = df[spec.column_names].copy()
    if out.duplicated(list(spec.key)).any():
        raise ValueError(f"{spec.name}: frame has duplicate keys {list(spec.key)}; deduplicate before loading")
    for column in spec.columns:
        if column.type == "timestamp":
            out[column.name] = pd.to_datetime(out[column.name], utc=True)
    return out


def merge_sql(
    spec: TableSpec, source: str, compare: Sequence[str], guard: str | None, wrap_json: str | None = None
) -> str:
    """Portable MERGE: insert new keys; update a matched row only when a `compare` column changed (and `guard`)."""

    def value(col: str) -> str:
        return f"{wrap_json}(src.{col})" if wrap_json and col in spec.json_columns else f"src.{col}"

    on = " AND ".join(f"tgt.{k} = src.{k}" for k in spec.key)
    changed = " OR ".join(f"tgt.{c} IS DISTINCT FROM src.{c}" for c in compare)
    condition = f"({changed})" + (f" AND ({guard})" if guard else "")
    updates = ", ".join(f"{c} = {value(c)}" for c in spec.column_names if c not in spec.key)
    cols = ", ".join(spec.column_names)
    vals = ", ".join(value(c) for c in spec.column_names)
    return (
        f"MERGE INTO {spec.name} AS tgt USING {source} AS src ON {on} "
        f"WHEN MATCHED AND {condition} THEN UPDATE SET {updates} "
        f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({vals})"
    )


class WarehouseSession(ABC):
    """One connection's worth of warehouse work."""

    dialect: str

    @abstractmethod
    def ensure_table(self, spec: TableSpec) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame: ...

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def merge(self, spec: TableSpec, df: pd.DataFrame, compare: Sequence[str], guard: str | None = None) -> MergeCounts:
        """Upsert `df` by the spec's key. `guard` is extra SQL over `tgt`/`src` that must hold to update."""

    @abstractmethod
    def insert(self, spec: TableSpec, df: pd.DataFrame) -> int: ...

    @abstractmethod
    def key_table(self, values: Sequence[str]) -> AbstractContextManager[str]:
        """A temporary one-column (`k`) table holding `values`, for bulk `IN (SELECT k FROM ...)` statements."""

    @abstractmethod
    def execute_count(self, sql: str) -> int:
        """Run a DELETE/UPDATE and return how many rows it touched."""

    def commit_progress(self) -> None:
        """Commit the work so far and go on in a new transaction, so a stage's finished batches are kept (and not
        held as uncommitted state) whatever happens later; a failure then rolls back only what follows. Stages
        call it between batches that are complete and consistent on their own. Default: nothing (one transaction)."""
        return None

    def delete_keys(self, spec: TableSpec, column: str, values: Sequence[str]) -> int:
        """Delete rows whose `column` is in `values`."""
        if not values:
            return 0
        with self.key_table(values) as keys:
            return self.execute_count(f"DELETE FROM {spec.name} WHERE {column} IN (SELECT k FROM {keys})")

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        df = self.query(sql, params)
        return None if df.empty else df.iat[0, 0]

    def ensure_tables(self, specs: Sequence[TableSpec]) -> None:
        for spec in specs:
            self.ensure_table(spec)

    def row_count(self, spec: TableSpec) -> int:
        return int(self.scalar(f"SELECT COUNT(*) FROM {spec.name}"))


class Warehouse(dg.ConfigurableResource):
    """Base class for warehouse backends; assets depend on this type only."""

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:  # pragma: no cover - interface
        raise NotImplementedError
        yield

    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep one connection open for the sessions opened inside the block (where a backend's
        connections are costly to open). The default holds nothing."""
        yield

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


DUCKDB_TYPES: dict[ColumnType, str] = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "timestamp": "TIMESTAMPTZ",
    "json": "JSON",
}


class DuckDBSession(WarehouseSession):
    dialect = "duckdb"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @contextmanager
    def _registered(self, df: pd.DataFrame) -> Iterator[str]:
        name = f"_incoming_{next(_temp_names)}"
        self._conn.register(name, df)
        try:
            yield name
        finally:
            self._conn.unregister(name)

    def ensure_table(self, spec: TableSpec) -> None:
        cols = ", ".join(f"{c.name} {DUCKDB_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in spec.columns)
        self._conn.execute(f"CREATE TABLE IF NOT EXISTS {spec.name} ({cols}, PRIMARY KEY ({', '.join(spec.key)}))")

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        return self._conn.execute(sql, list(params)).df()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, list(params))

    def merge(self, spec: TableSpec, df: pd.DataFrame, compare: Sequence[str], guard: str | None = None) -> MergeCounts:
        frame = check_frame(spec, df)
        if frame.empty:
            return MergeCounts()
        with self._registered(frame) as src:
            rows = self._conn.execute(f"{merge_sql(spec, src, compare, guard)} RETURNING merge_action").fetchall()
        actions = [r[0] for r in rows]
        return MergeCounts(inserted=actions.count("INSERT"), updated=actions.count("UPDATE"))

    def insert(self, spec: TableSpec, df: pd.DataFrame) -> int:
        frame = check_frame(spec, df)
        if frame.empty:
            return 0
        with self._registered(frame) as src:
            cols = ", ".join(spec.column_names)
            self._conn.execute(f"INSERT INTO {spec.name} ({cols}) SELECT {cols} FROM {src}")
        return len(frame)

    @contextmanager
    def key_table(self, values: Sequence[str]) -> Iterator[str]:
        keys = pd.DataFrame({"k": pd.Series(list(dict.fromkeys(values)), dtype="string")})
        with self._registered(keys) as name:
            yield name

    def execute_count(self, sql: str) -> int:
        return len(self._conn.execute(f"{sql} RETURNING 1").fetchall())

    def commit_progress(self) -> None:
        # A DuckDB transaction keeps its uncommitted rows in memory: one transaction per stage grew with the input
        # (it grew with the stage's input).
        self._conn.execute("COMMIT")
        self._conn.execute("BEGIN TRANSACTION")


class DuckDBWarehouse(Warehouse):
    """Local warehouse: one DuckDB file, opened through dagster-duckdb.

    Each session opens and closes the file, except inside `held()`, where sessions and streams are cursors on
    one connection (cheap, thread-safe). The file is never held across steps: runs in other processes take turns
    on it through the data-plane pool, one step at a time. `memory_limit` bounds DuckDB's buffer pool (sorts and
    joins spill to `<database>.tmp` beyond it), so the process's memory does not grow with the tables.
    """

    duckdb: DuckDBResource
    memory_limit: str = Field(default="256MB", description="DuckDB memory_limit: its buffer pool and operators")
    _held: Any = PrivateAttr(default=None)

    @contextmanager
    def held(self) -> Iterator[None]:
        if self._held is not None:  # already held by an enclosing block
            yield
            return
        with self._connection() as conn:
            self._held = conn
            try:
                yield
            finally:
                self._held = None

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A connection of its own: a cursor on the held connection, or the file opened for this call."""
        if self._held is not None:
            with self._held.cursor() as cursor:  # closed on exit; the held connection stays open
                yield cursor
            return
        with self.duckdb.get_connection() as conn:
            conn.execute(f"SET memory_limit = '{self.memory_limit}'")
            yield conn

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:
        with self._connection() as conn:
            conn.execute("BEGIN TRANSACTION")
            try:
                yield DuckDBSession(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def describe(self) -> str:
        return f"duckdb:{self.duckdb.database}"
