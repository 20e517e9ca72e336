"""The production warehouse: Snowflake, through dagster-snowflake's `SnowflakeResource`.

Same `WarehouseSession` interface as DuckDB, so the stages run unchanged. Bulk loads go through
`write_pandas` into a TEMPORARY staging table, then one portable MERGE (or INSERT ... SELECT) into the target.

Transactions: the session turns AUTOCOMMIT off, so DML opens a transaction that is committed when the session
ends and rolled back on error. Snowflake, however, commits any open transaction before every DDL statement, and
each staging step is DDL (`CREATE TEMPORARY TABLE`, and `write_pandas`'s `CREATE TEMP STAGE`). So a rollback undoes
the writes since the last staging step (the last merge/insert/key_table), not the whole session; the stages are
idempotent, so a re-run completes an interrupted one. `ensure_table` issues DDL only for a table that is missing.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import snowflake.connector.pandas_tools as sf_pandas_tools
from dagster_snowflake import SnowflakeResource

from resources.tables import ColumnType, TableSpec
from resources.warehouse import MergeCounts, Warehouse, WarehouseSession, check_frame, merge_sql

SNOWFLAKE_TYPES: dict[ColumnType, str] = {
    "text": "VARCHAR",
    "int": "NUMBER(38,0)",
    "float": "FLOAT",
    "timestamp": "TIMESTAMP_TZ",
    "json": "VARIANT",
}
# Staging columns: JSON arrives as text and is parsed (PARSE_JSON) on the way into the target.
STAGING_TYPES: dict[ColumnType, str] = {**SNOWFLAKE_TYPES, "json": "VARCHAR"}

TABLE_EXISTS_SQL = (
    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = CURRENT_SCHEMA() AND table_name = ?"
)

_temp_names = itertools.count()


def _temp_name(kind: str) -> str:
    return f"_SOPHIA_{kind}_{next(_temp_names)}"


def _bind(value: Any) -> Any:
    """A qmark parameter the connector can bind: numpy scalars as Python, datetimes as ISO-8601 UTC text.

    The connector binds every `datetime` as TIMESTAMP_NTZ (dropping the zone); ISO text with an explicit offset
    is cast implicitly, and exactly, by Snowflake (and by DuckDB under fakesnow).
    """
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if value is pd.NaT:
        return None
    if isinstance(value, datetime):  # includes pd.Timestamp
        ts = pd.Timestamp(value)
        ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
        return ts.isoformat()
    return value


def _utc_column(col: pd.Series) -> pd.Series:
    """Timezone-aware timestamps (any offset) as UTC; other columns unchanged."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_convert(UTC)
    if col.dtype == object:
        values = col.dropna()
        if len(values) and all(isinstance(v, datetime) and v.tzinfo is not None for v in values):
            return pd.to_datetime(col, utc=True)
        if len(values) and all(isinstance(v, Decimal) for v in values):
            return col.astype("float64")
    return col


def _json_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and np.isnan(value):
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _staging_frame(spec: TableSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The (already `check_frame`d, UTC-timestamped) frame with write_pandas-friendly dtypes: nullable ints,
    JSON as text."""
    out = frame.reset_index(drop=True).copy()
    for column in spec.columns:
        values = out[column.name]
        if column.type == "int":
            out[column.name] = pd.to_numeric(values).astype("Int64")
        elif column.type == "float":
            out[column.name] = pd.to_numeric(values).astype("float64")
        elif column.type == "json":
            out[column.name] = values.map(_json_text).astype(object)
    return out


def _dml_count(cursor: Any) -> int:
    """Rows touched by the DML just run: Snowflake's result row ("number of rows deleted", ...) or rowcount."""
    names = [d[0].lower() for d in cursor.description or ()]
    row = cursor.fetchone() if names else None
    counted = [
        i
        for i, n in enumerate(names)
        if n in ("number of rows deleted", "number of rows updated") or n.startswith("number of rows inserted")
    ]
    if row is not None and counted:
        return sum(int(row[i] or 0) for i in counted)
    return max(int(cursor.rowcount or 0), 0)


class SnowflakeSession(WarehouseSession):
    """One Snowflake connection's worth of warehouse work (qmark parameters, AUTOCOMMIT off)."""

    dialect = "snowflake"

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._ensured: set[str] = set()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = self._conn.cursor()
        cursor.execute(sql, [_bind(p) for p in params] if params else None)
        return cursor

    def ensure_table(self, spec: TableSpec) -> None:
        """`CREATE TABLE IF NOT EXISTS`, only when the table is missing (DDL would commit the open transaction)."""
        if spec.name in self._ensured:
            return
        if not int(self.scalar(TABLE_EXISTS_SQL, [spec.name.upper()]) or 0):
            cols = ", ".join(
                f"{c.name} {SNOWFLAKE_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in spec.columns
            )
            self._run(f"CREATE TABLE IF NOT EXISTS {spec.name} ({cols}, PRIMARY KEY ({', '.join(spec.key)}))")
        self._ensured.add(spec.name)

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Rows as a DataFrame: lowercase column names, UTC timestamps, DECIMAL as float (like DuckDB's `.df()`)."""
        cursor = self._run(sql, params)
        names = [d[0].lower() for d in cursor.description or ()]
        df = pd.DataFrame.from_records(cursor.fetchall(), columns=names)
        for i in range(df.shape[1]):
            column = df.iloc[:, i]
            converted = _utc_column(column)
            if converted is not column:
                df.isetitem(i, converted)
        return df

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._run(sql, params)

    @contextmanager
    def _staged(self, spec: TableSpec, frame: pd.DataFrame) -> Iterator[str]:
        """A TEMPORARY table shaped like `spec` (JSON as text) holding `frame`, loaded with write_pandas."""
        name = _temp_name("STAGE")
        cols = ", ".join(f"{c.name} {STAGING_TYPES[c.type]}" for c in spec.columns)
        self._run(f"CREATE TEMPORARY TABLE {name} ({cols})")
        self._write(_staging_frame(spec, frame), name)
        # Not dropped here: DROP is DDL and would commit the statement that used it. Temporary tables go with
        # the Snowflake session, which ends when the session's connection closes.
        yield name

    def _write(self, frame: pd.DataFrame, table: str) -> None:
        # Looked up on the module at call time (fakesnow patches it there).
        ok, _chunks, rows, _ = sf_pandas_tools.write_pandas(
            self._conn,
            frame,
            table,
            quote_identifiers=False,
            auto_create_table=False,
            use_logical_type=True,
        )
        if not ok or rows != len(frame):
            raise RuntimeError(f"write_pandas loaded {rows} of {len(frame)} rows into staging table {table}")

    def _parsed_source(self, spec: TableSpec, staging: str) -> str:
        """The staging table as a MERGE/INSERT source, with JSON text parsed to VARIANT."""
        cols = ", ".join(f"PARSE_JSON({c}) AS {c}" if c in spec.json_columns else c for c in spec.column_names)
        return f"(SELECT {cols} FROM {staging})"

    def merge(self, spec: TableSpec, df: pd.DataFrame, compare: Sequence[str], guard: str | None = None) -> MergeCounts:
        frame = check_frame(spec, df)
        if frame.empty:
            return MergeCounts()
        with self._staged(spec, frame) as staging:
            # JSON is parsed inside the source (equivalent to merge_sql's wrap_json="PARSE_JSON"): it keeps
            # VARIANT-to-VARIANT comparisons and fakesnow's MERGE emulation only carries bare `src.col` values.
            cursor = self._run(merge_sql(spec, self._parsed_source(spec, staging), compare, guard))
            names = [d[0].lower() for d in cursor.description or ()]
            row = cursor.fetchone() or ()
        counts = dict(zip(names, row, strict=False))
        return MergeCounts(
            inserted=int(counts.get("number of rows inserted") or 0),
            updated=int(counts.get("number of rows updated") or 0),
        )

    def insert(self, spec: TableSpec, df: pd.DataFrame) -> int:
        frame = check_frame(spec, df)
        if frame.empty:
            return 0
        with self._staged(spec, frame) as staging:
            cols = ", ".join(spec.column_names)
            source = self._parsed_source(spec, staging)
            return _dml_count(self._run(f"INSERT INTO {spec.name} ({cols}) SELECT {cols} FROM {source} AS src"))

    @contextmanager
    def key_table(self, values: Sequence[str]) -> Iterator[str]:
        name = _temp_name("KEYS")
        self._run(f"CREATE TEMPORARY TABLE {name} (k VARCHAR)")
        keys = list(dict.fromkeys(str(v) for v in values))
        if keys:
            self._write(pd.DataFrame({"k": pd.Series(keys, dtype=object)}), name)
        yield name

    def execute_count(self, sql: str) -> int:
        return _dml_count(self._run(sql))


def _plain(value: Any) -> Any:
    """A config value as a plain value (an unresolved `EnvVar` is read from the environment)."""
    return value.get_value() if isinstance(value, dg.EnvVar) else value


class SnowflakeWarehouse(Warehouse):
    """Production warehouse: a Snowflake database/schema, reached through dagster-snowflake.

    The nested `SnowflakeResource` is used with `paramstyle="qmark"` (server-side binding of `?`) and, unless
    configured, session `timezone="UTC"`; both are applied here, so the resource may be configured without them.
    """

    snowflake: SnowflakeResource

    def _connection_resource(self) -> SnowflakeResource:
        sf = self.snowflake
        if sf.connector is not None:
            raise ValueError(f"SnowflakeWarehouse needs the Snowflake Python connector, not connector={sf.connector!r}")
        extra = dict(sf.additional_snowflake_connection_args or {})
        if sf.paramstyle == "qmark" and sf.timezone and extra.get("paramstyle", "qmark") == "qmark":
            return sf
        config = sf.model_dump(by_alias=True, exclude_none=True)
        config.update(paramstyle="qmark", timezone=sf.timezone or "UTC")
        if "paramstyle" in extra:
            config["additional_snowflake_connection_args"] = {**extra, "paramstyle": "qmark"}
        return SnowflakeResource(**config)

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:
        """One connection, AUTOCOMMIT off: commit when the block succeeds, roll back (and close) on error."""
        with self._connection_resource().get_connection() as conn:
            conn.autocommit(False)
            committed = False
            try:
                yield SnowflakeSession(conn)
                conn.commit()
                committed = True
            finally:
                if not committed:
                    # Keep the original error: a failed rollback/close must not replace it.
                    with suppress(Exception):
                        conn.rollback()
                    with suppress(Exception):
                        conn.close()  # dagster-snowflake closes the connection only on success

    def describe(self) -> str:
        return f"snowflake:{_plain(self.snowflake.database)}.{_plain(self.snowflake.schema_)}"

    def __repr_args__(self) -> Any:
        # Never show the nested resource's fields (password, private key) in reprs or logs.
        return [("target", self.describe())]
