"""Which source runs (partitions of the raw assets) a downstream run works on: all of them, or a chosen few.

A run scoped to source runs normalizes, chunks and embeds only what came from them: the raw rows of those batches,
the documents whose latest fetch is one of those rows (`documents.raw_record_id`), and those documents' chunks.
Runs with disjoint scopes do disjoint work, so on a warehouse and vector store that take concurrent writers
(Snowflake, Pinecone) they run in parallel; where two scopes share a document (the same page in two source runs), the
document belongs to the run of its latest fetch, and anything both runs do is an idempotent upsert. Clean-ups that
are not about new input (chunks of documents that are gone, vectors of chunks that are gone) stay global.

The scope becomes SQL with bound parameters only: table names are checked against the stage's raw tables, and
partition keys are never spliced into the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resources.tables import TableSpec


@dataclass(frozen=True, slots=True)
class Condition:
    """A SQL boolean expression with `?` placeholders and their values, in order."""

    sql: str
    params: tuple[Any, ...] = ()


EVERYTHING = Condition("TRUE")


@dataclass(frozen=True, slots=True)
class SourceRunScope:
    """Raw table name -> the batch ids (partition keys) of its source runs in scope. Tables not named are out."""

    runs: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, runs: Mapping[str, Sequence[str]] | None) -> SourceRunScope | None:
        """The scope of `runs` (raw table -> partition keys), or None (every source run) when `runs` is empty."""
        if not runs:
            return None
        cleaned = {table: tuple(dict.fromkeys(keys)) for table, keys in sorted(runs.items())}
        empty = [table for table, keys in cleaned.items() if not keys]
        if empty:
            raise ValueError(f"source_runs: no partition keys given for {', '.join(empty)}")
        return cls(cleaned)

    def check(self, raw_specs: Sequence[TableSpec]) -> None:
        """Fail, naming them, on tables that are not among `raw_specs` (a typo would otherwise select nothing)."""
        known = {spec.name for spec in raw_specs}
        unknown = sorted(set(self.runs) - known)
        if unknown:
            raise ValueError(f"source_runs names unknown raw tables {unknown}; known: {sorted(known)}")

    def describe(self) -> dict[str, list[str]]:
        return {table: list(keys) for table, keys in self.runs.items()}


def batches_condition(scope: SourceRunScope | None, spec: TableSpec) -> Condition:
    """Rows of the raw table `spec` that belong to the scope's source runs (FALSE for a table out of scope)."""
    if scope is None:
        return EVERYTHING
    keys = scope.runs.get(spec.name)
    if not keys:
        return Condition("FALSE")
    return Condition(f"batch_id IN ({', '.join('?' * len(keys))})", keys)


def records_condition(scope: SourceRunScope | None, raw_specs: Sequence[TableSpec], column: str) -> Condition:
    """`column` (a raw record id) is a record of the scope's source runs."""
    if scope is None:
        return EVERYTHING
    scope.check(raw_specs)
    selects, params = [], []
    for spec in raw_specs:
        if spec.name in scope.runs:
            batches = batches_condition(scope, spec)
            selects.append(f"SELECT record_id FROM {spec.name} WHERE {batches.sql}")
            params.extend(batches.params)
    return Condition(f"{column} IN ({' UNION ALL '.join(selects)})", tuple(params))


def documents_condition(scope: SourceRunScope | None, raw_specs: Sequence[TableSpec], column: str) -> Condition:
    """`column` (a document id) is a document whose latest fetch is a record of the scope's source runs."""
    if scope is None:
        return EVERYTHING
    records = records_condition(scope, raw_specs, "raw_record_id")
    return Condition(f"{column} IN (SELECT document_id FROM documents WHERE {records.sql})", records.params)
