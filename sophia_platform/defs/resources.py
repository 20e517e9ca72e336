"""Resources and the executor of the code location, chosen by the environment profile (resources as data)."""

import dagster as dg

from resources.profile import current_profile
from resources.registry import build_resources
from sophia_pipelines.streams import UPSTREAMS
from sophia_platform.executor import build_executor
from sophia_platform.loader import resource_overrides


@dg.definitions
def defs() -> dg.Definitions:
    profile = current_profile()
    return dg.Definitions(
        resources={**build_resources(profile, UPSTREAMS), **resource_overrides()},
        executor=build_executor(profile),
    )
