"""`python -m sophia_pipelines.land`: land everything now, without a daemon (what the demo and the tests run).

1. Register every current source run of every stream as a partition (the sources' full listings, all pages).
2. Land each stream in ONE run of its `land_<stream>` job over all its partitions (a partition range; source runs
   already landed are skipped by fingerprint, without downloading them). A stream with no partition yet gets one
   run without a partition, which lands nothing and says so.
3. Run `data_pipeline` (documents, chunks, vectors, the lexical index and their checks).

Runs go to the instance in $DAGSTER_HOME, so they show in `dg dev`; the sensors do steps 1-2 one source run at a time.

Nothing is launched that has nothing to do (`--all` launches every land job and `data_pipeline` anyway): a stream
whose listing (every source run's key and content fingerprint, and the warehouse's identity, tagged `sophia/listing`
on its land runs) is the one its latest land run succeeded with is not landed again, and `data_pipeline` is not
launched when no stream was, its latest run succeeded after every stream's latest land run, and that run was tagged
`sophia/pipeline-settings` with the current digest of the settings its stages redo work for
(`pipeline_settings_digest`: the warehouse's identity, the chunker, the embedder's model id, the lexical store's
location). An idle pass is a few listing calls and instance queries. Listings without fingerprints (the production
APIs) always land. A wiped or new warehouse gets a new identity (`warehouse_identity`), so its first pass lands
everything again; a vector or lexical store emptied in place (same location) needs `--all`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pandas as pd

from resources.payloads import BatchRef, PayloadSource, SourceError
from resources.registry import resolve_all
from resources.warehouse import Warehouse
from sophia_pipelines.domain.tables import WAREHOUSE_IDENTITY
from sophia_pipelines.jobs import data_pipeline_job
from sophia_pipelines.partitions import invalid_key_reason, range_tags
from sophia_pipelines.run_health import end_dead_runs
from sophia_pipelines.stages.chunks import chunker_key
from sophia_pipelines.streams import STREAMS, StreamSpec, check_streams

LIST_PAGE_SIZE = 1000
LISTING_TAG = "sophia/listing"  # digest of the listing a land-everything run landed (see `listing_digest`)
SETTINGS_TAG = "sophia/pipeline-settings"  # digest of the settings a data_pipeline run ran with (see below)


@dataclass
class LandResult:
    """The runs of one land-everything pass (land runs in stream order, then `data_pipeline`) and what failed."""

    runs: list[dg.ExecuteInProcessResult] = field(default_factory=list)
    registered: dict[str, int] = field(default_factory=dict)  # source id -> partitions added
    errors: list[str] = field(default_factory=list)  # listings that failed (their streams land what is registered)
    warnings: list[str] = field(default_factory=list)  # source runs that cannot be partitions (named, skipped)
    listings: dict[str, str | None] = field(default_factory=dict)  # source id -> listing digest (None: unknown)
    warehouse_id: str = ""  # the identity of the warehouse the pass landed into (`warehouse_identity`)
    skipped: list[str] = field(default_factory=list)  # jobs not launched: nothing changed since their last success

    @property
    def success(self) -> bool:
        return not self.errors and all(run.success for run in self.runs)

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]

    @property
    def all_events(self) -> list[dg.DagsterEvent]:
        return [event for run in self.runs for event in run.all_events]

    def get_asset_materialization_events(self) -> list[dg.DagsterEvent]:
        return [event for run in self.runs for event in run.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list[dg.AssetCheckEvaluation]:
        return [evaluation for run in self.runs for evaluation in run.get_asset_check_evaluations()]

    def failures(self) -> Iterator[str]:
        """One line per failed listing and failed run."""
        yield from self.errors
        for run in self.runs:
            if not run.success:
                yield f"run {run.run_id} of {run.job_def.name} failed"


def list_refs(source: PayloadSource, stream: StreamSpec, page_size: int = LIST_PAGE_SIZE) -> list[BatchRef]:
    """Every source run of `stream` the source lists now (all pages), oldest first."""
    refs, cursor = [], None
    while True:
        page = source.list_batches(stream.stream, cursor, page_size)
        refs.extend(page.refs)
        cursor = page.cursor
        if page.caught_up:
            break
    return sorted(refs, key=lambda r: (r.finished_at, r.key))


def list_all(source: PayloadSource, stream: StreamSpec, page_size: int = LIST_PAGE_SIZE) -> list[str]:
    """Every source run of `stream` the source lists now (all pages), as partition keys, oldest first."""
    return [r.key for r in list_refs(source, stream, page_size)]


def warehouse_identity(warehouse: Warehouse) -> str:
    """The random id the warehouse was given on its first land pass (given now if it has none).

    Part of every skip digest: runs recorded against a warehouse that was since wiped or replaced (same Dagster
    instance, e.g. after `rm -rf .sophia`) do not match the new one, so its first pass lands everything again.
    """
    with warehouse.session() as s:
        s.ensure_table(WAREHOUSE_IDENTITY)
        found = s.scalar("SELECT identity FROM warehouse_identity ORDER BY created_at, identity LIMIT 1")
        if found is None:
            found = uuid.uuid4().hex
            s.insert(WAREHOUSE_IDENTITY, pd.DataFrame({"identity": [found], "created_at": [datetime.now(UTC)]}))
    return str(found)


def listing_digest(refs: Sequence[BatchRef], warehouse_id: str = "") -> str | None:
    """A digest of every listed source run's key and content fingerprint, landed into the warehouse `warehouse_id`;
    None when a fingerprint is unknown."""
    if any(r.fingerprint is None for r in refs):
        return None
    digest = hashlib.sha256(f"{warehouse_id}\n".encode())
    for ref in sorted(refs, key=lambda r: r.key):
        digest.update(f"{ref.key}\0{ref.fingerprint}\n".encode())
    return digest.hexdigest()


def register_source_runs(
    instance: dg.DagsterInstance,
    streams: Sequence[StreamSpec],
    sources: Mapping[str, PayloadSource],
    result: LandResult,
    warehouse_id: str = "",
) -> None:
    """Add every listed source run that is not a partition yet (counted in `result.registered`); each stream's
    listing digest (for the warehouse `warehouse_id`) goes in `result.listings`."""
    for stream in streams:
        try:
            refs = list_refs(sources[stream.system], stream)
        except SourceError as exc:
            result.errors.append(f"{stream.source}: listing failed: {exc}")
            continue
        keys = [r.key for r in refs]
        result.listings[stream.source] = listing_digest(refs, warehouse_id)
        invalid = {key: reason for key in keys if (reason := invalid_key_reason(key))}
        result.warnings += [f"{stream.source}: source run {k!r} skipped: {why}" for k, why in invalid.items()]
        existing = set(instance.get_dynamic_partitions(stream.partitions_name))
        new = list(dict.fromkeys(k for k in keys if k not in existing and k not in invalid))
        if new:
            instance.add_dynamic_partitions(stream.partitions_name, new)
        result.registered[stream.source] = len(new)


def latest_run(instance: dg.DagsterInstance, job_name: str) -> dg.RunRecord | None:
    """The most recently created run of `job_name` in `instance`, whatever its status."""
    records = instance.get_run_records(dg.RunsFilter(job_name=job_name), limit=1)
    return records[0] if records else None


def listing_unchanged(instance: dg.DagsterInstance, job_name: str, digest: str | None) -> bool:
    """Whether the latest run of `job_name` succeeded landing exactly the listing `digest` (known)."""
    last = latest_run(instance, job_name)
    return (
        digest is not None
        and last is not None
        and last.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        and last.dagster_run.tags.get(LISTING_TAG) == digest
    )


def pipeline_settings_digest(
    defs: dg.Definitions,
    instance: dg.DagsterInstance | None = None,
    warehouse_id: str | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> str:
    """A digest of the settings `data_pipeline`'s stages redo work for when they change, besides new raw rows.

    The warehouse's identity (a wiped or new warehouse is filled again), the chunker (documents chunked with other
    parameters are re-chunked), the embedder's model id (the vector ledger is keyed by it) and the lexical store's
    location (an empty store with a non-empty ledger is refilled).
    Nothing else does work on its own: the vector store is diffed through the warehouse ledger, BM25's parameters
    are constants, the batch size and the reject-rate threshold change no row. `instance`: the one to resolve the
    resources against (None: an ephemeral one). `warehouse_id`: the identity already read this pass (None: read it).
    Resource config given in `run_config` (its `resources` section) counts too: a run with other overrides redoes
    its stages' work rather than being skipped as current.
    """
    keys = ("pipeline", "embedder", "lexical_store", *(("warehouse",) if warehouse_id is None else ()))
    res = resolve_all({key: defs.resources[key] for key in keys}, instance or dg.DagsterInstance.ephemeral())
    pipeline = res["pipeline"]
    settings = {
        "warehouse": warehouse_identity(res["warehouse"]) if warehouse_id is None else warehouse_id,
        "chunker": chunker_key(pipeline.chunk_max_chars, pipeline.chunk_overlap_chars),
        "model_id": res["embedder"].model_id,
        "lexical_store": res["lexical_store"].location,
        "run_config_resources": dict((run_config or {}).get("resources") or {}),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def land_sources(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    streams: Sequence[StreamSpec] = STREAMS,
    run_config: Mapping[str, Any] | None = None,
    skip_unchanged: bool = True,
) -> LandResult:
    """Register every current source run, then land each stream's partitions in one run (steps 1 and 2).

    `skip_unchanged`: streams whose listing is the one their latest land run succeeded with are not launched
    (False: every stream is).
    """
    streams = check_streams(streams)
    systems = {s.system: defs.resources[s.system] for s in streams}
    resources = resolve_all({**systems, "warehouse": defs.resources["warehouse"]}, instance)
    result = LandResult(warehouse_id=warehouse_identity(resources["warehouse"]))
    register_source_runs(instance, streams, resources, result, result.warehouse_id)
    for stream in streams:
        digest = result.listings.get(stream.source)
        if skip_unchanged and listing_unchanged(instance, stream.land_job_name, digest):
            result.skipped.append(stream.land_job_name)
            continue
        keys = instance.get_dynamic_partitions(stream.partitions_name)
        job = defs.resolve_job_def(stream.land_job_name)
        tags = {**(range_tags(keys) if keys else {}), **({LISTING_TAG: digest} if digest else {})}
        result.runs.append(
            job.execute_in_process(instance=instance, tags=tags, run_config=run_config, raise_on_error=False)
        )
    return result


def downstream_current(instance: dg.DagsterInstance, streams: Sequence[StreamSpec], settings: str) -> bool:
    """Whether the latest `data_pipeline` run succeeded with the settings digest `settings` and started after every
    stream's latest land run ended."""
    last = latest_run(instance, data_pipeline_job.name)
    if (
        last is None
        or last.dagster_run.status != dg.DagsterRunStatus.SUCCESS
        or last.dagster_run.tags.get(SETTINGS_TAG) != settings
        or last.start_time is None
    ):
        return False
    for stream in streams:
        land = latest_run(instance, stream.land_job_name)
        if land is not None and (land.end_time is None or land.end_time > last.start_time):
            return False
    return True


def land_everything(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    streams: Sequence[StreamSpec] = STREAMS,
    run_config: Mapping[str, Any] | None = None,
    skip_unchanged: bool = True,
) -> LandResult:
    """Register, land every stream's partitions (one run each), then bring documents, chunks and vectors up to date.

    Runs do not raise; `LandResult.success` says whether every listing and run succeeded. `data_pipeline` runs
    even after a failed land run, so what did land goes all the way to the vectors. `skip_unchanged`: see the
    module docstring (an unchanged stream is not landed again; nothing landed and downstream current with the same
    settings: no run); False launches everything.
    """
    result = land_sources(defs, instance, streams, run_config, skip_unchanged)
    settings = pipeline_settings_digest(defs, instance, result.warehouse_id, run_config)
    if skip_unchanged and not result.runs and not result.errors and downstream_current(instance, streams, settings):
        result.skipped.append(data_pipeline_job.name)
        return result
    downstream = defs.resolve_job_def(data_pipeline_job.name)
    result.runs.append(
        downstream.execute_in_process(
            instance=instance, tags={SETTINGS_TAG: settings}, run_config=run_config, raise_on_error=False
        )
    )
    return result


def main(argv: list[str] | None = None) -> int:
    from sophia_platform.loader import load_platform

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="WARNING", help="Dagster console log level of the runs")
    parser.add_argument(
        "--all",
        action="store_true",
        help="launch every land job and data_pipeline even when nothing changed",
    )
    args = parser.parse_args(argv)
    instance = dg.DagsterInstance.get()
    for run_id in end_dead_runs(instance):  # no daemon here: a killed earlier run must not hold the data-plane pool
        print(f"Marked run {run_id} failed: its process is gone.", flush=True)
    result = land_everything(
        load_platform(), instance, run_config=console_log_level(args.log_level), skip_unchanged=not args.all
    )
    print(summary(result))
    return 0 if result.success else 1


def console_log_level(level: str) -> dict[str, Any]:
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def summary(result: LandResult) -> str:
    """Partitions added per stream, then each run's materializations with their numeric metadata."""
    lines = [f"  {source:<40} {n:>6} new source runs registered" for source, n in result.registered.items()]
    for run in result.runs:
        lines.append(f"Run {run.run_id[:8]} {run.job_def.name}: {'succeeded' if run.success else 'FAILED'}")
        seen: set[str] = set()
        for event in run.get_asset_materialization_events():
            mat = event.materialization
            name = mat.asset_key.to_user_string()
            if name in seen:  # a range run records the same figures once per partition
                continue
            seen.add(name)
            numbers = {k: v.value for k, v in mat.metadata.items() if isinstance(v.value, int | float)}
            shown = ", ".join(f"{k}={v}" for k, v in numbers.items() if not k.startswith("dagster/"))
            lines.append(f"  {name:<36} {shown}")
    lines += [f"Skipped {job}: nothing changed since its last successful run" for job in result.skipped]
    lines += [f"WARNING: {line}" for line in result.warnings]
    lines += [f"FAILED: {line}" for line in result.failures()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
