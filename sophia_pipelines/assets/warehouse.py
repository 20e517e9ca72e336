"""Warehouse assets: normalized `documents` (with the `document_rejects` quarantine) and their `chunks`."""

import time
from collections.abc import Sequence

import dagster as dg
import pandas as pd

from resources.embeddings import Embedder
from resources.pipeline_settings import PipelineSettings
from resources.warehouse import Warehouse
from sophia_pipelines.assets.backlog import PENDING_EMBEDDING
from sophia_pipelines.assets.ingestion import OWNERS
from sophia_pipelines.automation import DOCUMENTS_FRESHNESS, ON_UPSTREAM_UPDATE
from sophia_pipelines.concurrency import DATA_PLANE_POOL
from sophia_pipelines.domain.tables import CHUNKS, DOCUMENT_REJECTS, DOCUMENTS
from sophia_pipelines.stages.chunks import chunker_key, rechunk_changed
from sophia_pipelines.stages.documents import normalize_pending
from sophia_pipelines.stages.scope import SourceRunScope
from sophia_pipelines.streams import STREAMS, StreamSpec, check_streams, normalizers, raw_tables


def markdown_table(df: pd.DataFrame, max_cell: int = 80) -> str:
    """A small markdown table for asset metadata previews."""
    if df.empty:
        return "_(empty)_"
    cells = df.astype(str).map(lambda v: v.replace("|", "\\|").replace("\n", " ")[:max_cell])
    header = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns)
    return header + "\n" + "\n".join("| " + " | ".join(row) + " |" for row in cells.itertuples(index=False))


def scope_metadata(scope: SourceRunScope | None) -> dict[str, dg.MetadataValue]:
    """The source runs a scoped run worked on (nothing for a run over everything pending)."""
    return {} if scope is None else {"source_runs_in_scope": dg.MetadataValue.json(scope.describe())}


def build_warehouse_assets(warehouse_kind: str, streams: Sequence[StreamSpec] = STREAMS) -> list[dg.AssetsDefinition]:
    streams = check_streams(streams)  # `documents` reads their raw tables and routes by their normalizers

    @dg.asset(
        group_name="warehouse",
        kinds={warehouse_kind},
        owners=OWNERS,
        deps=[s.asset_key for s in streams],
        metadata=DOCUMENTS.dagster_metadata(),
        pool=DATA_PLANE_POOL,
        automation_condition=ON_UPSTREAM_UPDATE,
        freshness_policy=DOCUMENTS_FRESHNESS,
        description=(
            "One row per document across all sources (document_id = stable hash of source + canonical URL/id), "
            "upserted by document_id. Records that cannot be normalized go to `document_rejects` with a reason."
        ),
    )
    def documents(
        context: dg.AssetExecutionContext, warehouse: Warehouse, pipeline: PipelineSettings
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        scope = SourceRunScope.of(pipeline.source_runs)
        with warehouse.session() as session:
            result = normalize_pending(session, raw_tables(streams), normalizers=normalizers(streams), scope=scope)
            latest = session.query(
                "SELECT source, title, url FROM documents ORDER BY fetched_at DESC, document_id LIMIT 5"
            )
        for reason, n in result.rejects_by_reason.most_common():
            context.log.warning(f"quarantined {n} record(s): {reason}")
        reasons = pd.DataFrame(result.rejects_by_reason.most_common(), columns=["reason", "records"])
        return dg.MaterializeResult(
            metadata={
                "records_processed": result.records_processed,
                "rows_inserted": result.counts.inserted,
                "rows_updated": result.counts.updated,
                "rows_unchanged": result.documents_seen - result.counts.changed,
                "rows_rejected": result.rejected,
                "reject_rate": round(result.reject_rate, 4),
                "rejects_total": result.total_rejects,
                "dagster/row_count": result.total_documents,
                "duration_s": round(time.perf_counter() - started, 3),
                "documents_by_source": dg.MetadataValue.json(result.documents_by_source),
                "rejects_by_reason": dg.MetadataValue.md(markdown_table(reasons)),
                "preview": dg.MetadataValue.md(markdown_table(latest)),
                **scope_metadata(scope),
            }
        )

    @dg.asset(
        group_name="warehouse",
        kinds={warehouse_kind},
        owners=OWNERS,
        deps=[documents],
        metadata=CHUNKS.dagster_metadata(),
        pool=DATA_PLANE_POOL,
        automation_condition=ON_UPSTREAM_UPDATE,
        description=(
            "Documents split on paragraph/sentence boundaries (size and overlap from the `pipeline` resource). "
            "Only documents whose content or chunking parameters changed are re-chunked; chunks of documents "
            "that no longer exist are removed. `pending_embedding` counts chunks the vector store lacks."
        ),
    )
    def chunks(
        context: dg.AssetExecutionContext,
        warehouse: Warehouse,
        pipeline: PipelineSettings,
        embedder: Embedder,
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        scope = SourceRunScope.of(pipeline.source_runs)
        with warehouse.session() as session:
            result = rechunk_changed(
                session,
                pipeline.chunk_max_chars,
                pipeline.chunk_overlap_chars,
                embedder.model_id,
                scope=scope,
                raw_specs=raw_tables(streams),
            )
        context.log.info(
            f"re-chunked {result.documents_chunked} documents: {result.chunks_written} chunks written, "
            f"{result.chunks_deleted} removed; {result.pending_embedding} pending embedding"
        )
        return dg.MaterializeResult(
            metadata={
                "documents_chunked": result.documents_chunked,
                "chunks_written": result.chunks_written,
                "chunks_deleted": result.chunks_deleted,
                PENDING_EMBEDDING: result.pending_embedding,
                "dagster/row_count": result.total_chunks,
                "duration_s": round(time.perf_counter() - started, 3),
                "chunker": chunker_key(pipeline.chunk_max_chars, pipeline.chunk_overlap_chars),
                **scope_metadata(scope),
            }
        )

    return [documents, chunks]


def _count(warehouse: Warehouse, sql: str) -> int:
    with warehouse.session() as session:
        session.ensure_tables([DOCUMENTS, DOCUMENT_REJECTS, CHUNKS])
        return int(session.scalar(sql) or 0)


@dg.asset_check(
    asset="documents",
    description="document_id is unique across the table.",
    blocking=True,
    pool=DATA_PLANE_POOL,
    automation_condition=ON_UPSTREAM_UPDATE,
)
def documents_id_unique(warehouse: Warehouse) -> dg.AssetCheckResult:
    dupes = _count(
        warehouse,
        "SELECT COUNT(*) FROM (SELECT document_id FROM documents GROUP BY document_id HAVING COUNT(*) > 1)",
    )
    return dg.AssetCheckResult(passed=dupes == 0, metadata={"duplicate_ids": dupes})


@dg.asset_check(
    asset="documents",
    description="Every document has non-empty text.",
    blocking=True,
    pool=DATA_PLANE_POOL,
    automation_condition=ON_UPSTREAM_UPDATE,
)
def documents_text_non_empty(warehouse: Warehouse) -> dg.AssetCheckResult:
    empty = _count(warehouse, "SELECT COUNT(*) FROM documents WHERE text IS NULL OR TRIM(text) = ''")
    return dg.AssetCheckResult(passed=empty == 0, metadata={"empty_text_rows": empty})


@dg.asset_check(
    asset="documents",
    pool=DATA_PLANE_POOL,
    automation_condition=ON_UPSTREAM_UPDATE,
    description="Share of quarantined records (rejects / (documents + rejects)) stays below the configured threshold.",
)
def documents_reject_rate(warehouse: Warehouse, pipeline: PipelineSettings) -> dg.AssetCheckResult:
    rejects = _count(warehouse, "SELECT COUNT(*) FROM document_rejects")
    docs = _count(warehouse, "SELECT COUNT(*) FROM documents")
    rate = rejects / (rejects + docs) if rejects + docs else 0.0
    return dg.AssetCheckResult(
        passed=rate <= pipeline.max_reject_rate,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"reject_rate": round(rate, 4), "threshold": pipeline.max_reject_rate, "rejects": rejects},
    )


@dg.asset_check(
    asset="chunks",
    description="Every document has at least one chunk, and chunk ids are unique.",
    pool=DATA_PLANE_POOL,
    automation_condition=ON_UPSTREAM_UPDATE,
)
def chunks_cover_documents(warehouse: Warehouse) -> dg.AssetCheckResult:
    missing = _count(
        warehouse,
        "SELECT COUNT(*) FROM documents d "
        "WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.document_id)",
    )
    dupes = _count(
        warehouse, "SELECT COUNT(*) FROM (SELECT chunk_id FROM chunks GROUP BY chunk_id HAVING COUNT(*) > 1)"
    )
    return dg.AssetCheckResult(
        passed=missing == 0 and dupes == 0,
        metadata={"documents_without_chunks": missing, "duplicate_chunk_ids": dupes},
    )


WAREHOUSE_CHECKS = [
    documents_id_unique,
    documents_text_non_empty,
    documents_reject_rate,
    chunks_cover_documents,
]
