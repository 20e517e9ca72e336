"""Killed runs end by themselves: run monitoring with `LocalRunLauncher` (dagster.yaml) fails runs whose process died.

The end-to-end test starts a real `dagster-daemon` on a temp instance configured from the repo's dagster.yaml (only
the monitoring/dequeue intervals shortened) and kills data-plane run workers mid-step with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import psutil
import pytest
import yaml
from dagster._core.launcher import WorkerStatus

from sophia_pipelines.concurrency import DATA_PLANE_POOL
from sophia_pipelines.run_health import LocalRunLauncher, RunWorker, end_dead_runs, run_worker, worker_status

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFS_MODULE = "tests.run_worker_defs"
WAIT_SECONDS = 60.0


def instance_config(**run_monitoring: int) -> dict:
    """The repo's dagster.yaml, with `run_monitoring` settings overridden and a 1 s dequeue interval."""
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    config["run_monitoring"].update(run_monitoring)
    config["run_coordinator"] = {
        "module": "dagster.core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {"dequeue_interval_seconds": 1},
    }
    return config


def make_home(path: Path, config: dict) -> dg.DagsterInstance:
    """A DAGSTER_HOME with `config`; storage is created here, before any subprocess races to create it."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text(yaml.safe_dump(config))
    return dg.DagsterInstance.from_config(str(path))


@dg.op
def noop() -> None:
    pass


@dg.job
def noop_job() -> None:
    noop()


# --- configuration and the health check itself ------------------------------------------------------------------


def test_repo_instance_monitors_runs_with_the_local_launcher(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    with make_home(tmp_path, config) as instance:
        assert isinstance(instance.run_launcher, LocalRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1
        assert pools.pool_granularity is not None and pools.pool_granularity.value == "op"


def test_health_check_follows_the_pid_of_the_run_start(tmp_path: Path) -> None:
    with make_home(tmp_path, yaml.safe_load((REPO / "dagster.yaml").read_text())) as instance:
        run = noop_job.execute_in_process(instance=instance).dagster_run
        worker = run_worker(instance, run.run_id)
        assert worker is not None and worker.pid == os.getpid()
        health = instance.run_launcher.check_run_worker_health(run)
        assert health.status == WorkerStatus.RUNNING
        assert health.run_worker_id == str(os.getpid())

        never_started = instance.create_run_for_job(noop_job)
        assert run_worker(instance, never_started.run_id) is None
        assert instance.run_launcher.check_run_worker_health(never_started).status == WorkerStatus.RUNNING


def test_worker_status_alive_dead_zombie_and_reused_pid() -> None:
    me = psutil.Process()
    assert worker_status(RunWorker(me.pid, time.time()))[0] == WorkerStatus.RUNNING
    # The run started a minute before this process existed: the pid belongs to someone else now.
    status, message = worker_status(RunWorker(me.pid, me.create_time() - 60))
    assert status == WorkerStatus.FAILED and "newer process" in message

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = time.time()
    child.kill()
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.02)
    status, message = worker_status(RunWorker(child.pid, started))
    assert status == WorkerStatus.FAILED and "zombie" in message
    child.wait()
    status, message = worker_status(RunWorker(child.pid, started))
    assert status == WorkerStatus.FAILED and "no longer running" in message


def test_end_dead_runs_fails_a_killed_run_and_frees_its_pool_slot(tmp_path: Path) -> None:
    """Without a daemon (the demo): a killed run's claimed pool slot would block the next data run forever."""
    markers = tmp_path / "markers"
    markers.mkdir()
    home = tmp_path / "home"
    with make_home(home, yaml.safe_load((REPO / "dagster.yaml").read_text())) as instance:
        env = {**os.environ, "DAGSTER_HOME": str(home), "RUN_HEALTH_DIR": str(markers), "PYTHONPATH": str(REPO)}
        script = (
            "import dagster as dg\n"
            f"from {DEFS_MODULE} import hold_data_plane\n"
            "hold_data_plane.execute_in_process(instance=dg.DagsterInstance.get())\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env)
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            while not list(markers.glob("*.pid")) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            proc.kill()
            proc.wait()
        (marker,) = markers.glob("*.pid")
        run_id = marker.stem
        pool = instance.event_log_storage.get_concurrency_info(DATA_PLANE_POOL)
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
        assert [slot.run_id for slot in pool.claimed_slots] == [run_id]

        assert end_dead_runs(instance) == [run_id]
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info(DATA_PLANE_POOL).claimed_slots == []
        assert end_dead_runs(instance) == []


# --- end to end: a daemon, queued runs and CLI runs, SIGKILL ------------------------------------------------------


class Deployment:
    """A temp instance, the tiny code location of tests/run_worker_defs.py and a running `dagster-daemon`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.markers = root / "markers"
        self.markers.mkdir()
        self.instance = make_home(
            root / "home", instance_config(poll_interval_seconds=1, free_slots_after_run_end_seconds=1)
        )
        self.workspace = root / "workspace.yaml"
        self.workspace.write_text(
            yaml.safe_dump(
                {
                    "load_from": [
                        {
                            "python_module": {
                                "module_name": DEFS_MODULE,
                                "working_directory": str(REPO),
                                "location_name": "run_health",
                            }
                        }
                    ]
                }
            )
        )
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(root / "home"),
            "RUN_HEALTH_DIR": str(self.markers),
            "PYTHONPATH": str(REPO),
        }
        self.daemon_log = root / "daemon.log"
        self.daemon: subprocess.Popen | None = None

    def start_daemon(self) -> None:
        with self.daemon_log.open("wb") as log:
            self.daemon = self.spawn([str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)], log)

    def spawn(self, args: list[str], log) -> subprocess.Popen:
        """A subprocess in its own session, so stopping it takes its children along."""
        return subprocess.Popen(
            args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self, proc: subprocess.Popen | None) -> None:
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def launch(self, job: str) -> str:
        """Submit `job` to the run queue (as the UI does); returns the run id."""
        run_id = str(uuid.uuid4())
        args = [str(BIN / "dagster"), "job", "launch", "-w", str(self.workspace), "-j", job, "--run-id", run_id]
        done = subprocess.run(args, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=WAIT_SECONDS)
        assert done.returncode == 0, done.stderr[-2000:]
        return run_id

    def status(self, run_id: str) -> dg.DagsterRunStatus | None:
        run = self.instance.get_run_by_id(run_id)
        return run.status if run else None

    def wait_for(self, condition: Callable[[], object], what: str) -> object:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if value := condition():
                return value
            time.sleep(0.2)
        tail = self.daemon_log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"timed out waiting for {what}; daemon log tail:\n{tail}")

    def wait_for_status(self, run_id: str, status: dg.DagsterRunStatus) -> None:
        self.wait_for(lambda: self.status(run_id) == status, f"run {run_id} to reach {status.value}")

    def worker_pid(self, run_id: str) -> int:
        """The pid the run's op recorded (its run worker), once the op holds the data-plane pool."""
        marker = self.markers / f"{run_id}.pid"
        self.wait_for(marker.exists, f"run {run_id} to start its op")
        return int(marker.read_text())

    def failure_message(self, run_id: str) -> str:
        records = self.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        return " ".join(r.event_log_entry.message for r in records)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path)
    deployment.start_daemon()
    try:
        yield deployment
    finally:
        deployment.stop(deployment.daemon)
        deployment.instance.dispose()


@pytest.mark.slow
def test_killed_runs_fail_by_themselves_and_free_the_queue_and_the_pool(deployment: Deployment) -> None:
    d = deployment
    done = d.markers

    # 1. A queued data run is killed mid-step; the next queued data run waits behind it, then runs.
    held = d.launch("hold_data_plane")
    pid = d.worker_pid(held)
    waiting = d.launch("pass_data_plane")
    assert d.status(held) == dg.DagsterRunStatus.STARTED
    assert d.status(waiting) == dg.DagsterRunStatus.QUEUED  # the `sophia/plane: data` limit holds it
    os.kill(pid, signal.SIGKILL)
    d.wait_for_status(held, dg.DagsterRunStatus.FAILURE)
    d.wait_for_status(waiting, dg.DagsterRunStatus.SUCCESS)  # needed the pool slot the killed run held
    assert (done / f"{waiting}.done").exists()

    # 2. A data run from `dagster job execute` (no queue, no code server watching it) is killed mid-step.
    tags = json.dumps({"test/case": "cli"})
    with (d.root / "cli.log").open("wb") as log:
        cli = d.spawn(
            [str(BIN / "dagster"), "job", "execute", "-m", DEFS_MODULE, "-j", "hold_data_plane", "--tags", tags], log
        )
    try:
        runs = d.wait_for(lambda: d.instance.get_runs(dg.RunsFilter(tags={"test/case": "cli"})), "the CLI run")
        cli_run = runs[0].run_id
        assert d.worker_pid(cli_run) == cli.pid
        queued = d.launch("pass_data_plane")
        assert d.status(queued) == dg.DagsterRunStatus.QUEUED
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait()
    finally:
        d.stop(cli)
    d.wait_for_status(cli_run, dg.DagsterRunStatus.FAILURE)
    assert f"run worker pid {cli.pid}" in d.failure_message(cli_run)
    d.wait_for_status(queued, dg.DagsterRunStatus.SUCCESS)
    assert (done / f"{queued}.done").exists()
    assert d.instance.event_log_storage.get_concurrency_info(DATA_PLANE_POOL).claimed_slots == []
