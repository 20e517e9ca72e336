"""Normalized documents (with the record quarantine) and their chunks, with their checks."""

import dagster as dg

from resources.profile import current_profile
from sophia_pipelines.assets.warehouse import WAREHOUSE_CHECKS, build_warehouse_assets


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=build_warehouse_assets(current_profile().warehouse_kind), asset_checks=WAREHOUSE_CHECKS
    )
