"""Raw assets partitioned by source run: a run (or a backfill over a range) lands exactly its source runs and changes
nothing else; the file quarantine is scoped to them; production sources land one run / container / day by key; the
demo path (register everything, one run per stream, then downstream) lands everything once."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from resources.apify import ApifyPayloadSource
from resources.http_retry import PermanentSourceError
from resources.phantombuster import PhantomBusterPayloadSource
from resources.tavily import TavilyPayloadSource, query_set, slugify
from sophia_pipelines.assets.ingestion import QUARANTINE_CHECK
from sophia_pipelines.jobs import data_pipeline_job
from sophia_pipelines.land import land_everything, land_sources
from sophia_pipelines.partitions import range_tags
from sophia_pipelines.streams import STREAMS, WEB_SEARCH, WEBSITE_CONTENT, StreamSpec
from tests.conftest import DataPlane, build_data_plane, metadata_by_asset
from tests.standins.apify import ApifyStandin, website_content_items
from tests.standins.phantombuster import PhantomBusterStandin, search_export_rows
from tests.standins.tavily import TavilyStandin
from tests.test_payloads_local import write

# --- local partitions ------------------------------------------------------------------------------------------


def raw_state(plane: DataPlane) -> dict[str, set[tuple]]:
    """Every raw row (batch, index, payload hash) and ledger row (batch, fingerprint), per table."""
    state = {
        s.table.name: set(plane.rows(f"SELECT batch_id, item_index, payload_hash FROM {s.table.name}")) for s in STREAMS
    }
    state["raw_batches"] = set(plane.rows("SELECT source, batch_id, fingerprint FROM raw_batches"))
    return state


def land_run(plane: DataPlane, stream: StreamSpec, **kwargs: Any) -> dg.ExecuteInProcessResult:
    job = plane.definitions().resolve_job_def(stream.land_job_name)
    return job.execute_in_process(instance=plane.instance, **kwargs)


def materialized(plane: DataPlane, stream: StreamSpec) -> list[str | None]:
    records = plane.instance.fetch_materializations(stream.asset_key, limit=1000).records
    return [r.partition_key for r in records]


def edit_tavily(plane: DataPlane, key: str) -> None:
    path = plane.samples / "tavily" / f"{key}.json"
    response = json.loads(path.read_text(encoding="utf-8"))
    response["answer"] = f"Edited answer for {key}."  # content (not a volatile field): the payload hash changes
    path.write_text(json.dumps(response), encoding="utf-8")


@pytest.fixture
def landed(tmp_path: Path) -> DataPlane:
    plane = build_data_plane(tmp_path)
    assert land_sources(plane.definitions(), plane.instance).success  # every file a partition, each landed once
    return plane


@pytest.mark.slow
def test_two_chosen_partitions_re_land_and_nothing_else_changes(landed: DataPlane) -> None:
    plane = landed
    keys = list(plane.instance.get_dynamic_partitions(WEB_SEARCH.partitions_name))
    chosen, other = [keys[1], keys[2]], keys[5]
    for key in (*chosen, other):
        edit_tavily(plane, key)
    before = raw_state(plane)
    materialized_before = materialized(plane, WEB_SEARCH)

    backfill = land_run(plane, WEB_SEARCH, tags=range_tags(chosen))  # what a single-run backfill launches

    assert backfill.success
    md = metadata_by_asset(backfill)[WEB_SEARCH.table.name]
    assert (md["source_runs"], md["batches"], md["rows_updated"], md["rows_inserted"]) == (2, 2, 2, 0)
    assert sorted(materialized(plane, WEB_SEARCH)[: -len(materialized_before)]) == sorted(chosen)
    after = raw_state(plane)
    changed = after[WEB_SEARCH.table.name] - before[WEB_SEARCH.table.name]
    assert {batch for batch, _, _ in changed} == set(chosen)  # the unchosen edit waits for its own run
    assert {t: v for t, v in after.items() if t not in (WEB_SEARCH.table.name, "raw_batches")} == {
        t: v for t, v in before.items() if t not in (WEB_SEARCH.table.name, "raw_batches")
    }
    assert {b for _, b, _ in after["raw_batches"] - before["raw_batches"]} == set(chosen)

    single = land_run(plane, WEB_SEARCH, partition_key=other)
    assert metadata_by_asset(single)[WEB_SEARCH.table.name]["rows_updated"] == 1
    again = land_run(plane, WEB_SEARCH, partition_key=other)  # nothing new: skipped by fingerprint
    assert metadata_by_asset(again)[WEB_SEARCH.table.name]["batches"] == 0


@pytest.mark.slow
def test_quarantine_is_scoped_to_the_partitions_a_run_lands(landed: DataPlane) -> None:
    plane = landed
    folder = plane.samples / WEBSITE_CONTENT.sample_folder
    (folder / "broken.json").write_text("[{not json")
    assert land_sources(plane.definitions(), plane.instance).success  # registers "broken", lands it: quarantined

    good = next(k for k in plane.instance.get_dynamic_partitions(WEBSITE_CONTENT.partitions_name) if k != "broken")
    other = land_run(plane, WEBSITE_CONTENT, partition_key=good)
    (check,) = other.get_asset_check_evaluations()
    assert check.check_name == QUARANTINE_CHECK and not check.passed  # still quarantined: not this run's file
    assert [f["path"] for f in check.metadata["quarantined_files"].value] == [
        f"{WEBSITE_CONTENT.sample_folder}/broken.json"
    ]

    write(plane.samples, f"{WEBSITE_CONTENT.sample_folder}/broken.json", website_content_items(2))
    fixed = land_run(plane, WEBSITE_CONTENT, partition_key="broken")
    md = metadata_by_asset(fixed)[WEBSITE_CONTENT.table.name]
    assert (md["rows_inserted"], md["files_quarantined"]) == (2, 0)
    assert fixed.get_asset_check_evaluations()[0].passed
    assert plane.rows("SELECT COUNT(*) FROM raw_file_quarantine") == [(0,)]


@pytest.mark.slow
def test_a_deleted_files_partition_lands_nothing_and_leaves_the_quarantine(landed: DataPlane) -> None:
    plane = landed
    folder = plane.samples / WEBSITE_CONTENT.sample_folder
    (folder / "doomed.json").write_text("not json")
    assert land_sources(plane.definitions(), plane.instance).success
    assert plane.rows("SELECT COUNT(*) FROM raw_file_quarantine") == [(1,)]
    (folder / "doomed.json").unlink()
    gone = land_run(plane, WEBSITE_CONTENT, partition_key="doomed")
    md = metadata_by_asset(gone)[WEBSITE_CONTENT.table.name]
    assert (md["batches"], md["files_quarantined"]) == (0, 0)
    assert plane.rows("SELECT COUNT(*) FROM raw_file_quarantine") == [(0,)]


@pytest.mark.slow
def test_a_run_without_a_partition_lands_every_registered_source_run(tmp_path: Path) -> None:
    plane = build_data_plane(tmp_path)
    land_sources(plane.definitions(), plane.instance)
    files = sorted((plane.samples / "tavily").glob("*.json"))
    for path in files[:2]:
        edit_tavily(plane, path.stem)
    everything = land_run(plane, WEB_SEARCH)
    md = metadata_by_asset(everything)[WEB_SEARCH.table.name]
    assert (md["source_runs"], md["batches"], md["rows_updated"]) == (len(files), 2, 2)


@pytest.mark.slow
def test_land_everything_twice_registers_and_lands_once(tmp_path: Path) -> None:
    plane = build_data_plane(tmp_path)
    shutil.copy(
        plane.samples / "tavily" / f"{sorted(p.stem for p in (plane.samples / 'tavily').glob('*.json'))[0]}.json",
        plane.samples / "tavily" / "bad...name.json",
    )
    first = plane.materialize()
    assert first.registered == {
        s.source: len(list((plane.samples / s.sample_folder).glob("*.json"))) - (s == WEB_SEARCH) for s in STREAMS
    }
    assert [run.job_def.name for run in first.runs] == [*(s.land_job_name for s in STREAMS), "data_pipeline"]
    assert first.warnings == ["tavily/search: source run 'bad...name' skipped: partition keys cannot contain '...'"]
    second = plane.materialize()
    assert second.registered == {s.source: 0 for s in STREAMS}
    md = metadata_by_asset(second)
    assert all(md[s.table.name]["batches"] == 0 for s in STREAMS)
    assert md["chunk_vectors"]["chunks_embedded"] == 0


@pytest.mark.slow
def test_skip_unchanged_launches_nothing_when_idle_and_only_the_changed_stream_after_an_edit(tmp_path: Path) -> None:
    plane = build_data_plane(tmp_path)
    defs, land_jobs = plane.definitions(), [s.land_job_name for s in STREAMS]
    first = land_everything(defs, plane.instance, skip_unchanged=True)
    assert first.success and first.skipped == []
    assert [run.job_def.name for run in first.runs] == [*land_jobs, data_pipeline_job.name]

    idle = land_everything(defs, plane.instance, skip_unchanged=True)
    assert idle.success and idle.runs == [] and idle.skipped == [*land_jobs, data_pipeline_job.name]

    edit_tavily(plane, sorted(p.stem for p in (plane.samples / "tavily").glob("*.json"))[0])
    edited = land_everything(defs, plane.instance, skip_unchanged=True)
    assert [run.job_def.name for run in edited.runs] == [WEB_SEARCH.land_job_name, data_pipeline_job.name]
    assert edited.skipped == [name for name in land_jobs if name != WEB_SEARCH.land_job_name]
    md = metadata_by_asset(edited)
    assert (md[WEB_SEARCH.table.name]["batches"], md[WEB_SEARCH.table.name]["rows_updated"]) == (1, 1)

    land_run(plane, WEB_SEARCH)  # a run without the listing tag (as the sensors launch): the next pass lands again
    after_sensor = land_everything(defs, plane.instance, skip_unchanged=True)
    assert [run.job_def.name for run in after_sensor.runs] == [WEB_SEARCH.land_job_name, data_pipeline_job.name]


# --- production sources, one source run by key ---------------------------------------------------------------------

TOKEN = "fake-apify-token-for-partition-tests"
ACTOR = "apify~website-content-crawler"


@pytest.fixture
def apify() -> Iterator[ApifyStandin]:
    with ApifyStandin(TOKEN) as server:
        yield server


def apify_source(standin: ApifyStandin) -> ApifyPayloadSource:
    return ApifyPayloadSource(
        token=TOKEN, api_url=standin.url, actors={WEBSITE_CONTENT.stream: ACTOR}, min_retry_delay_seconds=0.0
    )


def test_apify_lands_one_run_by_id_and_never_downloads_a_landed_run(apify: ApifyStandin) -> None:
    apify.add_run(ACTOR, website_content_items(3), run_id="run-a")
    apify.add_run(ACTOR, website_content_items(1), run_id="run-b")
    apify.add_run(ACTOR, [], run_id="run-live", status="RUNNING")
    source = apify_source(apify)

    (batch,) = source.fetch_batch(WEBSITE_CONTENT.stream, "run-a")

    assert (batch.batch_id, len(batch.items), batch.fingerprint) == ("run-a", 3, "apify-run:run-a:ds-run-a")
    assert "/v2/datasets/ds-run-b/items" not in apify.paths()
    seen = len(apify.requests)
    assert list(source.fetch_batch(WEBSITE_CONTENT.stream, "run-a", {"run-a": batch.fingerprint or ""})) == []
    assert len(apify.requests) == seen  # a landed SUCCEEDED run costs no request
    with pytest.raises(PermanentSourceError, match="run run-live is RUNNING"):
        list(source.fetch_batch(WEBSITE_CONTENT.stream, "run-live"))
    with pytest.raises(PermanentSourceError, match="run nope does not exist"):
        list(source.fetch_batch(WEBSITE_CONTENT.stream, "nope"))


PB_KEY = "pb-partition-test-key-0000"
AGENT = "8880001"


@pytest.fixture
def phantom() -> Iterator[PhantomBusterStandin]:
    with PhantomBusterStandin(PB_KEY) as server:
        yield server


def test_phantombuster_lands_one_container_by_id(phantom: PhantomBusterStandin) -> None:
    phantom.add_container(AGENT, search_export_rows(2), ended_at=1_760_000_000_000, container_id="c1")
    phantom.add_container(AGENT, search_export_rows(5), ended_at=1_760_000_060_000, container_id="c2")
    phantom.add_container(AGENT, None, status="running", container_id="c-run")
    source = PhantomBusterPayloadSource(
        api_key=PB_KEY,
        base_url=phantom.base_url,
        s3_base_url=phantom.s3_base_url,
        agents={"s": AGENT},
        retry_base_delay_seconds=0.0,
    )
    (batch,) = source.fetch_batch("s", "c1")
    assert (batch.batch_id, len(batch.items)) == ("c1", 2)
    assert batch.fingerprint == "phantombuster-container:c1:1760000000000"
    assert list(source.fetch_batch("s", "c1", {"c1": batch.fingerprint or ""})) == []
    with pytest.raises(PermanentSourceError, match="container c-run is running"):
        list(source.fetch_batch("s", "c-run"))


def test_phantombuster_result_file_lands_only_for_the_newest_container(phantom: PhantomBusterStandin) -> None:
    rows_ = search_export_rows(4)
    phantom.set_result_file(AGENT, rows_)
    pointer = {"jsonUrl": "https://phantombuster.s3.amazonaws.com/x/y/result.json"}
    phantom.add_container(AGENT, pointer, ended_at=1_760_000_000_000, container_id="old")
    phantom.add_container(AGENT, pointer, ended_at=1_760_000_060_000, container_id="new")
    source = PhantomBusterPayloadSource(
        api_key=PB_KEY, base_url=phantom.base_url, s3_base_url=phantom.s3_base_url, agents={"s": AGENT}
    )
    assert list(source.fetch_batch("s", "old")) == []  # the file holds the newest launch's rows, not this one's
    (batch,) = source.fetch_batch("s", "new")
    assert batch.items == rows_


QUERIES = ["GPU cloud pricing for LLM inference", "vector database benchmarks"]


def test_tavily_lands_a_day_once_and_refuses_another_query_set() -> None:
    with TavilyStandin("tvly-PARTITIONTEST0000") as standin:
        source = TavilyPayloadSource(api_key="tvly-PARTITIONTEST0000", api_base_url=standin.url, queries=QUERIES)
        key = f"{query_set('search', QUERIES)}-{date(2026, 3, 5).isoformat()}"
        batches = list(source.fetch_batch("search", key))
        assert [b.batch_id for b in batches] == [slugify(q) for q in QUERIES]
        assert {b.fingerprint for b in batches} == {f"tavily-day:{key}"}
        known = {b.batch_id: b.fingerprint or "" for b in batches}
        assert list(source.fetch_batch("search", key, known)) == []  # that day's searches already landed
        assert len(standin.requests) == len(QUERIES)
        other = f"{query_set('search', ['another query'])}-2026-03-05"
        with pytest.raises(PermanentSourceError, match="not a day of the configured query set"):
            list(source.fetch_batch("search", other))
        with pytest.raises(PermanentSourceError):
            list(source.fetch_batch("search", "search-2026-13-45"))


def test_tavily_day_rolls_over_at_the_configured_time() -> None:
    source = TavilyPayloadSource(api_key="k", queries=QUERIES, daily_at_utc="06:30")
    six = datetime(2026, 3, 5, 6, 29, tzinfo=UTC)
    assert source.due_day(six) == date(2026, 3, 4)
    assert source.due_day(six + timedelta(minutes=1)) == date(2026, 3, 5)
