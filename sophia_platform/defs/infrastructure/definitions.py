"""The infra plane: ESC environment, GPU pool, Kubernetes deployments, their checks, jobs and the backlog sensor."""

import dagster as dg

from infra_assets.definitions import build_infra_definitions
from resources.profile import current_profile


@dg.definitions
def defs() -> dg.Definitions:
    return build_infra_definitions(current_profile().name)
