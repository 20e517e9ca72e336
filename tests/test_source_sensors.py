"""The source sensors, ticked with `dg.build_sensor_context` on a real (temp) instance, against the stand-ins and a
private samples folder: cursors advance, run keys dedupe, bounded pages carry the rest, failures skip and keep
their position, and the Tavily sensor asks for the day's partition once."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from resources import tavily as tavily_module
from resources.apify import ApifyPayloadSource
from resources.payloads import BUNDLED_SAMPLES_DIR
from resources.phantombuster import PhantomBusterPayloadSource
from resources.profile import profile
from resources.registry import local_resources
from resources.tavily import TavilyPayloadSource, query_set
from resources.warehouse import DuckDBWarehouse
from sophia_pipelines.assets.ingestion import build_ingestion_assets, build_land_jobs
from sophia_pipelines.sensors.source_sensors import SAMPLES_SENSOR, build_source_sensors, source_sensor
from sophia_pipelines.sensors.tick import TickSettings
from sophia_pipelines.streams import LINKEDIN_SEARCH, STREAMS, WEB_SEARCH, WEBSITE_CONTENT, StreamSpec
from tests.standins.apify import ApifyStandin, website_content_items
from tests.standins.phantombuster import PhantomBusterStandin, search_export_rows
from tests.standins.tavily import TavilyStandin

TOKEN = "fake-apify-token-for-sensor-tests"
PB_KEY = "pb-sensor-test-key-000000"
TAVILY_KEY = "fake-tavily-key-for-sensor-tests"
AGENT = "7770001"
WCC_ACTOR = "apify~website-content-crawler"
LPS_ACTOR = "dev_fusion~Linkedin-Profile-Scraper"


@dataclass
class Ticker:
    """Ticks one sensor like the daemon: applies the partitions it adds and keeps its cursor between ticks."""

    sensor: dg.SensorDefinition
    defs: dg.Definitions
    resources: dict[str, Any]
    instance: dg.DagsterInstance
    cursor: str | None = None
    run_keys: list[str] = field(default_factory=list)  # every run key requested so far

    def tick(self) -> Any:
        with dg.build_sensor_context(
            instance=self.instance,
            instance_ref=self.instance.get_ref(),
            definitions=self.defs,
            resources=self.resources,
            cursor=self.cursor,
        ) as context:
            data = self.sensor.evaluate_tick(context)
        for request in data.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        self.cursor = data.cursor
        self.run_keys += [r.run_key for r in data.run_requests or []]
        return data

    def partitions(self, stream: StreamSpec) -> list[str]:
        return list(self.instance.get_dynamic_partitions(stream.partitions_name))

    def land(self, stream: StreamSpec, key: str) -> dg.ExecuteInProcessResult:
        job = self.defs.resolve_job_def(stream.land_job_name)
        return job.execute_in_process(instance=self.instance, partition_key=key)


def ticker(
    sensor: dg.SensorDefinition, resources: dict[str, Any], instance: dg.DagsterInstance, streams=STREAMS
) -> Ticker:
    """`sensor` in a code location with the raw assets of `streams` (its jobs come with it)."""
    resources = {"warehouse": DuckDBWarehouse(duckdb=DuckDBResource(database=":memory:")), **resources}
    defs = dg.Definitions(assets=build_ingestion_assets("duckdb", streams), sensors=[sensor], resources=resources)
    return Ticker(sensor, defs, resources, instance)


def land_jobs() -> dict[str, Any]:
    return {s.source: job for s, job in zip(STREAMS, build_land_jobs(), strict=True)}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def by_job(data: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for request in data.run_requests:
        out.setdefault(request.job_name, []).append(request.partition_key)
    return out


# --- which sensors exist -----------------------------------------------------------------------------------------


def test_one_sensor_per_system_in_production_and_one_samples_sensor_locally() -> None:
    jobs = build_land_jobs()
    local = build_source_sensors(profile("local"), jobs)
    assert [s.name for s in local] == [SAMPLES_SENSOR]
    assert local[0].default_status == dg.DefaultSensorStatus.RUNNING  # a dropped file lands with no click
    assert local[0].minimum_interval_seconds == 30
    live = build_source_sensors(profile("production"), jobs)
    assert [s.name for s in live] == ["apify_runs", "phantombuster_containers", "tavily_daily"]
    assert {s.default_status for s in live} == {dg.DefaultSensorStatus.RUNNING}
    assert all(60 <= s.minimum_interval_seconds <= 600 for s in live)
    assert {j.name for j in live[0].jobs} == {"land_apify_website_content", "land_apify_linkedin_profiles"}


# --- local: payload files ----------------------------------------------------------------------------------------


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    folder = tmp_path / "samples"
    shutil.copytree(BUNDLED_SAMPLES_DIR, folder)
    return folder


def samples_ticker(samples: Path, tmp_path: Path, instance: dg.DagsterInstance, **settings: Any) -> Ticker:
    sensor = build_source_sensors(profile("local"), build_land_jobs())[0]
    if settings:
        sensor = source_sensor(SAMPLES_SENSOR, STREAMS, land_jobs(), TickSettings(**settings), 30, True, "test")
    return ticker(sensor, local_resources(tmp_path / "data", samples), instance)


def files_of(samples: Path, stream: StreamSpec) -> list[Path]:
    return sorted((samples / stream.sample_folder).glob("*.json"))


def test_first_tick_registers_every_file_and_requests_one_run_each(
    samples: Path, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    t = samples_ticker(samples, tmp_path, instance)
    data = t.tick()
    for stream in STREAMS:
        stems = [p.stem for p in files_of(samples, stream)]
        assert sorted(t.partitions(stream)) == sorted(stems)
        assert sorted(by_job(data)[stream.land_job_name]) == sorted(stems)
    assert len(t.run_keys) == len(set(t.run_keys)) == sum(len(files_of(samples, s)) for s in STREAMS)
    first = files_of(samples, WEBSITE_CONTENT)[0]
    (key,) = [k for k in t.run_keys if k.startswith(f"{WEBSITE_CONTENT.source}/{first.stem}:")]
    assert len(key.split(":")[-1]) == 16  # the content's fingerprint

    again = t.tick()  # nothing new: no request, no partition
    assert again.run_requests == [] and not again.dynamic_partitions_requests


def test_a_changed_file_is_requested_again_and_a_touched_one_keeps_its_run_key(
    samples: Path, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    t = samples_ticker(samples, tmp_path, instance)
    t.tick()
    first_keys = set(t.run_keys)
    edited, touched = files_of(samples, WEBSITE_CONTENT)
    items = json.loads(edited.read_text())
    edited.write_text(json.dumps(items[:-1]))
    os.utime(touched)  # a new mtime, the same bytes

    data = t.tick()

    requested = {r.partition_key: r.run_key for r in data.run_requests}
    assert set(requested) == {edited.stem, touched.stem}
    assert requested[edited.stem] not in first_keys  # new content: a new run key, so the daemon launches it
    assert requested[touched.stem] in first_keys  # same content: the daemon skips the repeated run key
    assert not data.dynamic_partitions_requests  # both partitions exist already


def test_landed_files_are_not_requested_by_a_fresh_sensor_until_they_change(
    samples: Path, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    t = samples_ticker(samples, tmp_path, instance)
    t.tick()
    for stream in STREAMS:
        for key in t.partitions(stream):
            assert t.land(stream, key).success

    fresh = samples_ticker(samples, tmp_path, instance)  # e.g. after the land CLI, or a reset cursor
    assert fresh.tick().run_requests == []

    old = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
    replaced = files_of(samples, LINKEDIN_SEARCH)[0]
    payload = json.loads(replaced.read_text())
    replaced.write_text(json.dumps(payload[:1]))
    os.utime(replaced, (old, old))  # copied in with an old modification time (cp -p): still seen by its ctime
    (request,) = fresh.tick().run_requests
    assert (request.job_name, request.partition_key) == (LINKEDIN_SEARCH.land_job_name, replaced.stem)


def test_bounded_pages_carry_the_rest_in_the_cursor(
    samples: Path, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    t = samples_ticker(samples, tmp_path, instance, page_size=2, max_pages=1)
    per_tick = []
    for _ in range(10):
        per_tick.append(len(t.tick().run_requests))
    tavily_files = len(files_of(samples, WEB_SEARCH))
    assert max(per_tick) <= 2 * len(STREAMS)  # at most one page of two per stream and tick
    assert sum(per_tick) == sum(len(files_of(samples, s)) for s in STREAMS)  # everything, each exactly once
    assert len(t.run_keys) == len(set(t.run_keys))
    assert len(t.partitions(WEB_SEARCH)) == tavily_files > 2 * 3  # took several ticks


def test_a_file_name_dagster_cannot_hold_as_a_key_is_skipped_and_the_rest_lands(
    samples: Path, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    (samples / WEBSITE_CONTENT.sample_folder / "run...1.json").write_text("[]")
    t = samples_ticker(samples, tmp_path, instance)
    data = t.tick()
    assert "run...1" not in t.partitions(WEBSITE_CONTENT)
    assert len(data.run_requests) == sum(len(files_of(samples, s)) for s in STREAMS) - 1
    assert t.tick().run_requests == []  # the cursor moved past it: not retried every tick


# --- Apify -------------------------------------------------------------------------------------------------------


@pytest.fixture
def apify() -> Iterator[ApifyStandin]:
    with ApifyStandin(TOKEN) as server:
        yield server


def apify_ticker(standin: ApifyStandin, instance: dg.DagsterInstance, page_size: int = 1000, **source: Any) -> Ticker:
    streams = [s for s in STREAMS if s.system == "apify"]
    settings = TickSettings(page_size=page_size, max_pages=1)
    sensor = source_sensor("apify_runs", streams, land_jobs(), settings, 120, True, "t")
    resource = ApifyPayloadSource(
        token=TOKEN,
        api_url=standin.url,
        actors={WEBSITE_CONTENT.stream: WCC_ACTOR, "linkedin-profile-scraper": LPS_ACTOR},
        max_retries=1,
        min_retry_delay_seconds=0.0,
        **source,
    )
    return ticker(sensor, {"apify": resource}, instance, streams)


def add_run(standin: ApifyStandin, actor: str, run_id: str, hours_ago: float, status: str = "SUCCEEDED") -> None:
    started = datetime.now(UTC) - timedelta(hours=hours_ago)
    standin.add_run(actor, website_content_items(1), run_id=run_id, started_at=started, status=status)


def test_apify_requests_each_succeeded_run_once(apify: ApifyStandin, instance: dg.DagsterInstance) -> None:
    add_run(apify, WCC_ACTOR, "wcc-old", 5)
    add_run(apify, WCC_ACTOR, "wcc-new", 2)
    add_run(apify, WCC_ACTOR, "wcc-running", 1, status="RUNNING")
    add_run(apify, WCC_ACTOR, "wcc-failed", 1, status="FAILED")
    add_run(apify, LPS_ACTOR, "lps-1", 3)
    t = apify_ticker(apify, instance)

    data = t.tick()

    assert sorted(t.run_keys) == [
        "apify/linkedin-profile-scraper/lps-1",
        "apify/website-content-crawler/wcc-new",
        "apify/website-content-crawler/wcc-old",
    ]
    assert sorted(t.partitions(WEBSITE_CONTENT)) == ["wcc-new", "wcc-old"]
    assert by_job(data)["land_apify_linkedin_profiles"] == ["lps-1"]
    assert t.tick().run_requests == []  # the cursor moved past them

    add_run(apify, WCC_ACTOR, "wcc-later", 0.5)
    assert [r.partition_key for r in t.tick().run_requests] == ["wcc-later"]


def test_apify_finds_a_run_that_finished_at_the_cursor_instant_and_a_long_run(
    apify: ApifyStandin, instance: dg.DagsterInstance
) -> None:
    add_run(apify, WCC_ACTOR, "first", 2)
    t = apify_ticker(apify, instance)
    t.tick()
    add_run(apify, WCC_ACTOR, "same-instant", 2)  # started and finished exactly like "first"
    long_run = datetime.now(UTC) - timedelta(hours=20)
    apify.add_run(WCC_ACTOR, [], run_id="long", started_at=long_run)
    apify.runs[WCC_ACTOR][-1]["finishedAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")  # ran 20 hours
    assert sorted(r.partition_key for r in t.tick().run_requests) == ["long", "same-instant"]
    assert t.tick().run_requests == []


def test_apify_pages_are_bounded_and_carried_over(apify: ApifyStandin, instance: dg.DagsterInstance) -> None:
    for n in range(7):
        add_run(apify, WCC_ACTOR, f"run-{n}", 10 - n)
    t = apify_ticker(apify, instance, page_size=3)
    sizes = [len([r for r in t.tick().run_requests if r.job_name == "land_apify_website_content"]) for _ in range(4)]
    assert sizes == [3, 3, 1, 0]
    assert sorted(t.partitions(WEBSITE_CONTENT)) == [f"run-{n}" for n in range(7)]
    assert len(t.run_keys) == len(set(t.run_keys))


def test_apify_failure_skips_and_keeps_the_position(apify: ApifyStandin, instance: dg.DagsterInstance) -> None:
    add_run(apify, WCC_ACTOR, "a", 3)
    add_run(apify, LPS_ACTOR, "p", 3)
    t = apify_ticker(apify, instance)
    t.tick()
    before = json.loads(t.cursor or "{}")["streams"]
    add_run(apify, WCC_ACTOR, "b", 1)
    apify.fail_next(2, 503, path=f"/v2/actors/{WCC_ACTOR}/runs")  # both attempts of the website listing

    failed = t.tick()

    assert failed.run_requests == [] and "apify/website-content-crawler" in failed.skip_message
    assert "HTTP 503" in failed.skip_message and TOKEN not in failed.skip_message
    assert json.loads(failed.cursor)["streams"] == before  # nothing lost, nothing skipped
    assert [r.partition_key for r in t.tick().run_requests] == ["b"]


# --- PhantomBuster -----------------------------------------------------------------------------------------------


@pytest.fixture
def phantom() -> Iterator[PhantomBusterStandin]:
    with PhantomBusterStandin(PB_KEY, page_size=3) as server:
        yield server


def pb_ticker(standin: PhantomBusterStandin, instance: dg.DagsterInstance, max_pages: int = 1) -> Ticker:
    settings = TickSettings(page_size=3, max_pages=max_pages)
    sensor = source_sensor("phantombuster_containers", [LINKEDIN_SEARCH], land_jobs(), settings, 120, True, "t")
    resource = PhantomBusterPayloadSource(
        api_key=PB_KEY,
        base_url=standin.base_url,
        s3_base_url=standin.s3_base_url,
        agents={LINKEDIN_SEARCH.stream: AGENT},
        max_attempts=2,
        retry_base_delay_seconds=0.0,
        retry_max_delay_seconds=0.0,
    )
    return ticker(sensor, {"phantombuster": resource}, instance, [LINKEDIN_SEARCH])


T0 = 1_760_000_000_000


def test_phantombuster_pages_back_by_ended_at_and_moves_its_cursor(
    phantom: PhantomBusterStandin, instance: dg.DagsterInstance
) -> None:
    for n in range(7):
        phantom.add_container(AGENT, search_export_rows(1), ended_at=T0 + n * 1000, container_id=f"c{n}")
    phantom.add_container(AGENT, None, status="running", container_id="still-running")
    t = pb_ticker(phantom, instance)

    ticks = [sorted(r.partition_key for r in t.tick().run_requests) for _ in range(4)]

    assert ticks == [["c4", "c5", "c6"], ["c1", "c2", "c3"], ["c0"], []]  # newest page first, then back
    phantom.add_container(AGENT, search_export_rows(1), ended_at=T0 + 6000, container_id="c6-twin")  # same ms
    phantom.add_container(AGENT, search_export_rows(1), ended_at=T0 + 9000, container_id="c9")
    assert sorted(r.partition_key for r in t.tick().run_requests) == ["c6-twin", "c9"]
    assert t.tick().run_requests == []
    assert len(t.run_keys) == len(set(t.run_keys)) == 9
    fetches = [r for r in phantom.requests if r.path.endswith("/containers/fetch-all")]
    assert all(r.query["mode"] == "finalized" for r in fetches)


def test_phantombuster_failure_skips_and_keeps_the_position(
    phantom: PhantomBusterStandin, instance: dg.DagsterInstance
) -> None:
    for n in range(5):
        phantom.add_container(AGENT, search_export_rows(1), ended_at=T0 + n * 1000, container_id=f"c{n}")
    t = pb_ticker(phantom, instance)
    t.tick()  # c2..c4, the pass goes on from beforeEndedAt
    kept = t.cursor
    phantom.fail_next(2, 500, path="/api/v2/containers/fetch-all")
    failed = t.tick()
    assert failed.run_requests == [] and "phantombuster/linkedin-search-export" in failed.skip_message
    assert json.loads(failed.cursor) == json.loads(kept)
    assert sorted(r.partition_key for r in t.tick().run_requests) == ["c0", "c1"]


# --- Tavily --------------------------------------------------------------------------------------------------------


@pytest.fixture
def tavily() -> Iterator[TavilyStandin]:
    with TavilyStandin(TAVILY_KEY) as server:
        yield server


QUERIES = ["GPU cloud pricing for LLM inference", "vector database benchmarks"]


def test_tavily_daily_requests_the_query_set_day_once(
    tavily: TavilyStandin, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = build_land_jobs()
    sensor = build_source_sensors(profile("production"), jobs)[-1]
    assert sensor.name == "tavily_daily"
    resource = TavilyPayloadSource(api_key=TAVILY_KEY, api_base_url=tavily.url, queries=QUERIES)
    t = ticker(sensor, {"tavily": resource}, instance, [WEB_SEARCH])
    now = {"t": datetime(2026, 3, 5, 5, 59, tzinfo=UTC)}
    monkeypatch.setattr(tavily_module, "utc_now", lambda: now["t"])
    query_set_name = query_set("search", QUERIES)
    assert query_set_name.startswith("search-") and len(query_set_name) == len("search-") + 8

    (before_six,) = t.tick().run_requests  # 05:59: yesterday's searches are the latest due
    assert before_six.partition_key == f"{query_set_name}-2026-03-04"
    assert before_six.job_name == WEB_SEARCH.land_job_name
    assert before_six.run_key == f"tavily/search/{query_set_name}-2026-03-04"
    now["t"] = datetime(2026, 3, 5, 6, 0, tzinfo=UTC)
    (at_six,) = t.tick().run_requests
    assert at_six.partition_key == f"{query_set_name}-{date(2026, 3, 5).isoformat()}"
    now["t"] = datetime(2026, 3, 5, 23, 0, tzinfo=UTC)
    assert t.tick().run_requests == []  # once a day
    assert t.partitions(WEB_SEARCH) == [f"{query_set_name}-2026-03-04", f"{query_set_name}-2026-03-05"]
    assert tavily.requests == []  # listing searches nothing
