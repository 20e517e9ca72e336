"""A tiny code location for tests/test_run_health.py: data-plane jobs that hold or pass through the data-plane pool.

`hold_data_plane` records its run worker's pid in $RUN_HEALTH_DIR/<run_id>.pid and then waits to be killed;
`pass_data_plane` writes $RUN_HEALTH_DIR/<run_id>.done. Both carry the data-plane run tag and pool.
"""

import os
import time
from pathlib import Path

import dagster as dg

from sophia_pipelines.concurrency import DATA_PLANE_POOL

DATA_RUN_TAGS = {"sophia/plane": "data"}
HOLD_SECONDS = 120.0


def _marker(context: dg.OpExecutionContext, suffix: str) -> Path:
    return Path(os.environ["RUN_HEALTH_DIR"]) / f"{context.run_id}.{suffix}"


@dg.op(pool=DATA_PLANE_POOL)
def hold(context: dg.OpExecutionContext) -> None:
    """Record this process's pid, then wait (the test kills the process long before the deadline)."""
    _marker(context, "pid").write_text(str(os.getpid()))
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.1)
    raise RuntimeError("the run worker was expected to be killed")


@dg.op(pool=DATA_PLANE_POOL)
def pass_through(context: dg.OpExecutionContext) -> None:
    _marker(context, "done").write_text(str(os.getpid()))


@dg.job(tags=DATA_RUN_TAGS, executor_def=dg.in_process_executor)
def hold_data_plane() -> None:
    hold()


@dg.job(tags=DATA_RUN_TAGS, executor_def=dg.in_process_executor)
def pass_data_plane() -> None:
    pass_through()


defs = dg.Definitions(jobs=[hold_data_plane, pass_data_plane])
