"""Give the memory a step freed back to the OS before the next step of the same process starts.

In an in-process run (`python -m sophia_pipelines.land`, `dg.materialize`, tests) every step runs in one process,
so a step starts from the high-water mark its predecessors left: CPython and glibc keep freed heap pages for
reuse rather than returning them. The data-plane jobs run this after each step, succeeded or failed: a full
garbage collection, then `malloc_trim(0)`, which hands free heap pages back (glibc only; a no-op elsewhere).
In a process per step (multiprocess executor, `k8s_job_executor` pods) it costs a few milliseconds and changes
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable
from functools import cache

import dagster as dg


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)


def release_memory() -> bool:
    """Collect garbage and return free heap pages to the OS; whether the C library released any."""
    gc.collect()
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


@dg.success_hook(name="release_memory_after_success")
def release_memory_after_success(_context: dg.HookContext) -> None:
    release_memory()


@dg.failure_hook(name="release_memory_after_failure")
def release_memory_after_failure(_context: dg.HookContext) -> None:
    release_memory()


RELEASE_MEMORY_HOOKS = {release_memory_after_success, release_memory_after_failure}
