"""The automation condition sensors: the data plane's (raw -> documents -> chunks -> vectors, RUNNING by default
in every profile, so a landed source run flows on with no click) and the infra plane's (the daily drift checks,
RUNNING where the profile runs automation)."""

import dagster as dg

from resources.profile import EnvProfile, current_profile, sensor_status
from sophia_pipelines.automation import DATA_PLANE_AUTOMATION, DATA_PLANE_GROUPS, INFRA_AUTOMATION


def build_automation_sensors(profile: EnvProfile) -> list[dg.AutomationConditionSensorDefinition]:
    """One automation condition sensor per plane, evaluated every `profile.automation_interval_s`."""
    data_plane = dg.AssetSelection.groups(*DATA_PLANE_GROUPS)
    return [
        dg.AutomationConditionSensorDefinition(
            DATA_PLANE_AUTOMATION,
            target=data_plane,
            default_status=sensor_status(profile.data_automation_running),
            minimum_interval_seconds=profile.automation_interval_s,
            description="Documents, chunks and vectors (and their checks) follow whatever updated upstream.",
        ),
        dg.AutomationConditionSensorDefinition(
            INFRA_AUTOMATION,
            target=dg.AssetSelection.all() - data_plane,
            default_status=sensor_status(profile.automation_running),
            minimum_interval_seconds=profile.automation_interval_s,
            description="The infra plane's conditions: each stack's drift check once a day.",
        ),
    ]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=build_automation_sensors(current_profile()))
