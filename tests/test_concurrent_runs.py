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
import time
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


@pytest.mark.slow
def test_two_materializations_at_once_embed_each_chunk_once(tmp_path: Path) -> None:
    samples, data, home = tmp_path / "samples", tmp_path / "data", tmp_path / "home"
    shutil.copytree(BUNDLED_SAMPLES_DIR, samples)
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    # Land raw -> documents -> chunks first (in process), so every chunk is pending embedding.
    defs = load_platform("local", resources=local_resources(data, samples))
    instance = dg.DagsterInstance.ephemeral()
    assert land_sources(defs, instance).success
    dg.materialize(build_warehouse_assets("duckdb"), resources=defs.resources, instance=instance)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        chunks = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert chunks > 100

    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SOPHIA_ENV": "local",
        "SOPHIA_DATA_DIR": str(data),
        "SOPHIA_SAMPLES_DIR": str(samples),
        "PYTHONPATH": str(REPO),
    }
    with dg.DagsterInstance.from_config(str(home)) as instance:  # creates the storage before the processes race
        assert yaml.safe_load((home / "dagster.yaml").read_text())["concurrency"]["pools"]["default_limit"] == 1
        # The test holds the pool's one slot while both processes start, so both runs are in flight at once and must
        # wait for it (contention is certain, not a matter of timing); it frees the slot once both runs exist.
        storage = instance.event_log_storage
        assert storage.initialize_concurrency_limit_to_default(DATA_PLANE_POOL)  # the default_limit (1) above
        assert storage.claim_concurrency_slot(DATA_PLANE_POOL, "test-holder", "hold").is_claimed
        args = [str(DAGSTER), "asset", "materialize", "-m", "sophia_platform.definitions", "--select", "chunk_vectors"]
        procs = [
            subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)
        ]
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not all(p.poll() is not None for p in procs):
            if len(instance.get_runs()) == 2:
                break
            time.sleep(0.5)
        in_flight_while_held = [r.status for r in instance.get_runs()]
        storage.free_concurrency_slot_for_step("test-holder", "hold")
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

        # Both runs were in flight while the pool was held (neither had finished), and no two data steps ever ran at
        # the same time: the pool, not luck, serialized them.
        assert len(in_flight_while_held) == 2, "both runs must exist while the test holds the pool"
        assert dg.DagsterRunStatus.SUCCESS not in in_flight_while_held, in_flight_while_held
        windows = sorted(w for r in runs for w in step_windows(instance, r.run_id))
        assert len(windows) == 4  # chunk_vectors and its check, in each run
        for (_, end, step), (start, _, next_step) in itertools.pairwise(windows):
            assert end <= start, f"{step} and {next_step} ran at the same time"
