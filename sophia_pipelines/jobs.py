"""Jobs and schedules of the data plane."""

from __future__ import annotations

import dagster as dg

DATA_GROUPS = ("ingestion", "warehouse", "vectors")

data_pipeline_job = dg.define_asset_job(
    name="data_pipeline",
    selection=dg.AssetSelection.groups(*DATA_GROUPS),
    description="Ingest every source, normalize into documents, chunk, embed and upsert vectors.",
    tags={"sophia/plane": "data"},
)

data_pipeline_daily = dg.ScheduleDefinition(
    name="data_pipeline_daily",
    job=data_pipeline_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily refresh of all sources (turn on in the UI or with `dagster schedule start`).",
)
