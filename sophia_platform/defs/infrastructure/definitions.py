"""The infra plane: ESC environment, GPU pool, CPU node pools, Kubernetes deployments, their checks, jobs and the
scaling sensors.

This is the one place the two planes meet: the GPU pool's backlog sensor watches what the data plane reports
(`sophia_pipelines/assets/backlog.py`), and the run-queue node pool counts the runs that carry the data plane's
run tags (those of its `data_pipeline` job, shared by its landing jobs).
"""

import dagster as dg

from infra_assets.assets import ESC_KEY
from infra_assets.definitions import build_infra_definitions
from infra_assets.secrets.secret_age import build_secret_age_checks
from infra_assets.signals import BacklogSignal, RunQueueSignal
from resources.profile import current_profile
from sophia_pipelines.assets.backlog import BACKLOG_ASSETS, PENDING_EMBEDDING
from sophia_pipelines.jobs import data_pipeline_job

EMBEDDING_BACKLOG = BacklogSignal.of(BACKLOG_ASSETS, PENDING_EMBEDDING)
DATA_PLANE_RUNS = RunQueueSignal.of(data_pipeline_job.tags)


@dg.definitions
def defs() -> dg.Definitions:
    prof = current_profile()
    infra = build_infra_definitions(prof, backlog=EMBEDDING_BACKLOG, runs=DATA_PLANE_RUNS)
    # One `secret_age_*` check per secret on the ESC environment (docs/secrets.md), from ESC's revision history.
    return dg.Definitions.merge(infra, dg.Definitions(asset_checks=[build_secret_age_checks(prof.name, ESC_KEY)]))
