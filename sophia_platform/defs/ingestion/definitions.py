"""Raw landing: one asset per source stream (partitioned by source run, with its quarantine check), the streams'
land jobs, and the source sensors of the environment; raw data is stale after a day (`RAW_FRESHNESS`)."""

import dagster as dg

from resources.profile import current_profile
from sophia_pipelines.assets.ingestion import build_ingestion_assets, build_land_jobs
from sophia_pipelines.automation import with_raw_freshness
from sophia_pipelines.sensors.source_sensors import build_source_sensors


@dg.definitions
def defs() -> dg.Definitions:
    profile = current_profile()
    jobs = build_land_jobs()
    return dg.Definitions(
        assets=with_raw_freshness(build_ingestion_assets(profile.warehouse_kind)),
        jobs=jobs,
        sensors=build_source_sensors(profile, jobs),
    )
