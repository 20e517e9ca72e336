"""The warehouse's schema language: logical tables, independent of the SQL dialect that stores them.

Each backend (DuckDB locally, Snowflake in production) maps the logical column types to its own DDL, so loading
code is written once against these specs. The concrete tables live with the layer that owns them
(`sophia_pipelines/domain/tables.py`); this module sits below it, so the backends need nothing from the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import dagster as dg

ColumnType = Literal["text", "int", "float", "timestamp", "json"]

_DAGSTER_TYPES: dict[str, str] = {"text": "string", "int": "int", "float": "float", "timestamp": "timestamp"}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True
    description: str = ""


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def json_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.type == "json"]

    def dagster_metadata(self) -> dict[str, object]:
        """Definition metadata the UI shows for an asset stored in this table: its name and column schema."""
        return table_metadata(self.name, self.dagster_schema())

    def dagster_schema(self) -> dg.TableSchema:
        """The column schema the Dagster UI shows for an asset stored in this table (key columns unique)."""
        return dg.TableSchema(
            columns=[
                dg.TableColumn(
                    c.name,
                    _DAGSTER_TYPES.get(c.type, c.type),
                    description=c.description or None,
                    constraints=dg.TableColumnConstraints(nullable=c.nullable, unique=self.key == (c.name,)),
                )
                for c in self.columns
            ]
        )


def table_metadata(table_name: str, schema: dg.TableSchema) -> dict[str, object]:
    """`dagster/table_name` and `dagster/column_schema`, the keys the UI reads for a table-backed asset."""
    return {"dagster/table_name": table_name, "dagster/column_schema": dg.MetadataValue.table_schema(schema)}
