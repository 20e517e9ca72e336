"""The source sensors, built from the stream catalogue: they register new source runs and request their landing.

Production (live services): one sensor per source system, `<system>_<watches>` — `apify_runs` (SUCCEEDED runs of the
configured actors), `phantombuster_containers` (finished containers), `tavily_daily` (the query set, once a day) —
RUNNING when the profile runs automation. Local (sample payloads): one sensor, `sample_files`, over
`SOPHIA_SAMPLES_DIR`, RUNNING so a dropped or edited file lands with no click. Each requests runs of the streams'
`land_<stream>` jobs; the tick itself is `sophia_pipelines.sensors.tick.evaluate`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from resources.payloads import PayloadSource
from resources.profile import EnvProfile, sensor_status
from sophia_pipelines.sensors.tick import TickSettings, evaluate
from sophia_pipelines.streams import STREAMS, StreamSpec, check_streams, sample_layout

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

SAMPLES_SENSOR = "sample_files"
SAMPLES_INTERVAL_SECONDS = 30
SAMPLES_TICK = TickSettings(page_size=1000)


@dataclass(frozen=True, slots=True)
class SourceSystem:
    """How a source system's new runs are found in production: by its sensor `<system>_<watches>`."""

    name: str
    watches: str  # what one source run is: "runs", "containers", "daily" (a day's searches)
    interval_seconds: int
    page_size: int  # the most the system's listing returns per request

    @property
    def sensor_name(self) -> str:
        return f"{self.name}_{self.watches}"


SYSTEMS: Mapping[str, SourceSystem] = {
    s.name: s
    for s in (
        SourceSystem("apify", "runs", interval_seconds=120, page_size=1000),
        SourceSystem("phantombuster", "containers", interval_seconds=120, page_size=100),
        SourceSystem("tavily", "daily", interval_seconds=600, page_size=1),
    )
}


def source_system(name: str) -> SourceSystem:
    """The system's entry; a system without one (a new source) polls its runs every two minutes."""
    return SYSTEMS.get(name) or SourceSystem(name, "runs", interval_seconds=120, page_size=100)


def source_sensor(
    name: str,
    streams: Sequence[StreamSpec],
    jobs: Mapping[str, UnresolvedAssetJobDefinition],
    settings: TickSettings,
    interval_seconds: int,
    running: bool,
    description: str,
    layout: Callable[[PayloadSource], list[str]] | None = None,
) -> dg.SensorDefinition:
    """A sensor over `streams` (`jobs`: their land jobs by stream source id; `layout`: warnings to log on change)."""
    systems = sorted({s.system for s in streams})

    @dg.sensor(
        name=name,
        jobs=[jobs[s.source] for s in streams],
        minimum_interval_seconds=interval_seconds,
        default_status=sensor_status(running),
        required_resource_keys=set(systems),
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        sources: dict[str, PayloadSource] = {system: getattr(context.resources, system) for system in systems}
        first = sources[streams[0].system]
        return evaluate(context, streams, sources, settings, (lambda: layout(first)) if layout else None)

    return _sensor


def build_source_sensors(
    profile: EnvProfile,
    jobs: Sequence[UnresolvedAssetJobDefinition],
    streams: Sequence[StreamSpec] = STREAMS,
) -> list[dg.SensorDefinition]:
    """The source sensors of `profile` over `streams`; `jobs` are the streams' land jobs (`build_land_jobs`)."""
    streams = check_streams(streams)
    by_name = {job.name: job for job in jobs}
    land = {s.source: by_name[s.land_job_name] for s in streams}
    if not profile.is_live:
        layout = sample_layout(streams)
        return [
            source_sensor(
                SAMPLES_SENSOR,
                streams,
                land,
                SAMPLES_TICK,
                SAMPLES_INTERVAL_SECONDS,
                running=True,
                description="Payload files new or changed under SOPHIA_SAMPLES_DIR (by fingerprint): one partition "
                "per file, one landing run per new content.",
                layout=lambda source: source.layout_warnings(layout),
            )
        ]
    sensors = []
    for system in dict.fromkeys(s.system for s in streams):
        spec = source_system(system)
        mine = [s for s in streams if s.system == system]
        sensors.append(
            source_sensor(
                spec.sensor_name,
                mine,
                land,
                TickSettings(page_size=spec.page_size),
                spec.interval_seconds,
                running=profile.automation_running,
                description=f"New {spec.watches} of {', '.join(s.source for s in mine)}: one partition each, "
                "landed by one run each.",
            )
        )
    return sensors
