"""Raw landing: one asset per source stream (and its quarantine check)."""

import dagster as dg

from resources.profile import current_profile
from sophia_pipelines.assets.ingestion import build_ingestion_assets


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=build_ingestion_assets(current_profile().warehouse_kind))
