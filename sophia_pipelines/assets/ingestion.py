"""Raw landing assets: one per stream of the catalogue, partitioned by source run, each payload kept untouched with
its batch id and fetch time. A run lands exactly its partitions (sensors request one run per new source run; a
backfill is one run over its range); a run without a partition lands every registered source run of the stream."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd

from resources.payloads import PayloadSource
from resources.warehouse import Warehouse
from sophia_pipelines.concurrency import DATA_PLANE_POOL
from sophia_pipelines.domain import tables as t
from sophia_pipelines.partitions import land_job, partition_keys, stream_partitions
from sophia_pipelines.stages.file_quarantine import quarantined_files
from sophia_pipelines.stages.raw import RawLoadResult, land_partitions
from sophia_pipelines.streams import STREAMS, StreamSpec, check_streams, sample_layout

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

OWNERS = ["team:data-platform"]
INGESTION_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)

QUARANTINE_CHECK = "no_quarantined_files"


def quarantine_check(files: pd.DataFrame) -> dg.AssetCheckResult:
    """WARN while any of the stream's payload files are quarantined; the metadata names each with its reason."""
    listed = [
        {
            "path": row.path,
            "reason": row.reason,
            "size_bytes": None if pd.isna(row.size_bytes) else int(row.size_bytes),
            "first_seen": pd.Timestamp(row.first_seen).isoformat(),
            "last_seen": pd.Timestamp(row.last_seen).isoformat(),
        }
        for row in files.itertuples(index=False)
    ]
    return dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        passed=not listed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "files_quarantined": len(listed),
            "quarantined_files": dg.MetadataValue.json(listed),
            "paths": dg.MetadataValue.text(", ".join(f["path"] for f in listed) or "none"),
        },
    )


def log_result(context: dg.AssetExecutionContext, stream: StreamSpec, result: RawLoadResult) -> None:
    for bad in result.quarantined:
        context.log.warning(f"{stream.source}: quarantined {bad.path} (skipped, not retried): {bad.reason}")
    for path in result.released:
        context.log.info(f"{stream.source}: {path} left the quarantine")
    if not result.batches and not result.quarantined:
        context.log.info(f"{stream.source}: no new data")
        return
    context.log.info(
        f"{stream.source}: {result.items} items in {result.batches} new or changed batches -> "
        f"{result.counts.inserted} new, {result.counts.updated} changed, {result.unchanged} unchanged; "
        f"{result.files_quarantined} files quarantined"
    )


def build_raw_asset(
    stream: StreamSpec, warehouse_kind: str, streams: Sequence[StreamSpec] = STREAMS
) -> dg.AssetsDefinition:
    """The raw asset of `stream`, one of the data plane's `streams` (they make the samples layout it checks; the
    first stream's asset reports that layout, so each land-everything pass warns once per stray path)."""
    layout = sample_layout(streams)
    reports_layout = stream == streams[0]

    @dg.asset(
        key=stream.asset_key,
        group_name="ingestion",
        kinds={stream.system, warehouse_kind},
        owners=OWNERS,
        description=stream.description,
        metadata=stream.table.dagster_metadata(),
        required_resource_keys={stream.system, "warehouse"},
        retry_policy=INGESTION_RETRY,
        partitions_def=stream_partitions(stream),
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=DATA_PLANE_POOL,
        tags={"sophia/source": stream.system},
        check_specs=[
            dg.AssetCheckSpec(
                QUARANTINE_CHECK,
                asset=stream.asset_key,
                description=f"Warns while payload files of {stream.source} sit in {t.RAW_FILE_QUARANTINE.name}.",
            )
        ],
    )
    def _raw_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        source: PayloadSource = getattr(context.resources, stream.system)
        warehouse: Warehouse = context.resources.warehouse
        if reports_layout:
            for message in source.layout_warnings(layout):
                context.log.warning(f"samples layout: {message}")
        keys = partition_keys(context, stream)
        with warehouse.session() as session:
            result = land_partitions(session, stream.table, stream.source, source, stream.stream, keys)
            quarantine = quarantined_files(session, stream.source)
        log_result(context, stream, result)
        return dg.MaterializeResult(
            metadata={
                "source_runs": len(keys),
                "batches": result.batches,
                "items_fetched": result.items,
                "rows_inserted": result.counts.inserted,
                "rows_updated": result.counts.updated,
                "rows_unchanged": result.unchanged,
                "files_quarantined": result.files_quarantined,
                "dagster/row_count": result.total_rows,
                "table": f"{warehouse.describe()}/{stream.table.name}",
            },
            check_results=[quarantine_check(quarantine)],
        )

    return _raw_asset


def build_ingestion_assets(warehouse_kind: str, streams: Sequence[StreamSpec] = STREAMS) -> list[dg.AssetsDefinition]:
    """One raw asset per stream of `streams` (default: the catalogue)."""
    streams = check_streams(streams)
    return [build_raw_asset(s, warehouse_kind, streams) for s in streams]


def build_land_jobs(streams: Sequence[StreamSpec] = STREAMS) -> list["UnresolvedAssetJobDefinition"]:
    """One `land_<stream>` job per stream: what sensors launch and what a user backfills chosen source runs with."""
    return [land_job(s) for s in check_streams(streams)]
