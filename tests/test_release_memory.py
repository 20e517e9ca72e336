"""Data-plane jobs give the memory a step freed back to the OS after every step, succeeded or failed."""

from __future__ import annotations

import dagster as dg
import pytest

from sophia_pipelines import release_memory as rm
from sophia_pipelines.jobs import data_pipeline_job
from sophia_pipelines.streams import STREAMS
from sophia_platform.loader import load_platform


def test_every_data_plane_job_releases_memory_after_each_step() -> None:
    defs = load_platform()
    for name in [data_pipeline_job.name, *(s.land_job_name for s in STREAMS)]:
        hooks = {hook.name for hook in defs.resolve_job_def(name).hook_defs}
        assert {"release_memory_after_success", "release_memory_after_failure"} <= hooks, name


def test_the_hooks_run_after_a_step_that_succeeded_and_one_that_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(rm, "release_memory", lambda: calls.append("released") or True)

    @dg.op
    def works() -> int:
        return 1

    @dg.op
    def fails(_value: int) -> None:
        raise RuntimeError("boom")

    @dg.job(hooks=rm.RELEASE_MEMORY_HOOKS)
    def two_steps() -> None:
        fails(works())

    assert not two_steps.execute_in_process(raise_on_error=False).success
    assert calls == ["released", "released"]


def test_release_memory_trims_the_heap_with_glibc() -> None:
    assert rm._malloc_trim() is not None  # this image's C library is glibc: the trim is real, not skipped
    assert isinstance(rm.release_memory(), bool)


def test_release_memory_also_empties_pyarrows_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa

    released: list[str] = []

    class Pool:
        def release_unused(self) -> None:
            released.append("pool")

    monkeypatch.setattr(pa, "default_memory_pool", lambda: Pool())
    rm.release_memory()
    assert released == ["pool"]  # mimalloc keeps what a step's Arrow tables freed until asked
