"""Jobs and schedules of the data plane.

Raw landing is partitioned by source run, so it has a job per stream (`land_<stream>`, sophia_pipelines/partitions.py)
launched by the source sensors; `data_pipeline` brings everything downstream of the raw tables up to date.
"""

from __future__ import annotations

import dagster as dg

from sophia_pipelines.partitions import DATA_PLANE_TAGS
from sophia_pipelines.release_memory import RELEASE_MEMORY_HOOKS

DOWNSTREAM_GROUPS = ("warehouse", "vectors")  # everything after raw landing (unpartitioned)

data_pipeline_job = dg.define_asset_job(
    name="data_pipeline",
    selection=dg.AssetSelection.groups(*DOWNSTREAM_GROUPS),
    description="Normalize the landed raw rows into documents, chunk, embed and upsert vectors (raw landing: the "
    "source sensors, the land_<stream> jobs, or `python -m sophia_pipelines.land` for everything).",
    tags=DATA_PLANE_TAGS,
    hooks=RELEASE_MEMORY_HOOKS,
)

data_pipeline_daily = dg.ScheduleDefinition(
    name="data_pipeline_daily",
    job=data_pipeline_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily refresh of documents, chunks and vectors (turn on in the UI or with `dagster schedule start`).",
)
