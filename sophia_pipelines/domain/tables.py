"""The data plane's warehouse tables, as dialect-independent specs (the schema language: `resources/tables.py`).

The raw tables are one per stream and derived from the stream catalogue (`sophia_pipelines/streams.py`).
"""

from __future__ import annotations

from resources.tables import Column, TableSpec

# Every raw table has these columns: the API item untouched (`payload`) plus where and when it came from.
RAW_COLUMNS = (
    Column("record_id", "text", nullable=False),
    Column("source", "text", nullable=False),
    Column("batch_id", "text", nullable=False),
    Column("item_index", "int", nullable=False),
    Column("payload", "json"),
    Column("payload_hash", "text", nullable=False),
    Column("fetched_at", "timestamp", nullable=False),
    Column("normalized_hash", "text"),
)
RAW_COLUMN_NAMES = [c.name for c in RAW_COLUMNS]


def raw_table(name: str) -> TableSpec:
    """The raw table `name` of one source stream (the streams and their tables: `sophia_pipelines/streams.py`)."""
    return TableSpec(name=name, columns=RAW_COLUMNS, key=("record_id",))


RAW_BATCHES = TableSpec(
    name="raw_batches",
    columns=(
        Column("source", "text", nullable=False),
        Column("batch_id", "text", nullable=False),
        Column("fingerprint", "text", nullable=False),
        Column("items", "int", nullable=False),
        Column("landed_at", "timestamp", nullable=False),
    ),
    key=("source", "batch_id"),
)

# Payload files the source could not read or parse (local samples): skipped, kept here until the file at `path`
# lands or disappears. `path` is relative to the samples folder; `fingerprint` is the file's sha256 (if readable).
RAW_FILE_QUARANTINE = TableSpec(
    name="raw_file_quarantine",
    columns=(
        Column("source", "text", nullable=False),
        Column("path", "text", nullable=False),
        Column("reason", "text", nullable=False),
        Column("size_bytes", "int"),
        Column("fingerprint", "text"),
        Column("first_seen", "timestamp", nullable=False),
        Column("last_seen", "timestamp", nullable=False),
    ),
    key=("source", "path"),
)

DOCUMENTS = TableSpec(
    name="documents",
    columns=(
        Column("document_id", "text", nullable=False),
        Column("source", "text", nullable=False),
        Column("url", "text"),
        Column("title", "text"),
        Column("text", "text", nullable=False),
        Column("author", "text"),
        Column("published_at", "timestamp"),
        Column("fetched_at", "timestamp", nullable=False),
        Column("content_hash", "text", nullable=False),
        Column("raw_record_id", "text", nullable=False),
    ),
    key=("document_id",),
)

DOCUMENT_REJECTS = TableSpec(
    name="document_rejects",
    columns=(
        Column("reject_id", "text", nullable=False),
        Column("source", "text", nullable=False),
        Column("raw_record_id", "text", nullable=False),
        Column("reason", "text", nullable=False),
        Column("payload", "json"),
        Column("rejected_at", "timestamp", nullable=False),
    ),
    key=("reject_id",),
)

CHUNKS = TableSpec(
    name="chunks",
    columns=(
        Column("chunk_id", "text", nullable=False),
        Column("document_id", "text", nullable=False),
        Column("chunk_index", "int", nullable=False),
        Column("text", "text", nullable=False),
        Column("content_hash", "text", nullable=False),
        Column("document_content_hash", "text", nullable=False),
        Column("chunker", "text", nullable=False),  # chunking parameters, e.g. "1200/150"
        Column("source", "text", nullable=False),
        Column("url", "text"),
        Column("title", "text"),
    ),
    key=("chunk_id",),
)

VECTOR_LEDGER = TableSpec(
    name="vector_ledger",
    columns=(
        Column("chunk_id", "text", nullable=False),
        Column("content_hash", "text", nullable=False),
        Column("model_id", "text", nullable=False),
        Column("embedded_at", "timestamp", nullable=False),
    ),
    key=("chunk_id",),
)

# What the lexical store holds: per chunk, the content it was indexed from and its tokens (space-separated), from
# which the BM25 index is refitted without re-reading or re-tokenizing unchanged chunks.
LEXICAL_LEDGER = TableSpec(
    name="lexical_ledger",
    columns=(
        Column("chunk_id", "text", nullable=False),
        Column("content_hash", "text", nullable=False),
        Column("tokens", "text", nullable=False),
        Column("indexed_at", "timestamp", nullable=False),
    ),
    key=("chunk_id",),
)

# One row: a random id a warehouse is given on its first land pass. Land runs are tagged with it, so a wiped or new
# warehouse (new id) is never taken for one that already holds what those runs landed (`sophia_pipelines/land.py`).
WAREHOUSE_IDENTITY = TableSpec(
    name="warehouse_identity",
    columns=(Column("identity", "text", nullable=False), Column("created_at", "timestamp", nullable=False)),
    key=("identity",),
)

# The tables every data plane has, whatever its streams (with the raw tables: `streams.all_tables`).
SHARED_TABLES = (RAW_BATCHES, RAW_FILE_QUARANTINE, DOCUMENTS, DOCUMENT_REJECTS, CHUNKS, VECTOR_LEDGER)
