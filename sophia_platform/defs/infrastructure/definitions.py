"""The infra plane: ESC environment, GPU pool, Kubernetes deployments, their checks, jobs and the backlog sensor.

The GPU pool's backlog sensor watches what the data plane reports (`sophia_pipelines/assets/backlog.py`); this is
the one place the two planes meet.
"""

import dagster as dg

from infra_assets.definitions import build_infra_definitions
from infra_assets.sensors import BacklogSignal
from resources.profile import current_profile
from sophia_pipelines.assets.backlog import BACKLOG_ASSETS, PENDING_EMBEDDING

EMBEDDING_BACKLOG = BacklogSignal.of(BACKLOG_ASSETS, PENDING_EMBEDDING)


@dg.definitions
def defs() -> dg.Definitions:
    return build_infra_definitions(current_profile(), backlog=EMBEDDING_BACKLOG)
