"""The `data_pipeline` job over the data plane and its daily schedule."""

import dagster as dg

from sophia_pipelines.jobs import data_pipeline_daily, data_pipeline_job


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[data_pipeline_job], schedules=[data_pipeline_daily])
