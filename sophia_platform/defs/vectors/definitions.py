"""Chunk embeddings in the vector store, with the in-sync check."""

import dagster as dg

from resources.profile import current_profile
from sophia_pipelines.assets.vectors import VECTOR_CHECKS, build_vector_assets


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=build_vector_assets(current_profile().vector_store_kind), asset_checks=VECTOR_CHECKS)
