"""The scaling sensors: the GPU pool from the embedding backlog, each CPU node pool from the run queue or
business hours, TEI from the GPU pool. Each decision is a run request; each non-decision a `SkipReason`."""

from infra_assets.sensors.gpu import SENSOR_NAME, build_backlog_sensor, scale_run_config
from infra_assets.sensors.node_pools import build_node_pool_sensor, node_pool_sensor_name
from infra_assets.sensors.tei import TEI_SENSOR_NAME, build_tei_sensor
from infra_assets.signals import BacklogSignal, RunQueueSignal

__all__ = [
    "SENSOR_NAME",
    "TEI_SENSOR_NAME",
    "BacklogSignal",
    "RunQueueSignal",
    "build_backlog_sensor",
    "build_node_pool_sensor",
    "build_tei_sensor",
    "node_pool_sensor_name",
    "scale_run_config",
]
