"""Chunk embeddings in the vector store, with the in-sync check, and the BM25 lexical index beside them."""

import dagster as dg

from resources.profile import current_profile
from sophia_pipelines.assets.lexical import build_lexical_assets
from sophia_pipelines.assets.vectors import VECTOR_CHECKS, build_vector_assets


@dg.definitions
def defs() -> dg.Definitions:
    kind = current_profile().vector_store_kind
    return dg.Definitions(assets=[*build_vector_assets(kind), *build_lexical_assets(kind)], asset_checks=VECTOR_CHECKS)
