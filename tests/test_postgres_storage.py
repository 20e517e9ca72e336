"""The data plane on a real PostgreSQL with the production instance's storage (deploy/dagster.yaml).

A throwaway cluster (tests/postgres_cluster.py) stands in for the chart's database: the storage sections of
deploy/dagster.yaml are used as they are except for the host and port, so the password comes from
DAGSTER_PG_PASSWORD as in production. The data plane lands a stream's bundled sample runs and brings documents,
chunks and vectors up to date; a fresh instance object then finds the runs, their events, the materializations and
the dynamic partitions; two runs at once share the `sophia/data-plane` pool through Postgres. Never skipped: a
cluster that cannot start fails the test with the reason.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from deploy.chart import INSTANCE_PATH, load_yaml
from sophia_pipelines.concurrency import DATA_PLANE_POOL
from sophia_pipelines.partitions import DATA_PLANE_TAGS
from sophia_pipelines.streams import LINKEDIN_SEARCH
from tests.conftest import DataPlane, build_data_plane
from tests.postgres_cluster import PostgresCluster, postgres_cluster
from tests.test_concurrent_runs import step_windows

pytestmark = pytest.mark.slow

STORAGE_SECTIONS = ("run_storage", "event_log_storage", "schedule_storage")
PASSWORD_ENV = "DAGSTER_PG_PASSWORD"
RUN_TIMEOUT_S = 120
CONTENDED_JOB = dg.define_asset_job("documents_again", selection=["documents"])  # one pool step (+ its checks)
STREAMS = (LINKEDIN_SEARCH,)  # one small stream (two sample runs): the storage is under test, not the stages


def instance_yaml(cluster: PostgresCluster) -> dict[str, Any]:
    """deploy/dagster.yaml's storages (pointed at `cluster`) and concurrency pools; the local run launcher."""
    production = load_yaml(INSTANCE_PATH)
    config: dict[str, Any] = {"telemetry": production["telemetry"], "concurrency": production["concurrency"]}
    for section in STORAGE_SECTIONS:
        storage = production[section]
        db = dict(storage["config"]["postgres_db"], hostname=cluster.host, port=cluster.port)
        assert db["password"] == {"env": PASSWORD_ENV}  # the credential stays out of the file
        config[section] = {**storage, "config": {**storage["config"], "postgres_db": db}}
    return config


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as running:
        running.create_database(load_yaml(INSTANCE_PATH)["run_storage"]["config"]["postgres_db"]["db_name"])
        yield running


@pytest.fixture(scope="module")
def dagster_home(cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml(cluster)), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PASSWORD_ENV, cluster.password)
        yield home


def open_instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


@pytest.fixture(scope="module")
def landed(dagster_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[DataPlane, list[str]]:
    """Every bundled sample run landed and brought downstream, recorded in Postgres; the run ids."""
    plane = build_data_plane(tmp_path_factory.mktemp("plane"), streams=STREAMS)
    with open_instance(dagster_home) as instance:
        result = plane.materialize(instance)
    return plane, [run.run_id for run in result.runs]


def test_the_instance_is_postgres_backed(dagster_home: Path) -> None:
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    with open_instance(dagster_home) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)


def test_runs_events_and_materializations_survive_a_new_instance(
    dagster_home: Path, landed: tuple[DataPlane, list[str]]
) -> None:
    plane, run_ids = landed
    assert len(run_ids) >= 2  # the land jobs and the downstream data_pipeline run
    with open_instance(dagster_home) as instance:  # a new instance object: everything below comes from Postgres
        runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=run_ids))}
        assert set(runs) == set(run_ids)
        assert {run.status for run in runs.values()} == {dg.DagsterRunStatus.SUCCESS}
        for run_id in run_ids:
            types = {r.event_log_entry.dagster_event_type for r in instance.get_records_for_run(run_id).records}
            assert {dg.DagsterEventType.RUN_START, dg.DagsterEventType.RUN_SUCCESS} <= types
        for key in ("documents", "chunks", "chunk_vectors"):
            records = instance.fetch_materializations(dg.AssetKey(key), limit=1).records
            assert records, f"no materialization of {key} in Postgres"
            assert records[0].run_id in run_ids
        chunks = instance.fetch_materializations(dg.AssetKey("chunks"), limit=1).records[0]
        assert chunks.asset_materialization is not None and chunks.asset_materialization.metadata
        landed_partitions = {s.name: instance.get_dynamic_partitions(s.partitions_name) for s in plane.streams}
        assert all(landed_partitions.values()), landed_partitions  # the source runs of every stream


def _run_worker(home: str, plane: DataPlane, barrier: Any, out: Any) -> None:
    """One run worker process: its own instance (own connections), started together with the other one."""
    defs = plane.definitions()
    job = dg.Definitions.merge(defs, dg.Definitions(jobs=[CONTENDED_JOB])).resolve_job_def(CONTENDED_JOB.name)
    with open_instance(Path(home)) as instance:
        barrier.wait(timeout=60)
        result = job.execute_in_process(instance=instance, tags=DATA_PLANE_TAGS, raise_on_error=False)
        out.put((result.run_id, result.success))


def test_two_runs_at_once_share_the_data_plane_pool(dagster_home: Path, landed: tuple[DataPlane, list[str]]) -> None:
    plane, _ = landed
    ctx = multiprocessing.get_context("fork")  # two run workers without re-importing the project
    barrier, out = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_run_worker, args=(str(dagster_home), plane, barrier, out)) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        outcomes = dict(out.get(timeout=RUN_TIMEOUT_S) for _ in workers)
    finally:
        for w in workers:
            w.join(timeout=10)
            if w.is_alive():
                w.kill()
    assert list(outcomes.values()) == [True, True], outcomes
    with open_instance(dagster_home) as instance:
        windows = sorted((*w, run_id) for run_id in outcomes for w in step_windows(instance, run_id))
        assert {w[-1] for w in windows} == set(outcomes) and len(windows) >= 2
        for (_, end, step, run_a), (start, _, nxt, run_b) in itertools.pairwise(windows):
            assert end <= start, f"{step} ({run_a}) and {nxt} ({run_b}) overlapped despite the pool"
        info = instance.event_log_storage.get_concurrency_info(DATA_PLANE_POOL)
        assert info.slot_count == 1 and not info.claimed_slots  # every slot claimed through Postgres was freed
