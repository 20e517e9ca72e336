"""One data-plane writer on every launch path: the `sophia/data-plane` pool serializes data steps across runs.

Two `dagster asset materialize` processes (which bypass the run queue and its `sophia/plane` tag limit) embed the
same pending chunks at once, against one temp instance configured by the repo's dagster.yaml and one set of DuckDB
files. The pool lets one step run at a time, so the chunks are embedded once in total and DuckDB never sees two
writers.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from resources.payloads import BUNDLED_SAMPLES_DIR
from resources.registry import local_resources
from sophia_pipelines.assets.warehouse import build_warehouse_assets
from sophia_pipelines.concurrency import DATA_PLANE_POOL
from sophia_pipelines.jobs import data_pipeline_job
from sophia_pipelines.land import land_sources
from sophia_platform.loader import load_platform

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).parent / "dagster"
RUN_TIMEOUT_SECONDS = 180
MAX_RACES = 3


def test_every_data_plane_step_claims_the_pool(tmp_path: Path) -> None:
    defs = load_platform("local", resources=local_resources(tmp_path / "data", BUNDLED_SAMPLES_DIR))
    job = defs.resolve_job_def(data_pipeline_job.name)
    pools = {node.name: node.definition.pool for node in job.graph.nodes}
    assert len(pools) >= 6  # assets and asset checks
    assert {name for name, pool in pools.items() if pool != DATA_PLANE_POOL} == set()


def step_windows(instance: dg.DagsterInstance, run_id: str) -> list[tuple[float, float, str]]:
    """(start, end, step) of every step of the run, from its event log."""
    starts: dict[str, float] = {}
    windows = []
    for record in instance.get_records_for_run(run_id).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            windows.append((starts[event.step_key], entry.timestamp, event.step_key))
    return windows


def pool_waits(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
    message = f"blocked by limit for pool {DATA_PLANE_POOL}"
    return [r.event_log_entry.step_key or "" for r in records if message in (r.event_log_entry.message or "")]


def race_two_materializations(home: Path, env: dict[str, str], chunks: int) -> bool:
    """Two `dagster asset materialize` processes at once on a fresh instance in `home`; asserts every chunk is
    embedded exactly once and no two data steps overlapped; returns whether the runs contended for the pool."""
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**env, "DAGSTER_HOME": str(home)}
    with dg.DagsterInstance.from_config(str(home)) as instance:  # creates the storage before the processes race
        assert yaml.safe_load((home / "dagster.yaml").read_text())["concurrency"]["pools"]["default_limit"] == 1
        args = [str(DAGSTER), "asset", "materialize", "-m", "sophia_platform.definitions", "--select", "chunk_vectors"]
        procs = [
            subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=RUN_TIMEOUT_SECONDS)[0] for p in procs]
        for proc, output in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, output[-3000:]

        runs = instance.get_runs()
        assert len(runs) == 2
        assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
        embedded = {
            record.run_id: record.asset_materialization.metadata["chunks_embedded"].value
            for record in instance.fetch_materializations(dg.AssetKey("chunk_vectors"), limit=10).records
        }
        assert sorted(embedded.values()) == [0, chunks]  # one run embedded everything, the other found nothing

        # No two data steps ever ran at the same time.
        windows = sorted(w for r in runs for w in step_windows(instance, r.run_id))
        assert len(windows) == 4  # chunk_vectors and its check, in each run
        for (_, end, step), (start, _, next_step) in itertools.pairwise(windows):
            assert end <= start, f"{step} and {next_step} ran at the same time"
        return any(pool_waits(instance, r.run_id) for r in runs)


@pytest.mark.slow
def test_two_materializations_at_once_embed_each_chunk_once(tmp_path: Path) -> None:
    samples, data = tmp_path / "samples", tmp_path / "data"
    shutil.copytree(BUNDLED_SAMPLES_DIR, samples)
    # Land raw -> documents -> chunks first (in process), so every chunk is pending embedding.
    defs = load_platform("local", resources=local_resources(data, samples))
    assert land_sources(defs, dg.DagsterInstance.ephemeral()).success
    dg.materialize(build_warehouse_assets("duckdb"), resources=defs.resources)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        chunks = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert chunks > 100

    env = {
        **os.environ,
        "SOPHIA_ENV": "local",
        "SOPHIA_DATA_DIR": str(data),
        "SOPHIA_SAMPLES_DIR": str(samples),
        "PYTHONPATH": str(REPO),
    }
    # Whether the OS starts the two processes close enough together to overlap is not ours to decide: each attempt
    # asserts the outcome, and the test needs at least one attempt where the runs really contended for the pool.
    for attempt in range(MAX_RACES):
        if race_two_materializations(tmp_path / f"home-{attempt}", env, chunks):
            return
        (data / "vectors.duckdb").unlink()  # every chunk pending again for the next race
        with duckdb.connect(str(data / "warehouse.duckdb")) as con:
            con.execute("DELETE FROM vector_ledger")
    pytest.fail(f"the two runs never contended for the pool in {MAX_RACES} races")
