"""File-level quarantine: a payload file that cannot be used is recorded and skipped, the rest of the run goes on.

Stage level (DuckDB, and Snowflake under fakesnow) for each bad-file case and the quarantine's lifecycle; the whole
data graph for "the good files land and documents, chunks and vectors run in the same run", the WARN check, the
fix on the next run, a missing stream folder, and one warning per stray path.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import fakesnow
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource
from dagster_snowflake import SnowflakeResource

from resources.payloads import SamplePayloadSource
from resources.snowflake_warehouse import SnowflakeWarehouse
from resources.warehouse import DuckDBWarehouse, Warehouse
from sophia_pipelines.assets.ingestion import QUARANTINE_CHECK
from sophia_pipelines.domain.tables import RAW_FILE_QUARANTINE
from sophia_pipelines.land import LandResult
from sophia_pipelines.stages.raw import RawLoadResult, land_raw
from sophia_pipelines.streams import APIFY_WEBSITE_CONTENT, PHANTOMBUSTER_LINKEDIN_SEARCH, RAW_APIFY_WEBSITE_CONTENT
from tests.conftest import DataPlane, build_data_plane, metadata_by_asset
from tests.test_payloads_local import BAD_FILES, write, write_bad

WCC = "website-content-crawler"
WCC_DIR = f"apify/{WCC}"
RAW_WCC = RAW_APIFY_WEBSITE_CONTENT.name
# The cases the issue lists, plus NaN (parses in Python but cannot be stored as JSON).
PIPELINE_CASES = ("truncated.json", "object.json", "garbage.json", "empty.json", "latin1.json", "folder.json")
PIPELINE_CASES += ("deep.json", "nan.json")


def website_item(slug: str) -> dict[str, Any]:
    text = " ".join(f"Sentence {i} of the fixed page {slug} about GPU scheduling." for i in range(30))
    url = f"https://fixed.example/{slug}"
    return {
        "url": url,
        "crawl": {"loadedUrl": url, "loadedTime": "2026-03-02T06:00:10.611Z", "httpStatusCode": 200},
        "metadata": {"canonicalUrl": url, "title": f"Fixed {slug}", "languageCode": "en"},
        "text": text,
    }


# --- stage level ------------------------------------------------------------------------------------------------


@pytest.fixture(params=["duckdb", "snowflake"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield DuckDBWarehouse(duckdb=DuckDBResource(database=str(tmp_path / "wh.duckdb")))
        return
    with fakesnow.patch():
        yield SnowflakeWarehouse(
            snowflake=SnowflakeResource(account="sophia-test", user="t", password="p", database="DB", schema="S")
        )


def land(warehouse: Warehouse, samples: Path) -> RawLoadResult:
    source = SamplePayloadSource(system="apify", samples_dir=str(samples))
    with warehouse.session() as s:
        return land_raw(s, RAW_APIFY_WEBSITE_CONTENT, APIFY_WEBSITE_CONTENT, source, WCC)


def quarantine_rows(warehouse: Warehouse) -> pd.DataFrame:
    with warehouse.session() as s:
        s.ensure_table(RAW_FILE_QUARANTINE)
        return s.query(f"SELECT * FROM {RAW_FILE_QUARANTINE.name} ORDER BY path")


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_land_raw_quarantines_the_bad_file_and_lands_the_rest(tmp_path: Path, name: str) -> None:
    content, reason = BAD_FILES[name]
    warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=str(tmp_path / "wh.duckdb")))
    write(tmp_path, f"{WCC_DIR}/a.json", [{"url": "a1"}, {"url": "a2"}])
    write_bad(tmp_path / WCC_DIR, name, content)

    result = land(warehouse, tmp_path)

    assert (result.batches, result.items, result.total_rows, result.files_quarantined) == (1, 2, 2, 1)
    (row,) = quarantine_rows(warehouse).to_dict("records")
    assert row["source"] == APIFY_WEBSITE_CONTENT and row["path"] == f"{WCC_DIR}/{name}"
    assert reason in row["reason"]
    assert row["first_seen"] == row["last_seen"]
    if content is not None:
        assert row["size_bytes"] == len(content) and row["fingerprint"].startswith("sha256:")


def test_quarantine_lifecycle(warehouse: Warehouse, tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    write(samples, f"{WCC_DIR}/good.json", [{"url": "g"}])
    bad = write(samples, f"{WCC_DIR}/bad.json", {"not": "an array"})
    doomed = write(samples, f"{WCC_DIR}/doomed.json", "a string")

    first = land(warehouse, samples)
    assert [b.path for b in first.quarantined] == [f"{WCC_DIR}/bad.json", f"{WCC_DIR}/doomed.json"]
    assert first.items == 1 and first.released == ()
    before = quarantine_rows(warehouse).set_index("path")

    again = land(warehouse, samples)  # still bad: seen again, first sighting kept, nothing retried or landed
    assert again.files_quarantined == 2 and again.items == 0
    after = quarantine_rows(warehouse).set_index("path")
    assert (after["first_seen"] == before["first_seen"]).all()
    assert (after["last_seen"] > before["last_seen"]).all()

    bad.write_text(json.dumps([{"url": "fixed"}]))
    doomed.unlink()
    fixed = land(warehouse, samples)
    assert fixed.items == 1 and fixed.counts.inserted == 1 and fixed.files_quarantined == 0
    assert fixed.released == (f"{WCC_DIR}/bad.json", f"{WCC_DIR}/doomed.json")
    assert quarantine_rows(warehouse).empty


def test_a_landed_file_broken_then_restored_leaves_quarantine_by_fingerprint(tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(duckdb=DuckDBResource(database=str(tmp_path / "wh.duckdb")))
    path = write(tmp_path, f"{WCC_DIR}/run.json", [{"url": "a"}, {"url": "b"}])
    original = path.read_bytes()
    assert land(warehouse, tmp_path).counts.inserted == 2

    path.write_bytes(original[:10])  # a half-written copy
    broken = land(warehouse, tmp_path)
    assert broken.files_quarantined == 1 and broken.total_rows == 2  # the rows landed before are kept

    path.write_bytes(original)  # same bytes as landed: skipped by fingerprint, and no longer quarantined
    restored = land(warehouse, tmp_path)
    assert (restored.batches, restored.files_quarantined, restored.released) == (0, 0, (f"{WCC_DIR}/run.json",))
    assert quarantine_rows(warehouse).empty


# --- the data graph -----------------------------------------------------------------------------------------------


@dataclass
class Run:
    result: LandResult
    metadata: dict[str, dict[str, Any]]
    logs: list[tuple[int, str]]  # (level, message) of the run's user log lines
    quarantine: dict[str, str]  # path -> reason in raw_file_quarantine right after the run

    def warnings(self) -> list[str]:
        return [m for level, m in self.logs if level == logging.WARNING]

    def check(self, asset: str) -> dg.AssetCheckEvaluation:
        (evaluation,) = [
            e
            for e in self.result.get_asset_check_evaluations()
            if e.asset_key.to_user_string() == asset and e.check_name == QUARANTINE_CHECK
        ]
        return evaluation


def run(plane: DataPlane) -> Run:
    instance = dg.DagsterInstance.ephemeral()
    result = plane.materialize(instance)
    logs = [(e.level, e.user_message) for i in result.run_ids for e in instance.all_logs(i) if not e.is_dagster_event]
    quarantine = dict(plane.rows(f"SELECT path, reason FROM {RAW_FILE_QUARANTINE.name}"))
    return Run(result, metadata_by_asset(result), logs, quarantine)


def items_in(folder: Path) -> int:
    return sum(len(json.loads(p.read_bytes())) for p in folder.glob("*.json") if p.is_file())


@pytest.fixture(scope="module")
def bad_then_fixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataPlane, Run, Run, int]:
    """A run with every bad-file case in the website stream's folder, then a run after each file was fixed."""
    plane = build_data_plane(tmp_path_factory.mktemp("quarantine"))
    folder = plane.samples / WCC_DIR
    good_items = items_in(folder)
    for name in PIPELINE_CASES:
        write_bad(folder, name, BAD_FILES[name][0])
    first = run(plane)
    for name in PIPELINE_CASES:
        path = folder / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        write(folder, name, [website_item(path.stem)])
    return plane, first, run(plane), good_items


@pytest.mark.slow
def test_bad_files_are_skipped_and_the_whole_graph_runs(bad_then_fixed) -> None:
    plane, first, _, good_items = bad_then_fixed
    assert first.result.success
    assert {"documents", "chunks", "chunk_vectors"} <= set(first.metadata)
    raw = first.metadata[RAW_WCC]
    assert raw["rows_inserted"] == good_items and raw["dagster/row_count"] == good_items
    assert raw["files_quarantined"] == len(PIPELINE_CASES)
    assert all(
        first.metadata[a]["files_quarantined"] == 0 for a in first.metadata if a.startswith("raw_") and a != RAW_WCC
    )

    docs = plane.rows(f"SELECT COUNT(*) FROM documents WHERE source = '{APIFY_WEBSITE_CONTENT}'")[0][0]
    chunks = plane.rows(f"SELECT COUNT(*) FROM chunks WHERE source = '{APIFY_WEBSITE_CONTENT}'")[0][0]
    assert docs > 0 and chunks >= docs
    vectors = first.metadata["chunk_vectors"]
    assert vectors["vectors_total"] == first.metadata["chunks"]["dagster/row_count"] > 0

    # Nothing was retried: a bad file is permanent, so the raw step neither raised nor asked for a retry.
    retries = [e for e in first.result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert retries == []


@pytest.mark.slow
def test_the_quarantine_table_log_and_check_name_each_file(bad_then_fixed) -> None:
    _, first, _, _ = bad_then_fixed
    table = first.quarantine
    assert set(table) == {f"{WCC_DIR}/{name}" for name in PIPELINE_CASES}
    for name in PIPELINE_CASES:
        path, reason = f"{WCC_DIR}/{name}", BAD_FILES[name][1]
        assert reason in table[path], (path, table[path])
        (line,) = [w for w in first.warnings() if path in w]
        assert "quarantined" in line and table[path] in line

    check = first.check(RAW_WCC)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    listed = check.metadata["quarantined_files"].value
    assert {f["path"]: f["reason"] for f in listed} == table
    assert check.metadata["files_quarantined"].value == len(PIPELINE_CASES)
    assert all(first.check(a).passed for a in first.metadata if a.startswith("raw_") and a != RAW_WCC)


@pytest.mark.slow
def test_fixed_files_land_on_the_next_run_and_the_check_passes(bad_then_fixed) -> None:
    plane, _, second, good_items = bad_then_fixed
    raw = second.metadata[RAW_WCC]
    assert raw["rows_inserted"] == len(PIPELINE_CASES) and raw["files_quarantined"] == 0
    assert raw["dagster/row_count"] == good_items + len(PIPELINE_CASES)
    assert second.check(RAW_WCC).passed
    assert second.quarantine == {}
    fixed_docs = plane.rows("SELECT COUNT(*) FROM documents WHERE url LIKE 'https://fixed.example/%'")[0][0]
    assert fixed_docs == len(PIPELINE_CASES)
    released = [m for _, m in second.logs if "left the quarantine" in m]
    assert len(released) == len(PIPELINE_CASES)


@pytest.mark.slow
def test_missing_stream_folder_runs_the_rest_and_strays_warn_once_each(tmp_path: Path) -> None:
    plane = build_data_plane(tmp_path)
    shutil.rmtree(plane.samples / "phantombuster" / "linkedin-search-export")
    strays = {
        "notes.txt": "a file at the top level",
        "hubspot": "an unknown source folder",
        "apify/google-maps-scraper": "an unknown apify stream",
        "phantombuster/result.json": "payload files belong in a stream folder",
        "tavily/README.md": "only *.json payload files",
    }
    (plane.samples / "notes.txt").write_text("todo")
    write(plane.samples, "hubspot/contacts.json", [])
    write(plane.samples, "apify/google-maps-scraper/run.json", [])
    write(plane.samples, "phantombuster/result.json", [])
    (plane.samples / "tavily" / "README.md").write_text("queries")

    done = run(plane)

    assert done.result.success
    pb = done.metadata["raw_phantombuster_linkedin_search"]
    assert pb["batches"] == 0 and pb["dagster/row_count"] == 0
    assert [m for _, m in done.logs if m.startswith(PHANTOMBUSTER_LINKEDIN_SEARCH)] == [
        f"{PHANTOMBUSTER_LINKEDIN_SEARCH}: no new data"
    ]
    assert all(done.metadata[a]["rows_inserted"] > 0 for a in done.metadata if a.startswith("raw_apify"))
    sources = {s for (s,) in plane.rows("SELECT DISTINCT source FROM documents")}
    assert len(sources) == 3 and PHANTOMBUSTER_LINKEDIN_SEARCH not in sources
    assert done.metadata["chunk_vectors"]["vectors_total"] > 0

    layout = [w for w in done.warnings() if w.startswith("samples layout:")]
    assert len(layout) == len(strays), layout
    for rel, why in strays.items():
        (line,) = [w for w in layout if f" {rel} under " in w]
        assert why in line, line
