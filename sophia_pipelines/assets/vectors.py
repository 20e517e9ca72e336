"""The vector index: chunk embeddings upserted into the vector store (DuckDB locally, Pinecone in production)."""

import time
from collections.abc import Sequence

import dagster as dg

from resources.embeddings import Embedder
from resources.pipeline_settings import PipelineSettings
from resources.tables import table_metadata
from resources.vector_store import VECTOR_RECORD_SCHEMA, VectorStore
from resources.warehouse import Warehouse
from sophia_pipelines.assets.backlog import PENDING_EMBEDDING
from sophia_pipelines.assets.ingestion import OWNERS
from sophia_pipelines.assets.retry_policies import network_retry_policy
from sophia_pipelines.assets.warehouse import scope_metadata
from sophia_pipelines.automation import ON_UPSTREAM_UPDATE, VECTORS_FRESHNESS
from sophia_pipelines.concurrency import DATA_PLANE_POOL
from sophia_pipelines.stages.chunks import pending_embedding
from sophia_pipelines.stages.scope import SourceRunScope
from sophia_pipelines.stages.vectors import VectorsResult, sync_vectors
from sophia_pipelines.streams import STREAMS, StreamSpec, raw_tables


def vectors_metadata(result: VectorsResult, pending: int) -> dict[str, int | float]:
    """Counts always; throughput only when something was embedded (an idle run has no speed to plot)."""
    metadata: dict[str, int | float] = {
        "chunks_embedded": result.chunks_embedded,
        "vectors_deleted": result.vectors_deleted,
        "vectors_total": result.vectors_total,
        PENDING_EMBEDDING: pending,
    }
    if result.chunks_embedded:
        rate = result.chunks_embedded / result.embed_seconds if result.embed_seconds else 0.0
        metadata["embed_seconds"] = round(result.embed_seconds, 3)
        metadata["embed_chunks_per_s"] = round(rate, 1)
        metadata["write_seconds"] = round(result.write_seconds, 3)
    return metadata


def build_vector_assets(vector_kind: str, streams: Sequence[StreamSpec] = STREAMS) -> list[dg.AssetsDefinition]:
    specs = raw_tables(streams)  # a run scoped to source runs embeds the chunks of their documents

    @dg.asset(
        group_name="vectors",
        kinds={vector_kind, "python"},
        owners=OWNERS,
        deps=["chunks"],
        metadata=table_metadata("chunk_vectors", VECTOR_RECORD_SCHEMA),
        pool=DATA_PLANE_POOL,
        description=(
            "Embeddings of every chunk, keyed by chunk_id. Only chunks whose content_hash (or the model) is new are "
            "embedded, in batches that are written as they finish; vectors of chunks that no longer exist are "
            "deleted. A warehouse ledger (`vector_ledger`) records what the store holds. Retried on transient "
            "faults; a retry only embeds what is still pending."
        ),
        retry_policy=network_retry_policy(),
        automation_condition=ON_UPSTREAM_UPDATE,
        freshness_policy=VECTORS_FRESHNESS,
    )
    def chunk_vectors(
        context: dg.AssetExecutionContext,
        warehouse: Warehouse,
        embedder: Embedder,
        vector_store: VectorStore,
        pipeline: PipelineSettings,
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        scope = SourceRunScope.of(pipeline.source_runs)
        result = sync_vectors(
            warehouse,
            embedder,
            vector_store,
            pipeline.embed_batch_size,
            context.log.info,
            scope=scope,
            raw_specs=specs,
        )
        with warehouse.session() as session:
            pending = pending_embedding(session, embedder.model_id)
        metadata = {
            **vectors_metadata(result, pending),
            "duration_s": round(time.perf_counter() - started, 3),
            "model_id": embedder.model_id,
            "dimension": embedder.dimension,
            **scope_metadata(scope),
        }
        return dg.MaterializeResult(metadata=metadata)

    return [chunk_vectors]


@dg.asset_check(
    asset="chunk_vectors",
    pool=DATA_PLANE_POOL,
    automation_condition=ON_UPSTREAM_UPDATE,
    description="The vector store holds exactly one vector per chunk of the current model, and none is pending.",
)
def vectors_in_sync(warehouse: Warehouse, embedder: Embedder, vector_store: VectorStore) -> dg.AssetCheckResult:
    with warehouse.session() as session:
        pending = pending_embedding(session, embedder.model_id)
        chunks = int(session.scalar("SELECT COUNT(*) FROM chunks"))
    stored = vector_store.count()
    return dg.AssetCheckResult(
        passed=pending == 0 and stored == chunks,
        metadata={PENDING_EMBEDDING: pending, "chunks": chunks, "vectors": stored},
    )


VECTOR_CHECKS = [vectors_in_sync]
