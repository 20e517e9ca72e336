"""Raw assets are partitioned by source run: one Dagster dynamic partitions definition per stream of the catalogue.

A partition key is the upstream id of one source run (Apify run id, PhantomBuster container id, Tavily
`<query-set>-<day>`, a local payload file's stem). Sensors and the land CLI register keys; a run lands exactly its
keys (a range for a backfill: `BackfillPolicy.single_run()`), each stream through its own `land_<stream>` job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg
from dagster._core.definitions.partitions.utils.base import INVALID_PARTITION_SUBSTRINGS
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from resources.payloads import BatchRef
from sophia_pipelines.release_memory import RELEASE_MEMORY_HOOKS
from sophia_pipelines.streams import StreamSpec

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

DATA_PLANE_TAGS = {"sophia/plane": "data"}


def stream_partitions(stream: StreamSpec) -> dg.DynamicPartitionsDefinition:
    return dg.DynamicPartitionsDefinition(name=stream.partitions_name)


def land_job(stream: StreamSpec) -> UnresolvedAssetJobDefinition:
    """The job that lands chosen source runs of `stream` (its raw asset and quarantine check)."""
    return dg.define_asset_job(
        name=stream.land_job_name,
        selection=dg.AssetSelection.assets(stream.asset_key),
        description=f"Land chosen source runs (partitions) of {stream.source} into {stream.table.name}.",
        tags=DATA_PLANE_TAGS,
        hooks=RELEASE_MEMORY_HOOKS,
    )


def invalid_key_reason(key: str) -> str | None:
    """Why Dagster cannot hold `key` as a partition key (None: it can)."""
    if not key:
        return "an empty partition key"
    bad = [s for s in INVALID_PARTITION_SUBSTRINGS if s in key]
    return f"partition keys cannot contain {bad[0]!r}" if bad else None


def range_tags(keys: Sequence[str]) -> dict[str, str]:
    """Run tags that make one run cover the partitions from `keys[0]` to `keys[-1]` (in the definition's order)."""
    return {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}


def partition_keys(context: dg.AssetExecutionContext, stream: StreamSpec) -> list[str]:
    """The source runs this run lands: its partition(s), or, in a run without one, every registered run."""
    if context.has_partition_key or context.has_partition_key_range:
        return list(context.partition_keys)
    return list(context.instance.get_dynamic_partitions(stream.partitions_name))


def needing_landing(instance: dg.DagsterInstance, stream: StreamSpec, refs: Sequence[BatchRef]) -> list[BatchRef]:
    """The `refs` whose partition never landed, or last landed in a run that started before the source run's
    version (a payload file rewritten since, even while that run was reading it). Three queries for any number."""
    latest = instance.get_latest_storage_id_by_partition(
        stream.asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions={r.key for r in refs}
    )
    if not latest:
        return list(refs)
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=stream.asset_key, storage_ids=list(latest.values())), limit=len(latest)
    ).records
    run_ids = {r.run_id for r in records}
    started = {
        run.dagster_run.run_id: run.start_time or run.create_timestamp.timestamp()
        for run in instance.get_run_records(filters=dg.RunsFilter(run_ids=list(run_ids)))
    }
    landed_at = {r.partition_key: started.get(r.run_id, r.timestamp) for r in records}
    return [r for r in refs if r.key not in landed_at or landed_at[r.key] < r.version_at]
