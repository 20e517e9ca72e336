"""The lexical index: BM25 over every chunk (bm25s locally, a Pinecone sparse index in production)."""

import dagster as dg

from resources.lexical_store import LexicalStore
from resources.warehouse import Warehouse
from sophia_pipelines.assets.ingestion import OWNERS
from sophia_pipelines.assets.retry_policies import network_retry_policy
from sophia_pipelines.automation import ON_UPSTREAM_UPDATE, VECTORS_FRESHNESS
from sophia_pipelines.concurrency import DATA_PLANE_POOL
from sophia_pipelines.stages.lexical import pending_lexical, sync_lexical

LEXICAL_KINDS = {"duckdb": "bm25s", "pinecone": "pinecone"}  # by the profile's vector store kind


def build_lexical_assets(vector_kind: str) -> list[dg.AssetsDefinition]:
    @dg.asset(
        group_name="vectors",
        kinds={LEXICAL_KINDS.get(vector_kind, vector_kind), "python"},
        owners=OWNERS,
        deps=["chunks"],
        pool=DATA_PLANE_POOL,
        description=(
            "BM25 index of every chunk (title + text), the lexical half of hybrid search. Only chunks whose "
            "content_hash is new are tokenized, and written a page at a time (a new index segment each, no refit; "
            "ledger rows in `lexical_ledger` per page); chunks that no longer exist are removed. Retried on "
            "transient faults."
        ),
        retry_policy=network_retry_policy(),
        automation_condition=ON_UPSTREAM_UPDATE,
        freshness_policy=VECTORS_FRESHNESS,
    )
    def chunk_lexical_index(
        context: dg.AssetExecutionContext, warehouse: Warehouse, lexical_store: LexicalStore
    ) -> dg.MaterializeResult:
        result = sync_lexical(warehouse, lexical_store, context.log.info)
        return dg.MaterializeResult(
            metadata={
                "chunks_indexed": result.chunks_indexed,
                "chunks_removed": result.chunks_removed,
                "chunks_total": result.chunks_total,
                "pending_lexical": pending_lexical(warehouse),
                "tokenize_seconds": round(result.tokenize_seconds, 3),
                "pages": result.pages,
                "write_seconds": round(result.write_seconds, 3),
            }
        )

    return [chunk_lexical_index]
