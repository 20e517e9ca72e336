"""Run-worker health for the local instance, so Dagster's run monitoring can end runs whose process died.

Dagster's run monitoring (the daemon's MONITORING loop, `run_monitoring` in dagster.yaml) asks the run launcher
whether each STARTED run's worker is alive and marks the run failed when it is not. `DefaultRunLauncher` cannot
answer, so a run whose process was killed (kill -9, the OOM killer, a reboot, `dagster dev` killed together
with its code server) stayed STARTED forever, holding a slot of the run queue and of its concurrency pools.

`LocalRunLauncher` launches exactly like `DefaultRunLauncher` and answers the health check from the run's own
event log: the latest RUN_START event carries the pid of the process that runs the job (the gRPC server's run
worker for launched runs; the CLI process for `dagster job execute` / `dagster asset materialize`), so runs from
every launch path are covered. A pid counts as alive only if the process exists, is not a zombie and started no
later than the run did (pids are reused). The check assumes the daemon shares a host with the run workers, which
is what a local instance is; production uses `K8sRunLauncher`, which checks the run's Kubernetes Job instead.

`end_dead_runs` does the same once, without the daemon, for entry points that run on the instance directly (the
demo): a killed run must not leave a `sophia/data-plane` pool slot claimed that the next run would wait on forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psutil
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, DefaultRunLauncher, RunsFilter
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

# A process whose start time lies this far after its run's RUN_START event is a newer process with a reused pid.
# Generous: process start times are tick-rounded and the event is stamped after the process started.
PID_REUSE_TOLERANCE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class RunWorker:
    """The process that started a run: its pid and when the run started (epoch seconds)."""

    pid: int
    run_started_at: float

    def describe(self) -> str:
        started = datetime.fromtimestamp(self.run_started_at, UTC).isoformat(timespec="seconds")
        return f"run worker pid {self.pid} (run started {started})"


def run_worker(instance: DagsterInstance, run_id: str) -> RunWorker | None:
    """The worker of the run's latest start (a resumed or re-executed worker writes a new RUN_START), or None."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_START, limit=1, ascending=False)
    if not records.records:
        return None
    entry = records.records[0].event_log_entry
    pid = entry.dagster_event.pid if entry.dagster_event else None
    return RunWorker(pid, entry.timestamp) if pid else None


def worker_status(worker: RunWorker) -> tuple[WorkerStatus, str]:
    """RUNNING while the worker's process lives; FAILED once it is gone, a zombie, or its pid was reused."""
    try:
        process = psutil.Process(worker.pid)
        status = process.status()
        created = process.create_time()
    except psutil.NoSuchProcess:
        return WorkerStatus.FAILED, f"{worker.describe()} is no longer running"
    except psutil.AccessDenied:
        return WorkerStatus.RUNNING, f"{worker.describe()} exists (owned by another user)"
    if status == psutil.STATUS_ZOMBIE:
        return WorkerStatus.FAILED, f"{worker.describe()} has exited (zombie process)"
    if created > worker.run_started_at + PID_REUSE_TOLERANCE_SECONDS:
        return WorkerStatus.FAILED, f"{worker.describe()} is gone; its pid now belongs to a newer process"
    return WorkerStatus.RUNNING, f"{worker.describe()} is running"


class LocalRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` that can tell run monitoring whether a run's worker process is still alive."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        worker = run_worker(self._instance, run.run_id)
        if worker is None:
            # Nothing to judge by: leave the run alone (a `dagster/max_runtime` tag still bounds it).
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no RUN_START event records the run worker's pid")
        status, message = worker_status(worker)
        return CheckRunHealthResult(status, message, run_worker_id=str(worker.pid))


def dead_worker(instance: DagsterInstance, run_id: str) -> str | None:
    """Why the run's worker is dead, or None while it lives (or when no RUN_START records it)."""
    worker = run_worker(instance, run_id)
    if worker is None:
        return None
    status, message = worker_status(worker)
    return message if status == WorkerStatus.FAILED else None


def end_dead_runs(instance: DagsterInstance) -> list[str]:
    """Fail every STARTED run whose worker is gone, and free the pool slots still held by finished runs whose
    worker is gone (what the daemon's run monitoring does, once). Returns the ids of the runs it failed."""
    ended = []
    for record in instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        run_id = record.dagster_run.run_id
        if (message := dead_worker(instance, run_id)) is not None:
            failure = f"Detected run worker status FAILED: '{message}'. Marking run {run_id} as failed."
            instance.report_run_failed(record.dagster_run, failure)
            ended.append(run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids():
            run = instance.get_run_by_id(run_id)
            if run is not None and run.is_finished and dead_worker(instance, run_id) is not None:
                storage.free_concurrency_slots_for_run(run_id)
    return ended
